"""python manage.py bench: every key page, the alert pipeline and the PDFs, timed at
a small clinic (seed_demo) and a large one (seed_large), against a floor."""

import datetime
import json
import os
import platform
import statistics
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from accounts.roles import sync_roles
from core.bench import db
from core.bench import pages as bench_pages
from core.bench.pages import (
    FLOOR,
    BenchError,
    Subjects,
    floor_sql_times,
    floor_times,
    forget_kept_documents,
    key_pages,
    logged_in_client,
)
from core.bench.pages import measure as measure_page
from core.bench.report import markdown

BENCH_SETTINGS = {
    # Production-like: no query log, no debug templates, plain static URLs (the
    # manifest needs collectstatic), the floor page mounted beside the site.
    "DEBUG": False,
    "ROOT_URLCONF": "core.bench.urls",
    "ALLOWED_HOSTS": ["127.0.0.1", "testserver", "localhost"],
    "STORAGES": {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    },
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
}


class Command(BaseCommand):
    help = (
        "Time every key page (SQL queries, median and p95 server time) at the small "
        "and the large clinic against a floor page, the alert pipeline and a "
        "year-long attendance letter. Uses the databases iop_bench_small and "
        "iop_bench (built when missing), never the application's own."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="JSON on stdout.")
        parser.add_argument(
            "--markdown", action="store_true", help="Also print a Markdown table."
        )
        parser.add_argument("--small-only", action="store_true")
        parser.add_argument("--repeat", type=int, default=20)
        parser.add_argument("--warmup", type=int, default=2)
        parser.add_argument(
            "--page",
            action="append",
            default=[],
            metavar="NAME",
            help="Measure only this page (repeatable), e.g. --page 'week calendar'.",
        )
        parser.add_argument(
            "--alerts",
            type=int,
            default=1000,
            help="Missed sessions for the alert pipeline (0: skip it).",
        )
        parser.add_argument("--worker-concurrency", type=int, default=4)
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="Drop and rebuild both benchmark databases first.",
        )
        parser.add_argument("--large-patients", type=int, default=2000)
        parser.add_argument("--large-weeks", type=int, default=26)
        parser.add_argument(
            "--here",
            action="store_true",
            help="Use the database this process already uses (the test suite): "
            "seed_demo, measure small, add a large clinic, measure large.",
        )

    # ------------------------------------------------------------------ main

    def handle(self, *args, **o):
        if o["repeat"] < 1:
            raise CommandError("--repeat must be at least 1")
        if o["alerts"] < 0:
            raise CommandError("--alerts must be 0 or more")
        names = bench_pages.page_names()
        unknown = [name for name in o["page"] if name not in names]
        if unknown:
            raise CommandError(
                f"no page named {', '.join(map(repr, unknown))}; the pages: "
                + ", ".join(map(repr, names))
            )
        self.quiet = o["json"]
        started = time.monotonic()
        try:
            with override_settings(**BENCH_SETTINGS):
                result = self._run(o)
        except BenchError as exc:
            raise CommandError(f"bench failed: {exc}") from exc
        if o["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self._table(result, time.monotonic() - started)
        if o["markdown"]:
            self.stdout.write("\n" + markdown(result))

    def note(self, message):
        if not self.quiet:
            self.stdout.write(message)
        else:
            self.stderr.write(message)

    def _run(self, o):
        bench_pages.preflight()
        base = db.current_url() if o["here"] else db.base_url()
        small_url = base if o["here"] else db.url_with_name(base, db.SMALL_DB)
        large_url = base if o["here"] else db.url_with_name(base, db.LARGE_DB)

        # The small clinic.
        if o["here"]:
            call_command("seed_demo", stdout=_Null())
        else:
            self._prepare(small_url, o["rebuild"], self._build_small)
        small, floor_small, floor_sql_ms = self._measure_all(o)
        self.note(f"small clinic measured (floor {floor_small:.1f} ms)")
        alerts = self._alerts(o, small_url)

        large, floor_ms = {}, floor_small
        letter_ms = None
        if not o["small_only"]:
            if o["here"]:
                call_command(
                    "seed_large",
                    here=True,
                    patients=o["large_patients"],
                    weeks=o["large_weeks"],
                    stdout=_Null(),
                )
            else:
                self._prepare(large_url, o["rebuild"], self._build_large(o))
            large, floor_ms, floor_sql_ms = self._measure_all(o)
            self.note(f"large clinic measured (floor {floor_ms:.1f} ms)")
        letter_ms = self._letter_year()

        # The ratios are taken to the floor as reported (two decimals), so that a
        # reader of the JSON gets the same ratio from its own numbers.
        floor_ms = round(floor_ms, 2)
        pages = []
        for name, role, small_row in small["rows"]:
            large_row = large["by_name"][name] if large else None
            basis = large_row or small_row
            pages.append(
                {
                    "name": name,
                    "role": role,
                    "small": small_row,
                    "large": large_row,
                    "ratio_to_floor": round(basis["median_ms"] / floor_ms, 2),
                }
            )
        return {
            "floor_ms": floor_ms,
            "floor_sql_ms": floor_sql_ms,
            "pages": pages,
            "alerts": alerts,
            "letter_year_ms": letter_ms,
        }

    # ------------------------------------------------------------------ databases

    def _prepare(self, url, rebuild, build):
        if rebuild or not db.database_exists(url):
            db.create_database(url, drop=True)
            db.use_database(url)
            db.migrate()
            sync_roles()
            t0 = time.monotonic()
            build(url)
            self.note(f"built {db.name_of(url)} in {time.monotonic() - t0:.0f} s")
        else:
            db.use_database(url)
            db.migrate()  # other engineers' new migrations (indexes...)

    def _build_small(self, url):
        call_command("seed_demo", stdout=_Null())

    def _build_large(self, o):
        def build(url):
            call_command(
                "seed_large",
                database_url=url,
                keep=True,
                patients=o["large_patients"],
                weeks=o["large_weeks"],
                stdout=_Null(),
            )
            db.use_database(url)

        return build

    # ------------------------------------------------------------------ pages

    def _measure_all(self, o):
        subjects = Subjects()
        self.note(f"  subjects: {subjects.describe()}")
        clients = {
            role: logged_in_client(user) for role, user in subjects.users.items()
        }
        rows, by_name, floor_samples = [], {}, []
        floor_client = clients[FLOOR.role]
        measure_page(floor_client, FLOOR, repeat=1, warmup=o["warmup"])
        for page in key_pages(subjects):
            if o["page"] and page.name not in o["page"]:
                continue
            # Floor samples between the pages: the floor sees the same machine
            # (and the same load from other processes) as the pages do.
            floor_samples += floor_times(floor_client, max(3, o["repeat"] // 2))
            row = measure_page(
                clients[page.role], page, repeat=o["repeat"], warmup=o["warmup"]
            )
            self.note(
                f"  {page.name:<34} {row['queries']:>3} q {row['median_ms']:>8.1f} ms"
            )
            rows.append((page.name, page.role, row))
            by_name[page.name] = row
        floor_samples += floor_times(floor_client, max(3, o["repeat"] // 2))
        floor_ms = statistics.median(floor_samples)
        floor_sql_ms = statistics.median(
            floor_sql_times(floor_client, max(5, o["repeat"] // 2))
        )
        return {"rows": rows, "by_name": by_name}, floor_ms, round(floor_sql_ms, 1)

    def _letter_year(self):
        from sessions.pdf import attendance_letter_pdf

        subjects = Subjects()
        end = subjects.today
        start = end - datetime.timedelta(days=365)
        times = []
        for _ in range(3):
            forget_kept_documents()  # the cost of laying the letter out
            t0 = time.perf_counter()
            body = attendance_letter_pdf(patient=subjects.patient, start=start, end=end)
            times.append((time.perf_counter() - t0) * 1000)
            if not body.startswith(b"%PDF"):
                raise BenchError("the attendance letter is not a PDF")
        return round(statistics.median(times))

    # ------------------------------------------------------------------ alerts

    def _alerts(self, o, small_url):
        from core.bench.alerts import run_pipeline

        if not o["alerts"]:
            return None
        if o["here"]:
            return run_pipeline(o["alerts"], concurrency=o["worker_concurrency"])
        # A scratch copy of the small clinic, dropped afterwards.
        scratch = db.url_with_name(small_url, f"{db.SMALL_DB}_alerts")
        db.use_database(db.url_with_name(small_url, "postgres"))
        from django.db import connections

        connections["default"].close()
        db.create_database(scratch, drop=True, template=db.SMALL_DB)
        try:
            db.use_database(scratch)
            result = run_pipeline(o["alerts"], concurrency=o["worker_concurrency"])
        finally:
            db.use_database(small_url)
            db.drop_database(scratch)
        self.note(
            f"alerts: {result['count']} in {result['seconds']} s "
            f"({result['per_second']}/s)"
        )
        return result

    # ------------------------------------------------------------------ output

    def _table(self, result, elapsed):
        w = self.stdout.write
        w("")
        w(
            f"{'page':<34} {'role':<7} {'small q':>7} {'med':>7} {'p95':>7}"
            f" {'large q':>7} {'med':>7} {'p95':>7} {'sql':>7} {'x floor':>7}"
        )
        for p in result["pages"]:
            s, lg = p["small"], p["large"] or {}
            w(
                f"{p['name']:<34} {p['role']:<7} {s['queries']:>7} "
                f"{s['median_ms']:>7.1f} {s['p95_ms']:>7.1f} "
                f"{lg.get('queries', '-'):>7} {lg.get('median_ms', 0):>7.1f} "
                f"{lg.get('p95_ms', 0):>7.1f} {lg.get('sql_median_ms', 0):>7.1f} "
                f"{p['ratio_to_floor']:>7.2f}"
            )
        a = result["alerts"]
        w(f"floor: {result['floor_ms']} ms ({result['floor_sql_ms']} ms in SQL)")
        if a:
            w(f"alerts: {a['count']} in {a['seconds']} s ({a['per_second']}/s)")
        else:
            w("alerts: not measured (--alerts 0)")
        w(f"attendance letter, one year: {result['letter_year_ms']} ms")
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        w(
            f"load average at the end: {load}; "
            f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()}; run took {elapsed:.0f} s"
        )
        misses = [
            p["name"]
            for p in result["pages"]
            if p["large"]
            and (
                p["large"]["queries"] != p["small"]["queries"]
                or p["ratio_to_floor"] > 3
            )
        ]
        if misses:
            w(self.style.WARNING("over budget: " + ", ".join(misses)))
        else:
            w(self.style.SUCCESS("every page within budget"))


class _Null:
    def write(self, *args, **kwargs):
        pass

    def flush(self):
        pass
