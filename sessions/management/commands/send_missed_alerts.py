from django.core.management.base import BaseCommand

from sessions.services.alerts import alerts_sweep


class Command(BaseCommand):
    help = (
        "Run one alert sweep now: create alerts for sessions missed since the last "
        "sweep and reminders for tomorrow, then deliver every pending alert that is "
        "due right here (or, with --queue, hand them to the Celery workers)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--queue",
            action="store_true",
            help="Queue the due alerts for the workers instead of sending them here.",
        )

    def handle(self, *args, **options):
        result = alerts_sweep(deliver_inline=not options["queue"])
        self.stdout.write(result.summary())
