from django.core.management.base import BaseCommand

from accounts.mfa import current_totp_code
from core.demo import DEMO_TOTP_SECRET


class Command(BaseCommand):
    help = "Print the current one-time code of the demo accounts' authenticator."

    def handle(self, *args, **options):
        self.stdout.write(current_totp_code(DEMO_TOTP_SECRET))
