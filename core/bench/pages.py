"""The key pages, who opens them, and how they are timed.

Each page is requested with Django's test client, logged in (force_login) as a
user of the right role, through the whole middleware stack. The subjects (which
staff member, patient, session, sponsor) are chosen by the same rule in every
database, so that the small and the large clinic are measured alike."""

import datetime
import statistics
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db import connection
from django.db.models import Count, Q
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts import roles
from accounts.models import User
from core.timeutil import clinic_today
from patients.models import Consent, Patient, active_consent_q
from sessions.models import Attendance, Kind, TherapySession

try:  # the security engineer's session keys (MFA passed, last seen)
    from accounts.mfa import MFA_OK_SESSION_KEY
except ImportError:  # pragma: no cover - before MFA exists
    MFA_OK_SESSION_KEY = None
try:
    from core.middleware import SEEN_AT
except ImportError:  # pragma: no cover
    SEEN_AT = None


class BenchError(Exception):
    """Something the benchmark needs is missing: a page, a subject, a 200."""


@dataclass
class Page:
    name: str
    role: str  # key into Subjects.users
    url_name: str
    args: tuple = ()
    query: dict | None = None
    # A document kept once made (core.models.RenderedDocument, ExportChunk): also
    # timed with the kept copies dropped before each request ("cold_median_ms").
    kept_document: bool = False

    def url(self):
        try:
            url = reverse(self.url_name, args=self.args)
        except NoReverseMatch as exc:
            raise BenchError(
                f"page {self.name!r}: no URL named {self.url_name!r} "
                f"with args {self.args} ({exc})"
            ) from exc
        return f"{url}?{urlencode(self.query)}" if self.query else url


class Subjects:
    """Who and what the pages are about, chosen by rule in the current database."""

    def __init__(self):
        today = self.today = clinic_today()
        now = timezone.now()
        admitted = [Patient.Status.ADMITTED, Patient.Status.ON_HOLD]
        self.users = {
            "staff": User.objects.filter(groups__name=roles.STAFF, is_active=True)
            .annotate(
                n=Count(
                    "counseled_patients",
                    filter=Q(counseled_patients__status__in=admitted),
                )
            )
            .order_by("-n", "id")
            .first(),
            "doctor": User.objects.filter(groups__name=roles.DOCTOR, is_active=True)
            .annotate(
                n=Count(
                    "doctor_patients", filter=Q(doctor_patients__status__in=admitted)
                )
            )
            .order_by("-n", "id")
            .first(),
        }
        sponsor = (
            Consent.objects.filter(
                active_consent_q(today),
                sponsor__user__isnull=False,
                sponsor__user__is_active=True,
                sponsor__user__groups__name=roles.SPONSOR,
                scope__in=Consent.ATTENDANCE_SCOPES,
            )
            .values("sponsor__user")
            .annotate(n=Count("patient", distinct=True))
            .order_by("-n", "sponsor__user")
            .first()
        )
        self.users["sponsor"] = (
            User.objects.get(pk=sponsor["sponsor__user"]) if sponsor else None
        )
        top = (
            Attendance.objects.filter(patient__status=Patient.Status.ADMITTED)
            .values("patient")
            .annotate(n=Count("id"))
            .order_by("-n", "patient")
            .first()
        )
        self.patient = Patient.objects.get(pk=top["patient"]) if top else None
        self.session = (
            TherapySession.objects.filter(
                kind=Kind.GROUP,
                end__lte=now,
                start__gte=now - datetime.timedelta(days=14),
                attendance__isnull=False,
            )
            .annotate(n=Count("participants", distinct=True))
            .order_by("-n", "-start", "id")
            .first()
        )
        missing = [k for k, v in self.users.items() if v is None]
        if self.patient is None:
            missing.append("an admitted patient with attendance")
        if self.session is None:
            missing.append("a group session of the last 14 days with attendance")
        if missing:
            raise BenchError("the database lacks " + ", ".join(missing))

    def describe(self):
        return (
            f"staff {self.users['staff'].email}, doctor {self.users['doctor'].email}, "
            f"sponsor {self.users['sponsor'].email}, patient "
            f"{self.patient.record_number}, session {self.session.pk}"
        )


def key_pages(s: Subjects):
    """Every page the issue names, in its order."""
    today = s.today
    half_year = {
        "start": (today - datetime.timedelta(days=182)).isoformat(),
        "end": today.isoformat(),
    }
    month = {
        "start": (today - datetime.timedelta(days=30)).isoformat(),
        "end": today.isoformat(),
        "report": "sessions",
    }
    pid = s.patient.pk
    return [
        Page("staff dashboard", "staff", "core:staff_dashboard"),
        Page("patient list", "staff", "patients:list"),
        Page("patient page", "staff", "patients:detail", (pid,)),
        Page("week calendar", "staff", "therapy_sessions:calendar"),
        Page("session roster", "staff", "therapy_sessions:detail", (s.session.pk,)),
        Page("compliance page", "staff", "therapy_sessions:compliance"),
        Page("doctor's queue", "doctor", "patients:approvals"),
        Page("doctor's dashboard", "doctor", "core:doctor_dashboard"),
        Page("sponsor page", "sponsor", "sponsor:home"),
        Page(
            "attendance letter PDF (6 months)",
            "staff",
            "therapy_sessions:attendance_letter",
            (pid,),
            half_year,
            kept_document=True,
        ),
        Page(
            "CSV export (1 month)",
            "staff",
            "therapy_sessions:attendance_export",
            (),
            month,
            kept_document=True,
        ),
    ]


FLOOR = Page("floor", "staff", "bench_floor")


class _Placeholder:
    pk = 1


def stand_in_subjects():
    """Subjects with placeholder ids: enough to list the pages and build URLs."""
    stand_in = Subjects.__new__(Subjects)
    stand_in.today = clinic_today()
    stand_in.patient = stand_in.session = _Placeholder()
    return stand_in


def page_names():
    return [page.name for page in key_pages(stand_in_subjects())]


def preflight():
    """Fail before any work when a page's URL does not exist (yet)."""
    for page in [*key_pages(stand_in_subjects()), FLOOR]:
        page.url()


def logged_in_client(user):
    """A test client with a session as after a real login (MFA passed)."""
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    if MFA_OK_SESSION_KEY:
        session = client.session
        session[MFA_OK_SESSION_KEY] = True
        session.save()
    return client


def _fresh_session(client):
    """Mark the session as just seen, so that the counted request does not also
    write the session (the idle clock is touched at most once a minute)."""
    if SEEN_AT:
        session = client.session
        session[SEEN_AT] = time.time()
        session.save()


def _get(client, url, page):
    response = client.get(url)
    if response.status_code != 200:
        where = response.get("Location", "")
        raise BenchError(
            f"page {page.name!r} ({url}) answered {response.status_code} {where}"
        )
    # Streaming responses (CSV) do their work while being read.
    body = (
        b"".join(response.streaming_content) if response.streaming else response.content
    )
    return len(body)


def measure(client, page, *, repeat, warmup=2, budget_seconds=15.0, at_least=5):
    """Queries of one request, then the median and p95 of `repeat` timed requests
    (fewer, but at least `at_least`, when a page would take over `budget_seconds`)."""
    url = page.url()
    for _ in range(warmup):
        _get(client, url, page)
    _fresh_session(client)
    queries = count_queries(lambda: _get(client, url, page))
    times = []
    deadline = time.monotonic() + budget_seconds
    for i in range(repeat):
        if i >= at_least and time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        _get(client, url, page)
        times.append((time.perf_counter() - t0) * 1000)
    row = {
        "queries": queries,
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 95), 1),
        "sql_median_ms": round(
            statistics.median(sql_times(lambda: _get(client, url, page), at_least)), 1
        ),
    }
    if page.kept_document:
        cold = []
        for _ in range(at_least):
            forget_kept_documents()
            t0 = time.perf_counter()
            _get(client, url, page)
            cold.append((time.perf_counter() - t0) * 1000)
        row["cold_median_ms"] = round(statistics.median(cold), 1)
    return row


def forget_kept_documents():
    """Drop the kept PDFs and CSV days, so that the next ones are made again."""
    from core.models import ExportChunk, RenderedDocument

    RenderedDocument.objects.all().delete()
    ExportChunk.objects.all().delete()


def floor_times(client, n):
    """`n` timed requests of the floor page, in milliseconds."""
    url = FLOOR.url()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        _get(client, url, FLOOR)
        times.append((time.perf_counter() - t0) * 1000)
    return times


class _SqlTimer:
    """A connection execute wrapper that adds up the time spent in the database
    driver's execute (the round trip, PostgreSQL's work, reading the rows)."""

    def __init__(self):
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - t0


def sql_times(func, n):
    """The milliseconds each of `n` calls of `func` spent in SQL statements,
    measured apart from the timed requests (the wrapper costs a little per
    statement)."""
    times = []
    for _ in range(n):
        timer = _SqlTimer()
        with connection.execute_wrapper(timer):
            func()
        times.append(timer.seconds * 1000)
    return times


def floor_sql_times(client, n):
    """The SQL milliseconds of `n` floor requests (see sql_times)."""
    url = FLOOR.url()
    return sql_times(lambda: _get(client, url, FLOOR), n)


def count_queries(func):
    """The number of SQL statements `func` runs (the debug cursor, on a clean log)."""
    connection.ensure_connection()
    forced = connection.force_debug_cursor
    connection.queries_log.clear()
    connection.force_debug_cursor = True
    try:
        func()
        return len(connection.queries_log)
    finally:
        connection.force_debug_cursor = forced
        connection.queries_log.clear()


def percentile(values, pct):
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
