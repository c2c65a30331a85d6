"""The CSV exports from kept days (sessions.selectors.export_cache): the same bytes
as the exports written from the tables, whatever was written in between, in this
transaction or another."""

import datetime

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from core.models import ClinicSettings, ExportChunk, ExportStamp
from core.timeutil import clinic_today, day_bounds
from patients.models import Patient
from sessions.models import (
    Attendance,
    Kind,
    Modality,
    Participant,
    SessionFacilitator,
    TherapySession,
)
from sessions.selectors import attendance as selectors
from sessions.selectors import export_cache
from tests.factories import AdmittedPatientFactory, enrol, facilitate, mark, staff
from tests.sessions.helpers import session_on

from .reference import attendance_export_fresh_csv, daily_summary_fresh_csv

DAY = datetime.timedelta(days=1)
REPORTS = {
    "sessions": (
        selectors.attendance_export_csv,
        attendance_export_fresh_csv,
    ),
    "daily": (selectors.daily_summary_csv, daily_summary_fresh_csv),
}

QUERIES = {"sessions": 1, "daily": 2}  # the daily report reads the settings first


def kept(report, start, end):
    return b"".join(REPORTS[report][0](start=start, end=end))


def fresh(report, start, end):
    return b"".join(REPORTS[report][1](start=start, end=end))


def ranges(first, last):
    yield first, last
    yield first + DAY, last - DAY
    yield first - DAY, last + DAY
    day = first
    while day <= last:
        yield day, day
        day += DAY


def assert_agrees(first, last, when):
    """Kept and fresh exports are the same bytes over every range, and a second
    kept export of the same range reads the kept days and writes nothing."""
    for report in REPORTS:
        for start, end in ranges(first, last):
            body = kept(report, start, end)
            assert body == fresh(report, start, end), (when, report, start, end)
            with CaptureQueriesContext(connection) as ctx:
                again = kept(report, start, end)
            assert again == body, (when, report, start, end)
            queries = [q["sql"] for q in ctx.captured_queries]
            assert len(queries) == QUERIES[report], (when, report, start, end)
            assert not any("core_exportchunk AS c" in q for q in queries), when


@pytest.fixture
def clinic_week():
    """Five days of sessions with marks, odd names and sessions at the days' ends."""
    first = clinic_today() - 6 * DAY
    anna = staff(full_name="Anna, PhD")
    bo = staff(full_name='Bo "B" Ek')
    names = [("Ames, Jr.", "Jordan"), ('O"Hara', "Pat"), ("Lee\nSmith", "Sam")]
    patients = [
        AdmittedPatientFactory(last_name=last, first_name=first_name)
        for last, first_name in names
    ] + [AdmittedPatientFactory() for _ in range(3)]
    late_night = session_on(first, 22, 180, kind=Kind.GROUP)  # ends the next day
    facilitate(late_night, bo)
    facilitate(late_night, anna)
    mark(late_night, patients[0], "left_early", 40)
    enrol(late_night, patients[1], patients[2])
    morning = session_on(first + DAY, 9, kind=Kind.GROUP)
    facilitate(morning, anna)
    enrol(morning, *patients[:4])
    mark(morning, patients[0], "present")
    mark(morning, patients[1], "unexcused")
    same_hour = [session_on(first + 2 * DAY, 9, 60) for _ in range(3)]
    for i, s in enumerate(same_hour):
        facilitate(s, (anna, bo, staff())[i])
        mark(s, patients[i], "present")
        mark(s, patients[i + 3], "late", 30)
    tele = session_on(
        first + 3 * DAY,
        0,
        45,
        kind=Kind.INDIVIDUAL,
        capacity=1,
        modality=Modality.TELEHEALTH,
        room=None,
        telehealth_url="https://video.example/room",
    )  # the first minute of the day
    mark(tele, patients[4], "late", 30)
    last_hour = session_on(first + 4 * DAY, 23, 60)
    enrol(last_hour, patients[5], patients[0])
    session_on(first + 4 * DAY, 10)  # nobody booked
    return {
        "first": first,
        "last": first + 4 * DAY,
        "patients": patients,
        "staff": (anna, bo),
        "sessions": {
            "late_night": late_night,
            "morning": morning,
            "same_hour": same_hour,
            "tele": tele,
            "last_hour": last_hour,
        },
    }


@pytest.mark.django_db
def test_kept_exports_agree_with_fresh_ones_after_every_kind_of_write(clinic_week):
    first, last = clinic_week["first"], clinic_week["last"]
    p = clinic_week["patients"]
    s = clinic_week["sessions"]
    anna, bo = clinic_week["staff"]
    morning = s["morning"]

    def move(session, days):
        delta = days * DAY
        TherapySession.objects.filter(pk=session.pk).update(
            start=session.start + delta, end=session.end + delta
        )

    writes = {
        "mark": lambda: mark(morning, p[2], "late", 100),
        "correction": lambda: Attendance.objects.filter(
            session=morning, patient=p[1]
        ).update(status="excused", minutes=0),
        "mark deleted": lambda: Attendance.objects.filter(
            session=morning, patient=p[0]
        ).delete(),
        "participant added": lambda: enrol(s["late_night"], p[4]),
        "participant removed": lambda: Participant.objects.filter(
            session=s["late_night"], patient=p[2]
        ).delete(),
        "session moved to another day": lambda: move(morning, 2),
        "session moved back": lambda: move(morning, -2),
        "session moved across midnight": lambda: TherapySession.objects.filter(
            pk=s["last_hour"].pk
        ).update(
            start=s["last_hour"].start + datetime.timedelta(hours=1),
            end=s["last_hour"].end + datetime.timedelta(hours=1),
        ),
        "session cancelled": lambda: TherapySession.objects.filter(
            pk=s["same_hour"][1].pk
        ).update(status="cancelled", cancel_reason="Flu"),
        "kind and modality": lambda: TherapySession.objects.filter(
            pk=s["same_hour"][2].pk
        ).update(
            kind=Kind.FAMILY,
            modality=Modality.TELEHEALTH,
            telehealth_url="https://video.example/family",
        ),
        "length": lambda: TherapySession.objects.filter(pk=s["tele"].pk).update(
            end=s["tele"].end + datetime.timedelta(minutes=15)
        ),
        "facilitator added": lambda: facilitate(morning, bo),
        "facilitator removed": lambda: SessionFacilitator.objects.filter(
            session=s["late_night"], user=bo
        ).delete(),
        "record number": lambda: Patient.objects.filter(pk=p[0].pk).update(
            record_number="R,1001"
        ),
        "patient renamed": lambda: Patient.objects.filter(pk=p[3].pk).update(
            last_name='Nu "New"', first_name=""
        ),
        "facilitator renamed": lambda: User.objects.filter(pk=anna.pk).update(
            full_name="Anna Berg"
        ),
        "daily target": lambda: ClinicSettings.objects.update_or_create(
            pk=1, defaults={"daily_target_minutes": 30}
        ),
    }
    assert_agrees(first, last, "before any write")
    for report in REPORTS:  # an empty range: the header alone
        assert kept(report, last, first) == fresh(report, last, first)
    for when, write in writes.items():
        write()
        assert_agrees(first, last, when)


@pytest.mark.django_db
def test_a_mark_rewrites_only_its_own_day(clinic_week):
    first, last = clinic_week["first"], clinic_week["last"]
    kept("sessions", first, last)
    stamps = dict(
        ExportChunk.objects.filter(report="sessions").values_list("day", "stamp")
    )
    assert sorted(stamps) == [first + i * DAY for i in range(5)]
    mark(clinic_week["sessions"]["morning"], clinic_week["patients"][2])
    with CaptureQueriesContext(connection) as ctx:
        kept("sessions", first, last)
    assert len(ctx.captured_queries) == 2  # the kept days, then the stale one
    after = dict(
        ExportChunk.objects.filter(report="sessions").values_list("day", "stamp")
    )
    changed = {day for day in stamps if after[day] != stamps[day]}
    assert changed == {first + DAY}


@pytest.mark.django_db
def test_days_older_than_two_years_or_over_a_year_ahead_are_not_kept(clinic_week):
    today = clinic_today()
    old = today - 800 * DAY
    session = session_on(old, 9)
    mark(session, clinic_week["patients"][0])
    ExportChunk.objects.create(
        report="sessions", day=old - DAY, variant="x", stamp=0, body=b"old"
    )
    lo, _ = day_bounds(old - 3 * DAY)
    ExportStamp.objects.create(hour=lo, xact=1, writes=1)
    body = kept("sessions", old - DAY, old)
    assert body == fresh("sessions", old - DAY, old)
    assert clinic_week["patients"][0].record_number.encode() in body
    assert not ExportChunk.objects.filter(day__lt=today - 700 * DAY).exists()
    assert not ExportStamp.objects.filter(hour=lo).exists()
    ahead = today + 400 * DAY
    mark(session_on(ahead, 9), clinic_week["patients"][1], "excused")
    body = kept("daily", ahead, ahead + DAY)
    assert body == fresh("daily", ahead, ahead + DAY)
    assert clinic_week["patients"][1].record_number.encode() in body
    assert not ExportChunk.objects.filter(day__gt=today + 366 * DAY).exists()


@pytest.mark.django_db
def test_csv_fields_are_written_as_copy_writes_them():
    values = [None, "", "plain", "a,b", 'say "hi"', "two\nlines", "cr\rhere"]
    values += [" spaced ", "\\.", "tab\there", "é ünï", '"', ",", "\r\n"]
    with connection.cursor() as cursor:
        copy_sql = "COPY (SELECT v, 1 FROM unnest(%s::text[]) v) TO STDOUT (FORMAT csv)"
        with cursor.cursor.copy(copy_sql, [values]) as copy:
            by_copy = b"".join(bytes(data) for data in copy)
        cursor.execute(
            "SELECT string_agg(core_csv_field(v) || E',1\\n', '' ORDER BY n) "
            "FROM unnest(%s::text[]) WITH ORDINALITY AS t (v, n)",
            [values],
        )
        assert cursor.fetchone()[0].encode() == by_copy


@pytest.mark.django_db(transaction=True)
def test_a_write_committed_by_another_transaction_is_seen(clinic_week):
    first, last = clinic_week["first"], clinic_week["last"]
    morning = clinic_week["sessions"]["morning"]
    patient = clinic_week["patients"][2]
    assert kept("sessions", first, last) == fresh("sessions", first, last)

    writer = connections.create_connection("default")
    try:
        writer.set_autocommit(False)
        with writer.cursor() as cursor:
            cursor.execute(
                "INSERT INTO therapy_sessions_attendance "
                "(session_id, patient_id, status, minutes, note, recorded_at, "
                "recorded_by_id) VALUES (%s, %s, 'late', 77, '', now(), %s)",
                [morning.pk, patient.pk, clinic_week["staff"][0].pk],
            )
        # Not committed yet: the kept day is written again without it...
        before = kept("sessions", first, last)
        assert b",77,late" not in before
        assert before == fresh("sessions", first, last)
        writer.commit()
        # ...and the commit makes that day stale.
        after = kept("sessions", first, last)
        assert b",77,late" in after
        assert after == fresh("sessions", first, last)

        # A reader whose snapshot was taken before another transaction's write
        # keeps days as of that snapshot; they are not used after it.
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SELECT 1")  # the snapshot
            with writer.cursor() as cursor:
                cursor.execute(
                    "UPDATE therapy_sessions_attendance SET minutes = 88 "
                    "WHERE session_id = %s AND patient_id = %s",
                    [morning.pk, patient.pk],
                )
                cursor.execute(
                    "UPDATE accounts_user SET full_name = 'Renamed Elsewhere' "
                    "WHERE id = %s",
                    [clinic_week["staff"][1].pk],
                )
            writer.commit()
            ExportChunk.objects.filter(report="sessions").delete()
            old_snapshot = kept("sessions", first, last)
            assert b",77,late" in old_snapshot and b"Renamed" not in old_snapshot
            assert ExportChunk.objects.filter(report="sessions").count() == 5
        now = kept("sessions", first, last)
        assert b",88,late" in now and b"Renamed Elsewhere" in now
        assert now == fresh("sessions", first, last)
    finally:
        writer.close()


def test_the_variant_leaves_out_the_range_but_not_the_query():
    params = {"tz": "America/New_York", "report": "sessions"}
    ranged = {**params, **export_cache.range_params(clinic_today(), clinic_today())}
    assert export_cache.variant("SQL", params) == export_cache.variant("SQL", ranged)
    assert export_cache.variant("SQL", params) != export_cache.variant("SQL 2", params)
    other_zone = {**params, "tz": "Europe/Paris"}
    assert export_cache.variant("SQL", params) != export_cache.variant(
        "SQL", other_zone
    )


def clock_change_days():
    """The clinic's days of the last year whose length is not 24 hours."""
    today = clinic_today()
    days = (today - n * DAY for n in range(1, 367))
    # (aware datetimes of one zone subtract as wall clocks: compare instants)
    return [d for d in days if length_seconds(*day_bounds(d)) != 24 * 3600]


def length_seconds(lo, hi):
    return hi.timestamp() - lo.timestamp()


@pytest.mark.django_db
def test_kept_days_agree_across_clock_changes():
    changes = clock_change_days()
    assert len(changes) == 2  # America/New_York, the tests' zone
    patients = [AdmittedPatientFactory() for _ in range(3)]
    for day in changes:
        sessions = [session_on(day, hour, 60) for hour in (0, 1, 3, 23)]
        for s in sessions:
            enrol(s, *patients[:2])
        night = session_on(day - DAY, 23, 240)  # into the changing night
        mark(night, patients[2], "left_early", 100)
        mark(sessions[1], patients[0], "late", 20)
        assert_agrees(day - DAY, day + DAY, f"{day}")
        mark(sessions[3], patients[1], "present")
        Attendance.objects.filter(session=sessions[1]).update(minutes=50)
        assert_agrees(day - DAY, day + DAY, f"{day}, marked")
