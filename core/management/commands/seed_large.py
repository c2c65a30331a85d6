"""python manage.py seed_large: a large clinic in a database of its own."""

import time

from django.core.management.base import BaseCommand, CommandError

from accounts.roles import sync_roles
from core.bench import db
from core.bench.seed import LargeClinic


class Command(BaseCommand):
    help = (
        "Build a large, realistic clinic (default 2,000 patients, 26 weeks) in a "
        "separate database (iop_bench unless --database-url says otherwise), for "
        "`manage.py bench`. Never the application's own database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=2000)
        parser.add_argument("--weeks", type=int, default=26)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument(
            "--database-url",
            help="Where to build it; default: DATABASE_URL with the database name "
            f"replaced by {db.LARGE_DB}.",
        )
        parser.add_argument(
            "--keep",
            action="store_true",
            help="Add to the existing database instead of dropping and recreating it.",
        )
        parser.add_argument(
            "--here",
            action="store_true",
            help="Add to the database this process already uses (tests).",
        )

    def handle(self, *args, **options):
        if options["patients"] < 10 or options["weeks"] < 1:
            raise CommandError("--patients must be at least 10 and --weeks at least 1")
        if not options["here"]:
            url = options["database_url"] or db.url_with_name(
                db.base_url(), db.LARGE_DB
            )
            try:
                db.check_not_protected(url)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            t0 = time.monotonic()
            db.create_database(url, drop=not options["keep"])
            db.use_database(url)
            db.migrate()
            self.stdout.write(
                f"database {db.name_of(url)} ready in {time.monotonic() - t0:.1f} s"
            )
        sync_roles()
        clinic = LargeClinic(
            patients=options["patients"],
            weeks=options["weeks"],
            seed=options["seed"],
            stdout=self.stdout,
        )
        counts = clinic.run()
        for name, n in counts.items():
            self.stdout.write(f"  {n:>9,} {name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Large clinic written in {clinic.elapsed:.1f} s "
                f"({options['patients']} patients, {options['weeks']} weeks)."
            )
        )
