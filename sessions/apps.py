from django.apps import AppConfig


class TherapySessionsConfig(AppConfig):
    name = "sessions"
    # Django's own django.contrib.sessions owns the label "sessions".
    label = "therapy_sessions"
    verbose_name = "Therapy sessions"

    def ready(self):
        from django.db.models.signals import post_migrate

        from .summaries import sync_clinic_zone

        post_migrate.connect(sync_clinic_zone, sender=self)
