"""Demo attendance: a realistic mix, one patient below target, one flagged, one
correction, and the sponsor's patient's session from earlier today unmarked."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.timeutil import clinic_today, day_bounds, local
from sessions.models import Attendance, AttendanceRevision, Participant
from sessions.selectors.attendance import compliance, flagged_patients

from .reference import unmarked_sessions

pytestmark = pytest.mark.django_db


def test_seed_demo_fills_attendance_and_is_safe_to_run_again():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    assert "Attendance:" in out.getvalue()
    now = timezone.now()
    marks = Attendance.objects.count()
    statuses = set(Attendance.objects.values_list("status", flat=True))
    assert statuses == {"present", "late", "left_early", "excused", "unexcused"}
    # Every ended session is marked except the one left for the alerts sweep.
    todo = unmarked_sessions()
    assert len(todo) == 1
    session = todo[0]
    assert session.end <= now
    start_day, _ = day_bounds(clinic_today())
    if local(now).hour >= 2:  # just after midnight the slot is yesterday evening
        assert session.start >= start_day
    patient = Participant.objects.get(session=session).patient
    sponsor_logins = set(patient.sponsors.values_list("user__email", flat=True))
    assert "sponsor@demo.test" in sponsor_logins

    flagged = flagged_patients()
    assert len(flagged) == 1
    assert flagged[0]["patient"] != patient
    below = [r for r in compliance()["rows"] if r["last_week_below"]]
    assert len(below) == 1
    assert flagged[0]["patient"] not in [r["patient"] for r in below]
    assert AttendanceRevision.objects.count() == 1

    call_command("seed_demo", stdout=io.StringIO())
    assert Attendance.objects.count() == marks
    assert [s.pk for s in unmarked_sessions()] == [session.pk]
    assert AttendanceRevision.objects.count() == 1
    assert len(flagged_patients()) == 1


@pytest.mark.parametrize("first_id", [1, 137, 3041, 9019])
def test_the_demo_correction_is_there_whatever_ids_the_rows_get(first_id):
    """The marks are drawn from the sessions' and patients' ids, which depend on
    what ran in the database before: the corrected mark must not."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("therapy_sessions_therapysession", "patients_patient"):
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)",
                [table, first_id],
            )
    call_command("seed_demo", stdout=io.StringIO())
    revision = AttendanceRevision.objects.get()
    assert revision.status == "unexcused"
    assert revision.attendance.status == "excused"
    assert len(flagged_patients()) == 1
    assert len([r for r in compliance()["rows"] if r["last_week_below"]]) == 1
