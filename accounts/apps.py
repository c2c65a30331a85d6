from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import signals  # noqa: F401 - connects the receivers
        from .roles import sync_roles

        post_migrate.connect(sync_roles, sender=self)
