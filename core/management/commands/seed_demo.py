from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.roles import sync_roles
from core import demo


class Command(BaseCommand):
    help = "Create (or bring up to date) a small demo clinic. Safe to run again."

    def handle(self, *args, **options):
        sync_roles()
        with transaction.atomic():
            users = demo.seed_people()
            program = demo.seed_program()
            for step in demo_steps():
                step(users=users, program=program, stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo clinic ready. Logins:"))
        for email, name, _credentials, role in demo.PEOPLE:
            self.stdout.write(f"  {role:<14} {email:<26} ({name})")
        self.stdout.write(f"  password for all: {demo.password()}")
        self.stdout.write(
            f"  two-factor secret (authenticator app) for every clinic login: "
            f"{demo.DEMO_TOTP_SECRET}\n"
            f"  current code: manage.py demo_totp_code"
        )


def demo_steps():
    """Each app's demo data, in dependency order. Each step takes keyword
    arguments users (by email), program (rooms, tracks, topics) and stdout, and is
    safe to run again."""
    from patients.demo import seed_patients
    from portal.demo import seed_portal
    from sessions.demo import seed_schedule
    from sessions.demo_attendance import seed_attendance

    # The patients step (admitted demo patients) goes before the schedule, and
    # the schedule before attendance.
    return [seed_patients, seed_schedule, seed_attendance, seed_portal]
