from django.apps import AppConfig


class TherapySessionsConfig(AppConfig):
    name = "sessions"
    # Django's own django.contrib.sessions owns the label "sessions".
    label = "therapy_sessions"
    verbose_name = "Therapy sessions"
