"""The attendance letter and sign-in sheet PDFs, and the CSV exports."""

import csv
import datetime
import io
import os
import time

import pytest
from django.urls import reverse
from pypdf import PdfReader

from core.models import AuditEvent, RenderedDocument
from core.timeutil import clinic_today, make_local, week_start
from patients.models import PART2_NOTICE
from sessions.models import Kind, Modality, Participant, TherapySession
from sessions.pdf import attendance_letter_pdf, signin_sheet_pdf
from tests.factories import (
    AdmittedPatientFactory,
    RoomFactory,
    SessionFactory,
    enrol,
    facilitate,
    mark,
    past_session,
    staff,
)
from tests.sessions.helpers import session_on

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def pdf_text(data):
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


@pytest.fixture
def month_of_attendance():
    p = AdmittedPatientFactory(first_name="Jordan", last_name="Ames")
    monday = week_start(clinic_today()) - 14 * DAY
    plan = [
        (monday, "present", None),
        (monday + 2 * DAY, "late", 150),
        (monday + 4 * DAY, "unexcused", None),
        (monday + 7 * DAY, "excused", None),
        (monday + 9 * DAY, "left_early", 100),
        (monday + 11 * DAY, "present", None),
    ]
    for day, status, minutes in plan:
        mark(session_on(day), p, status, minutes)
    return p, monday


def test_attendance_letter_lists_sessions_weeks_summary_and_notice(month_of_attendance):
    p, monday = month_of_attendance
    cancelled = session_on(monday + 3 * DAY)
    enrol(cancelled, p)
    TherapySession.objects.filter(pk=cancelled.pk).update(
        status="cancelled", cancel_reason="Snow"
    )
    data = attendance_letter_pdf(patient=p, start=monday, end=monday + 13 * DAY)
    assert data.startswith(b"%PDF")
    text, pages = pdf_text(data)
    flat = " ".join(text.split())
    assert "Jordan Ames" in flat and p.record_number in flat
    assert "6 sessions scheduled; 4 attended (1 late, 1 left early)" in flat
    assert "1 excused absence; 1 unexcused absence" in flat
    assert "Total hours attended: 10.2" in flat  # 180+150+100+180 = 610 min
    assert "Unexcused absence (no-show)" in flat
    assert "150 of 180" in flat and "100 of 180" in flat
    # week rows: 330 min = 5.5 h, then 280 min = 4.7 h, both below 9 h
    assert "5.5 9.0 below target" in flat and "4.7 9.0 below target" in flat
    assert "Snow" not in flat and flat.count(" of 180") == 6  # cancelled left out
    assert PART2_NOTICE in flat
    assert "Counselor" in flat or "signature" in flat.lower()


def test_letter_view_returns_the_pdf_and_audits_the_export(
    month_of_attendance, client_for, staff_user
):
    p, monday = month_of_attendance
    url = reverse("therapy_sessions:attendance_letter", args=[p.pk])
    assert url == f"/patients/{p.pk}/attendance.pdf"
    response = client_for(staff_user).get(
        url, {"start": monday.isoformat(), "end": (monday + 20 * DAY).isoformat()}
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text, _ = pdf_text(response.content)
    assert "Jordan Ames" in text
    event = AuditEvent.objects.get(action="export")
    assert event.patient_id == p.pk and event.user_id == staff_user.pk


@pytest.mark.parametrize(
    "params,message",
    [
        ({}, "This field is required."),
        ({"start": "2026-02-30", "end": "2026-03-01"}, "Enter a valid date."),
        ({"start": "2026-03-10", "end": "2026-03-01"}, "on or after the start"),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "at most two years"),
    ],
)
def test_letter_with_bad_dates_shows_a_message_not_an_error(
    client_for, staff_user, params, message
):
    p = AdmittedPatientFactory()
    response = client_for(staff_user).get(
        reverse("therapy_sessions:attendance_letter", args=[p.pk]), params
    )
    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.parametrize(
    "role,expected",
    {None: 302, "sponsor": 403, "staff": 200, "doctor": 200, "admin": 200}.items(),
)
def test_letter_roles(client_for, users, role, expected):
    p = AdmittedPatientFactory()
    today = clinic_today()
    response = client_for(users.get(role)).get(
        reverse("therapy_sessions:attendance_letter", args=[p.pk]),
        {"start": (today - 7 * DAY).isoformat(), "end": today.isoformat()},
    )
    assert response.status_code == expected


def test_year_long_letter_renders_well_under_a_second(capsys):
    """About 150 sessions over 52 weeks (three a week)."""
    p = AdmittedPatientFactory()
    recorder = staff()
    end = clinic_today() - DAY
    start = end - 364 * DAY
    room = RoomFactory()
    statuses = ["present", "present", "late", "present", "unexcused", "excused"]
    sessions = []
    participants = []
    attendance = []
    day = start
    from sessions.models import Attendance

    while day <= end:
        if day.weekday() in (0, 2, 4):
            begin = make_local(day, datetime.time(9))
            sessions.append(
                TherapySession(
                    kind=Kind.GROUP,
                    start=begin,
                    end=begin + datetime.timedelta(hours=3),
                    modality=Modality.IN_PERSON,
                    room=room,
                    capacity=12,
                    created_by=recorder,
                )
            )
        day += DAY
    TherapySession.objects.bulk_create(sessions)
    for i, s in enumerate(sessions):
        participants.append(Participant(session=s, patient=p))
        status = statuses[i % len(statuses)]
        minutes = {"present": 180, "late": 150}.get(status, 0)
        attendance.append(
            Attendance(
                session=s,
                patient=p,
                status=status,
                minutes=minutes,
                recorded_by=recorder,
            )
        )
    for part in participants:
        part.save()  # the trigger copies start/end
    Attendance.objects.bulk_create(attendance)
    attendance_letter_pdf(patient=p, start=start, end=end)  # warm fonts and templates
    walls, cpus = [], []
    for _ in range(3):
        RenderedDocument.objects.all().delete()  # time the rendering, not the kept PDF
        w0, c0 = time.perf_counter(), time.process_time()
        data = attendance_letter_pdf(patient=p, start=start, end=end)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    text, pages = pdf_text(data)
    with capsys.disabled():
        print(
            f"\n[measure] year letter: {len(sessions)} sessions, {pages} pages, "
            f"{len(data) // 1024} KiB; CPU best {min(cpus):.3f}s worst "
            f"{max(cpus):.3f}s; wall best {min(walls):.3f}s worst {max(walls):.3f}s "
            f"(load average {os.getloadavg()[0]:.1f})"
        )
    assert f"{len(sessions)} sessions scheduled" in " ".join(text.split())
    # CPU time: the host is shared with other test runs, so wall time also
    # measures their load; the letter's own cost is its CPU time.
    assert min(cpus) < 0.6


def test_the_same_letter_asked_again_is_the_kept_pdf_until_a_mark_changes(
    month_of_attendance,
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sessions.models import Attendance

    p, monday = month_of_attendance
    period = {"patient": p, "start": monday, "end": monday + 13 * DAY}
    first = attendance_letter_pdf(**period)
    assert RenderedDocument.objects.filter(patient=p).count() == 1
    with CaptureQueriesContext(connection) as ctx:
        again = attendance_letter_pdf(**period)
    assert again == first
    assert not any("INSERT" in q["sql"] for q in ctx.captured_queries)

    # A mark changed behind the application's back (no signal, no hook): the
    # letter is a new document with the new counts.
    Attendance.objects.filter(patient=p, status="unexcused").update(status="excused")
    changed = attendance_letter_pdf(**period)
    assert changed != first
    flat = " ".join(pdf_text(changed)[0].split())
    assert "2 excused absences; 0 unexcused absences" in flat
    assert RenderedDocument.objects.filter(patient=p).count() == 2

    # What is kept is byte for byte what a fresh rendering gives.
    RenderedDocument.objects.all().delete()
    assert attendance_letter_pdf(**period) == changed

    # The sponsor's copy (no identifiers) is another document.
    copy = attendance_letter_pdf(**period, include_identifiers=False)
    assert copy != changed and p.record_number not in pdf_text(copy)[0]


def test_letters_kept_on_earlier_days_are_dropped(month_of_attendance):
    from django.utils import timezone

    p, monday = month_of_attendance
    RenderedDocument.objects.create(
        digest="0" * 64,
        patient=p,
        body=b"%PDF yesterday's letter",
        created_at=timezone.now() - datetime.timedelta(days=2),
    )
    attendance_letter_pdf(patient=p, start=monday, end=monday + 6 * DAY)
    assert not RenderedDocument.objects.filter(digest="0" * 64).exists()
    assert RenderedDocument.objects.filter(patient=p).count() == 1  # today's


def test_signin_sheet_lists_the_expected_patients(client_for, staff_user):
    s = SessionFactory(title="Coping with cravings")
    a = AdmittedPatientFactory(first_name="Avery", last_name="Stone")
    b = AdmittedPatientFactory(first_name="Blair", last_name="Quinn")
    enrol(s, a, b)
    facilitate(s, staff_user)
    text, _ = pdf_text(signin_sheet_pdf(session=s))
    flat = " ".join(text.split())
    assert "Sign-in sheet: Coping with cravings" in flat
    assert flat.index("Blair Quinn") < flat.index("Avery Stone")  # by last name
    assert "Signature" in flat and staff_user.full_name in flat
    assert PART2_NOTICE in flat


@pytest.mark.parametrize(
    "role,expected",
    {None: 302, "sponsor": 403, "staff": 200, "doctor": 200, "admin": 200}.items(),
)
def test_signin_sheet_roles(client_for, users, role, expected):
    s = SessionFactory()
    response = client_for(users.get(role)).get(
        reverse("therapy_sessions:signin_sheet", args=[s.pk])
    )
    assert response.status_code == expected
    if expected == 200:
        assert response["Content-Type"] == "application/pdf"


# --- CSV ----------------------------------------------------------------------------


def read_csv(response):
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_sessions_csv_has_one_row_per_patient_per_session(client_for, staff_user):
    day = clinic_today() - 3 * DAY
    group = session_on(day, 9, kind=Kind.GROUP)
    facilitate(group, staff_user)
    a, b, c = (AdmittedPatientFactory() for _ in range(3))
    enrol(group, a, b, c)
    mark(group, a, "late", 150)
    mark(group, b, "unexcused")
    tele = session_on(
        day,
        14,
        60,
        kind=Kind.INDIVIDUAL,
        capacity=1,
        modality=Modality.TELEHEALTH,
        room=None,
        telehealth_url="https://video.example/room",
    )
    mark(tele, a, "present")
    outside = session_on(day - 30 * DAY)
    mark(outside, c, "present")
    response = client_for(staff_user).get(
        reverse("therapy_sessions:attendance_export"),
        {"start": day.isoformat(), "end": day.isoformat(), "report": "sessions"},
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = read_csv(response)
    assert len(rows) == 4
    by = {(r["record_number"], r["session_kind"]): r for r in rows}
    row = by[(a.record_number, "Group")]
    assert row == {
        "date": day.isoformat(),
        "record_number": a.record_number,
        "session_kind": "Group",
        "modality": "In person",
        "facilitator": staff_user.full_name,
        "scheduled_minutes": "180",
        "attended_minutes": "150",
        "status": "late",
    }
    assert by[(b.record_number, "Group")]["status"] == "unexcused"
    assert by[(c.record_number, "Group")]["status"] == "unmarked"
    assert by[(a.record_number, "Individual")]["modality"] == "Telehealth"
    assert by[(a.record_number, "Individual")]["attended_minutes"] == "60"


def test_daily_csv_sums_minutes_per_patient_per_day_against_the_daily_target(
    client_for, staff_user
):
    day = clinic_today() - 2 * DAY
    a, b = AdmittedPatientFactory(), AdmittedPatientFactory()
    morning = session_on(day, 9, 120)
    afternoon = session_on(day, 13, 60)
    mark(morning, a, "present")
    mark(afternoon, a, "present")
    mark(morning, b, "present")
    mark(afternoon, b, "unexcused")
    late_night = session_on(day, 22, 180)  # ends after midnight, counts on `day`
    mark(late_night, b, "left_early", 30)
    response = client_for(staff_user).get(
        reverse("therapy_sessions:attendance_export"),
        {"start": day.isoformat(), "end": day.isoformat(), "report": "daily"},
    )
    rows = {r["record_number"]: r for r in read_csv(response)}
    assert rows[a.record_number]["minutes_attended"] == "180"
    assert rows[a.record_number]["met_daily_target"] == "yes"
    assert rows[a.record_number]["sessions_scheduled"] == "2"
    assert rows[b.record_number]["minutes_attended"] == "150"
    assert rows[b.record_number]["sessions_scheduled"] == "3"
    assert rows[b.record_number]["sessions_attended"] == "2"
    assert rows[b.record_number]["met_daily_target"] == "no"
    assert AuditEvent.objects.filter(action="export", patient=None).count() == 1


def test_export_form_shows_bad_dates_as_messages(client_for, staff_user):
    response = client_for(staff_user).get(
        reverse("therapy_sessions:attendance_export"),
        {"start": "yesterday", "end": "2026-01-01", "report": "sessions"},
    )
    assert response.status_code == 400
    assert "Enter a valid date." in response.content.decode()


@pytest.mark.parametrize(
    "role,expected",
    {None: 302, "sponsor": 403, "staff": 200, "doctor": 403, "admin": 200}.items(),
)
def test_export_roles(client_for, users, role, expected):
    response = client_for(users.get(role)).get(
        reverse("therapy_sessions:attendance_export")
    )
    assert response.status_code == expected


@pytest.mark.parametrize(
    "role,shown", [("staff", True), ("admin", True), ("doctor", False)]
)
def test_compliance_page_offers_the_export_to_those_who_may_export(
    client_for, users, role, shown
):
    body = client_for(users[role]).get(reverse("therapy_sessions:compliance"))
    link = reverse("therapy_sessions:attendance_export")
    assert (f'href="{link}"' in body.content.decode()) is shown


def test_export_query_count_does_not_grow_with_rows(client_for, staff_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from core.models import ClinicSettings

    ClinicSettings.load()
    client = client_for(staff_user)
    day = clinic_today() - 5 * DAY
    counts = []
    for n, report in [(2, "sessions"), (20, "sessions"), (2, "daily"), (20, "daily")]:
        s = past_session(
            hours_ago=24 * 5 + n + len(counts) * 7,
            capacity=30,
            room=RoomFactory(capacity=30),
        )
        for _ in range(n):
            mark(s, AdmittedPatientFactory())
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(
                reverse("therapy_sessions:attendance_export"),
                {
                    "start": (day - 3 * DAY).isoformat(),
                    "end": clinic_today().isoformat(),
                    "report": report,
                },
            )
            rows = read_csv(response)
        assert len(rows) >= n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] and counts[2] == counts[3], counts


class _Echo:
    def write(self, value):
        return value


def test_csv_quotes_and_line_ends_as_a_spreadsheet_expects(client_for, staff_user):
    """The CSV is written by PostgreSQL: same dialect as Python's csv module
    (quotes only where needed, doubled inside, CRLF rows, empty for nothing)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    day = clinic_today() - 2 * DAY
    group = session_on(day, 9, kind=Kind.GROUP)
    facilitate(group, staff(full_name='Pat "PJ" O\'Neil, LCSW'))
    facilitate(group, staff(full_name="Sam\nLee"))
    p = AdmittedPatientFactory(last_name="Ames, Jr.", first_name="Jordan")
    mark(group, p, "late", 150)
    unled = session_on(day, 14, 60)
    enrol(unled, p)
    client = client_for(staff_user)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(
            reverse("therapy_sessions:attendance_export"),
            {"start": day.isoformat(), "end": day.isoformat(), "report": "sessions"},
        )
        body = b"".join(response.streaming_content)
    assert any(q["sql"].startswith("COPY (") for q in ctx.captured_queries)
    writer = csv.writer(_Echo())
    expected = (
        writer.writerow(
            [
                "date",
                "record_number",
                "session_kind",
                "modality",
                "facilitator",
                "scheduled_minutes",
                "attended_minutes",
                "status",
            ]
        )
        + writer.writerow(
            [
                day.isoformat(),
                p.record_number,
                "Group",
                "In person",
                'Pat "PJ" O\'Neil, LCSW; Sam\nLee',
                180,
                150,
                "late",
            ]
        )
        + writer.writerow(
            [day.isoformat(), p.record_number, "Group", "In person", "", 60, 0]
            + ["unmarked"]
        )
    )
    assert body.decode() == expected
    assert body.endswith(b"\r\n") and b'"Pat ""PJ"" O\'Neil, LCSW; Sam\nLee"' in body

    response = client.get(
        reverse("therapy_sessions:attendance_export"),
        {"start": day.isoformat(), "end": day.isoformat(), "report": "daily"},
    )
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines(keepends=True)[1] == writer.writerow(
        [day.isoformat(), p.record_number, "Ames, Jr.", "Jordan", 2, 1, 150, "no"]
    )


def test_csv_with_no_sessions_is_the_header_alone(client_for, staff_user):
    day = clinic_today() - 400 * DAY
    response = client_for(staff_user).get(
        reverse("therapy_sessions:attendance_export"),
        {"start": day.isoformat(), "end": day.isoformat(), "report": "sessions"},
    )
    body = b"".join(response.streaming_content)
    assert body == (
        b"date,record_number,session_kind,modality,facilitator,"
        b"scheduled_minutes,attended_minutes,status\r\n"
    )


# The sessions CSV's query as it was first written, one row of every field per
# participant: the reference that the sessions CSV (each session's fields once
# per session, as EXPORT_SQL in reference.py and the kept days write them) must
# agree with, byte for byte.
PER_PARTICIPANT_EXPORT_SQL = """
SELECT to_char(s.start AT TIME ZONE %(tz)s, 'YYYY-MM-DD') AS day,
       NULLIF(pt.record_number, '') AS record_number,
       NULLIF(COALESCE(%(kinds)s::jsonb ->> s.kind, s.kind), '') AS kind,
       NULLIF(COALESCE(%(modalities)s::jsonb ->> s.modality, s.modality), '')
           AS modality,
       NULLIF(fac.names, '') AS facilitators,
       ROUND(EXTRACT(EPOCH FROM (s."end" - s.start)) / 60)::int AS scheduled,
       COALESCE(a.minutes, 0) AS attended,
       COALESCE(a.status, 'unmarked') AS status
FROM therapy_sessions_participant p
JOIN therapy_sessions_therapysession s ON s.id = p.session_id
JOIN patients_patient pt ON pt.id = p.patient_id
LEFT JOIN therapy_sessions_attendance a
       ON a.session_id = p.session_id AND a.patient_id = p.patient_id
LEFT JOIN (
    SELECT sf.session_id,
           STRING_AGG(u.full_name, '; ' ORDER BY sf.id) AS names
    FROM therapy_sessions_sessionfacilitator sf
    JOIN accounts_user u ON u.id = sf.user_id
    WHERE sf.start >= %(lo)s AND sf.start < %(hi)s
    GROUP BY sf.session_id
) fac ON fac.session_id = s.id
WHERE p.start >= %(lo)s AND p.start < %(hi)s AND s.status <> 'cancelled'
ORDER BY s.start, s.id, pt.record_number
"""


def test_sessions_csv_agrees_with_the_per_participant_query():
    import json

    from core.timeutil import clinic_zone, day_bounds
    from sessions.selectors import attendance as selectors

    from .reference import _copy_csv

    first = clinic_today() - 6 * DAY
    last = clinic_today() - 2 * DAY
    anna, bo = staff(full_name="Anna, PhD"), staff(full_name='Bo "B" Ek')
    patients = [AdmittedPatientFactory() for _ in range(6)]
    late_night = session_on(first, 22, 180)  # ends on the next day
    facilitate(late_night, bo)
    facilitate(late_night, anna)  # listed after Bo: in the order added
    mark(late_night, patients[0], "left_early", 40)
    enrol(late_night, patients[1], patients[2])
    same_hour = [session_on(first + 2 * DAY, 9, 60) for _ in range(3)]
    for i, (s, lead) in enumerate(zip(same_hour, (anna, bo, staff()))):
        facilitate(s, lead)
        mark(s, patients[i], "present")
        mark(s, patients[i + 3], "unexcused")
    tele = session_on(
        last,
        0,
        45,
        kind=Kind.INDIVIDUAL,
        capacity=1,
        modality=Modality.TELEHEALTH,
        room=None,
        telehealth_url="https://video.example/room",
    )  # the first minute of the last day
    mark(tele, patients[4], "late", 30)
    session_on(last, 10)  # nobody booked
    cancelled = session_on(last, 13)
    enrol(cancelled, patients[3])
    TherapySession.objects.filter(pk=cancelled.pk).update(
        status="cancelled", cancel_reason="Flu"
    )
    for outside in (session_on(first - DAY, 23), session_on(last + DAY, 0)):
        mark(outside, patients[0], "present")

    lo, _ = day_bounds(first)
    _, hi = day_bounds(last)
    params = {
        "tz": str(clinic_zone()),
        "lo": lo,
        "hi": hi,
        "kinds": json.dumps(dict(Kind.choices)),
        "modalities": json.dumps(dict(Modality.choices)),
    }
    header = selectors.EXPORT_HEADER
    expected = b"".join(_copy_csv(PER_PARTICIPANT_EXPORT_SQL, params, header))
    body = b"".join(selectors.attendance_export_csv(start=first, end=last))
    assert body == expected
    assert body.count(b"\r\n") == 1 + 3 + 6 + 1
    assert b'"Bo ""B"" Ek; Anna, PhD"' in body


def test_letter_targets_are_the_clinic_settings_or_their_defaults(
    month_of_attendance,
):
    """attendance_letter_data reads the weekly targets in its one query, as
    ClinicSettings.read() gives them: the defaults while the row was never saved."""
    from core.models import ClinicSettings
    from sessions.selectors.attendance import attendance_letter_data

    p, monday = month_of_attendance
    period = {"patient": p, "start": monday, "end": monday + 13 * DAY}
    ClinicSettings.objects.all().delete()
    defaults = ClinicSettings.read()
    assert defaults.pk == 1 and defaults._state.adding
    weeks = attendance_letter_data(**period)["weeks"]
    assert {w["target_hours"] for w in weeks} == {
        round(defaults.weekly_target_minutes_adult / 60, 1)
    }
    ClinicSettings.objects.create(
        pk=1, weekly_target_minutes_adult=300, weekly_target_minutes_minor=240
    )
    weeks = attendance_letter_data(**period)["weeks"]
    assert {w["target_hours"] for w in weeks} == {5.0}
    assert (
        attendance_letter_data(
            patient=p, start=monday - 400 * DAY, end=monday - 399 * DAY
        )["sessions"]
        == []
    )
