"""Recording attendance: the service, the roster on the session page, corrections,
roles and query counts."""

import datetime
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent, ClinicSettings
from sessions.models import Alert, Attendance, AttendanceRevision, TherapySession
from sessions.services.attendance import (
    attendance_mark_rest_present,
    attendance_record,
)
from tests.factories import (
    AdmittedPatientFactory,
    ConsentFactory,
    SessionFactory,
    enrol,
    mark,
    past_session,
)

pytestmark = pytest.mark.django_db
S = Attendance.Status


@pytest.fixture
def group():
    """A three-hour group that started two hours ago, with three patients."""
    session = past_session(hours_ago=2)
    patients = [AdmittedPatientFactory() for _ in range(3)]
    enrol(session, *patients)
    return session, patients


# --- the database ------------------------------------------------------------


def test_second_attendance_row_for_same_patient_and_session_fails_in_postgres(
    group, staff_user
):
    session, (p, *_) = group
    mark(session, p, by=staff_user)
    with pytest.raises(IntegrityError) as info, transaction.atomic():
        Attendance.objects.create(
            session=session,
            patient=p,
            status="late",
            minutes=10,
            recorded_by=staff_user,
        )
    assert "attendance_once_per_patient_session" in str(info.value)


def test_absence_with_minutes_fails_in_postgres(group, staff_user):
    session, (p, *_) = group
    with pytest.raises(IntegrityError), transaction.atomic():
        Attendance.objects.create(
            session=session,
            patient=p,
            status="excused",
            minutes=5,
            recorded_by=staff_user,
        )


# --- the service -------------------------------------------------------------


def test_present_counts_the_whole_session_and_writes_an_audit_row(group, staff_user):
    session, (p, *_) = group
    att = attendance_record(
        session=session, patient=p, status=S.PRESENT, actor=staff_user
    )
    assert (att.status, att.minutes, att.recorded_by) == ("present", 180, staff_user)
    event = AuditEvent.objects.get(model="therapy_sessions.Attendance")
    assert (event.action, event.patient_id, event.user_id) == (
        "create",
        p.pk,
        staff_user.pk,
    )


@pytest.mark.parametrize("status", [S.LATE, S.LEFT_EARLY])
def test_partial_attendance_keeps_the_minutes_entered(group, staff_user, status):
    session, (p, *_) = group
    att = attendance_record(
        session=session, patient=p, status=status, minutes=150, actor=staff_user
    )
    assert att.minutes == 150


@pytest.mark.parametrize("minutes", [-1, 181, 1000])
def test_minutes_outside_zero_to_length_are_refused_with_a_message(
    group, staff_user, minutes
):
    session, (p, *_) = group
    with pytest.raises(ValidationError) as info:
        attendance_record(
            session=session, patient=p, status=S.LATE, minutes=minutes, actor=staff_user
        )
    assert "between 0 and 180" in str(info.value.message_dict["minutes"])
    assert not Attendance.objects.exists()


def test_late_without_minutes_is_refused(group, staff_user):
    session, (p, *_) = group
    with pytest.raises(ValidationError, match="Enter the minutes attended"):
        attendance_record(session=session, patient=p, status=S.LATE, actor=staff_user)


def test_absence_counts_zero_minutes(group, staff_user):
    session, (p, *_) = group
    att = attendance_record(
        session=session, patient=p, status=S.EXCUSED, actor=staff_user
    )
    assert att.minutes == 0


def test_patient_not_expected_at_the_session_is_refused(group, staff_user):
    session, _ = group
    with pytest.raises(ValidationError, match="not expected"):
        attendance_record(
            session=session,
            patient=AdmittedPatientFactory(),
            status=S.PRESENT,
            actor=staff_user,
        )


def test_future_session_takes_no_attendance_yet(staff_user):
    session = SessionFactory()  # tomorrow evening
    p = AdmittedPatientFactory()
    enrol(session, p)
    with pytest.raises(ValidationError, match="opens at"):
        attendance_record(
            session=session, patient=p, status=S.PRESENT, actor=staff_user
        )


def test_cancelled_session_takes_no_attendance(group, staff_user):
    session, (p, *_) = group
    TherapySession.objects.filter(pk=session.pk).update(
        status="cancelled", cancel_reason="Facilitator ill"
    )
    with pytest.raises(ValidationError, match="cancelled"):
        attendance_record(
            session=session, patient=p, status=S.PRESENT, actor=staff_user
        )


def test_correction_without_a_reason_is_refused(group, staff_user):
    session, (p, *_) = group
    attendance_record(session=session, patient=p, status=S.PRESENT, actor=staff_user)
    with pytest.raises(ValidationError) as info:
        attendance_record(
            session=session, patient=p, status=S.LATE, minutes=90, actor=staff_user
        )
    assert "reason" in info.value.message_dict
    assert Attendance.objects.get().status == "present"
    assert not AttendanceRevision.objects.exists()


def test_correction_keeps_the_earlier_values_who_when_what_why(
    group, staff_user, admin_user
):
    session, (p, *_) = group
    attendance_record(session=session, patient=p, status=S.PRESENT, actor=staff_user)
    att = attendance_record(
        session=session,
        patient=p,
        status=S.LATE,
        minutes=120,
        actor=admin_user,
        reason="Arrived an hour late, sign-in sheet checked",
    )
    assert (att.status, att.minutes, att.recorded_by) == ("late", 120, admin_user)
    rev = AttendanceRevision.objects.get()
    assert (rev.status, rev.minutes, rev.recorded_by, rev.changed_by) == (
        "present",
        180,
        staff_user,
        admin_user,
    )
    assert rev.reason.startswith("Arrived an hour late")
    update = AuditEvent.objects.get(
        action="update", model="therapy_sessions.Attendance"
    )
    assert set(update.changed_fields) == {"status", "minutes"}


def test_same_mark_again_is_not_a_correction(group, staff_user):
    session, (p, *_) = group
    attendance_record(session=session, patient=p, status=S.PRESENT, actor=staff_user)
    attendance_record(session=session, patient=p, status=S.PRESENT, actor=staff_user)
    assert not AttendanceRevision.objects.exists()


def test_after_the_correction_window_only_an_administrator_can_correct(
    staff_user, admin_user
):
    days = ClinicSettings.load().correction_window_days
    session = past_session(hours_ago=24 * (days + 2))
    p = AdmittedPatientFactory()
    enrol(session, p)
    mark(session, p, "present", by=staff_user)
    with pytest.raises(PermissionDenied, match="administrator"):
        attendance_record(
            session=session,
            patient=p,
            status=S.UNEXCUSED,
            actor=staff_user,
            reason="Was not there",
        )
    att = attendance_record(
        session=session,
        patient=p,
        status=S.EXCUSED,
        actor=admin_user,
        reason="Doctor's note brought in",
    )
    assert att.status == "excused"


def test_within_the_correction_window_staff_can_correct(staff_user):
    session = past_session(hours_ago=24 * 2)
    p = AdmittedPatientFactory()
    enrol(session, p)
    mark(session, p, "present", by=staff_user)
    att = attendance_record(
        session=session, patient=p, status=S.EXCUSED, actor=staff_user, reason="Sick"
    )
    assert att.status == "excused"


def test_unexcused_absence_creates_missed_alerts_and_correction_cancels_them(
    staff_user, django_capture_on_commit_callbacks
):
    session = past_session(hours_ago=4)
    consent = ConsentFactory()
    p = consent.patient
    enrol(session, p)
    with django_capture_on_commit_callbacks():
        attendance_record(
            session=session, patient=p, status=S.UNEXCUSED, actor=staff_user
        )
    alert = Alert.objects.get(session=session, patient=p)
    assert alert.state == Alert.State.PENDING
    attendance_record(
        session=session,
        patient=p,
        status=S.PRESENT,
        actor=staff_user,
        reason="Marked the wrong row",
    )
    alert.refresh_from_db()
    assert alert.state == Alert.State.CANCELLED


def test_mark_everyone_else_present_leaves_marked_patients_alone(group, staff_user):
    session, (a, b, c) = group
    attendance_record(
        session=session, patient=a, status=S.LATE, minutes=150, actor=staff_user
    )
    assert attendance_mark_rest_present(session=session, actor=staff_user) == 2
    by_patient = dict(Attendance.objects.values_list("patient_id", "status"))
    assert by_patient == {a.pk: "late", b.pk: "present", c.pk: "present"}


# --- the roster view ---------------------------------------------------------


def roster_url(session):
    return reverse("therapy_sessions:roster", args=[session.pk])


def page_url(view, session):
    """The roster fragment's or the session page's address."""
    if view == "roster":
        return roster_url(session)
    return reverse("therapy_sessions:detail", args=[session.pk])


def corrected_mark(session, patient, user):
    """A present mark with one earlier value (an unexcused absence) in its
    history."""
    AttendanceRevision.objects.create(
        attendance=mark(session, patient, "present", by=user),
        status="unexcused",
        minutes=0,
        recorded_by=user,
        recorded_at=timezone.now(),
        changed_by=user,
        reason="Wrong row",
    )


def test_session_page_shows_the_roster_with_buttons_for_staff(
    group, client_for, staff_user
):
    session, patients = group
    response = client_for(staff_user).get(
        reverse("therapy_sessions:detail", args=[session.pk])
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="roster-body"' in body
    for p in patients:
        assert f'id="mark-{p.pk}-late"' in body
    assert "Mark everyone else present (3)" in body


def test_doctor_reads_the_roster_without_buttons(group, client_for, doctor_user):
    session, (p, *_) = group
    mark(session, p, "late", 100)
    response = client_for(doctor_user).get(roster_url(session), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Late" in body and "100 min" in body
    assert "<button" not in body.split("</table>")[0].split("<tbody>")[1]


def test_htmx_mark_returns_the_roster_fragment_in_place(group, client_for, staff_user):
    session, (p, *_) = group
    response = client_for(staff_user).post(
        roster_url(session),
        {"patient": p.pk, "status": "late", "minutes": "150"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="roster-body"' in body and "<html" not in body
    assert "150 min" in body
    assert response["Vary"].count("HX-Request") == 1
    assert Attendance.objects.get(patient=p).minutes == 150


def test_without_javascript_mark_redirects_back_to_the_session_page(
    group, client_for, staff_user
):
    session, (p, *_) = group
    response = client_for(staff_user).post(
        roster_url(session), {"patient": p.pk, "status": "present"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith(
        reverse("therapy_sessions:detail", args=[session.pk]) + "#roster"
    )
    assert Attendance.objects.get(patient=p).status == "present"


def test_bad_minutes_show_a_message_in_the_row_with_htmx(group, client_for, staff_user):
    session, (p, *_) = group
    response = client_for(staff_user).post(
        roster_url(session),
        {"patient": p.pk, "status": "late", "minutes": "200"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="roster-error-{p.pk}"' in body
    assert "between 0 and 180" in body
    assert 'value="200"' in body  # what was typed is kept
    assert not Attendance.objects.exists()


def test_bad_minutes_without_javascript_show_the_message_after_redirect(
    group, client_for, staff_user
):
    session, (p, *_) = group
    client = client_for(staff_user)
    response = client.post(
        roster_url(session), {"patient": p.pk, "status": "late", "minutes": "abc"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Minutes must be a whole number." in page
    # shown once only
    again = client.get(response["Location"]).content.decode()
    assert "Minutes must be a whole number." not in again


def test_correction_without_reason_shows_a_message_and_keeps_the_mark(
    group, client_for, staff_user
):
    session, (p, *_) = group
    mark(session, p, "present", by=staff_user)
    response = client_for(staff_user).post(
        roster_url(session),
        {"patient": p.pk, "status": "unexcused", "minutes": "", "reason": ""},
        HTTP_HX_REQUEST="true",
    )
    assert "Say why you are changing" in response.content.decode()
    assert Attendance.objects.get().status == "present"


def test_correction_through_the_roster_shows_the_history(group, client_for, staff_user):
    session, (p, *_) = group
    mark(session, p, "present", by=staff_user)
    response = client_for(staff_user).post(
        roster_url(session),
        {
            "patient": p.pk,
            "status": "left_early",
            "minutes": "95",
            "reason": "Left at break",
        },
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert "History (1 correction)" in body
    assert "Was <strong>Present</strong>, 180 min" in body
    assert "Left at break" in body


def test_all_present_view_marks_the_rest(group, client_for, staff_user):
    session, (a, b, c) = group
    mark(session, a, "unexcused", by=staff_user)
    response = client_for(staff_user).post(
        reverse("therapy_sessions:roster_all_present", args=[session.pk]),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "3 of 3 marked" in response.content.decode()
    assert Attendance.objects.filter(status="present").count() == 2


def test_old_session_roster_says_only_an_administrator_can_correct(
    client_for, staff_user, admin_user
):
    session = past_session(hours_ago=24 * 20)
    p = AdmittedPatientFactory()
    mark(session, p, "present", by=staff_user)
    staff_body = client_for(staff_user).get(roster_url(session), HTTP_HX_REQUEST="true")
    assert "only an administrator can correct" in staff_body.content.decode()
    assert f'id="fix-save-{p.pk}"' not in staff_body.content.decode()
    admin_body = client_for(admin_user).get(roster_url(session), HTTP_HX_REQUEST="true")
    assert f'id="fix-save-{p.pk}"' in admin_body.content.decode()


# --- roles on every view -----------------------------------------------------

GET_ROLES = {None: 302, "sponsor": 403, "staff": 200, "doctor": 200, "admin": 200}
WRITE_ROLES = {None: 302, "sponsor": 403, "staff": 302, "doctor": 403, "admin": 302}


@pytest.mark.parametrize("role,expected", GET_ROLES.items())
def test_roster_get_roles(group, client_for, users, role, expected):
    session, _ = group
    response = client_for(users.get(role)).get(roster_url(session))
    assert response.status_code == expected


@pytest.mark.parametrize("role,expected", WRITE_ROLES.items())
def test_roster_post_roles(group, client_for, users, role, expected):
    session, (p, *_) = group
    response = client_for(users.get(role)).post(
        roster_url(session), {"patient": p.pk, "status": "present"}
    )
    assert response.status_code == expected
    assert Attendance.objects.exists() == (expected == 302 and role is not None)


@pytest.mark.parametrize("role,expected", WRITE_ROLES.items())
def test_all_present_roles(group, client_for, users, role, expected):
    session, _ = group
    response = client_for(users.get(role)).post(
        reverse("therapy_sessions:roster_all_present", args=[session.pk])
    )
    assert response.status_code == expected
    assert Attendance.objects.exists() == (expected == 302 and role is not None)


# --- query counts ----------------------------------------------------------------


@pytest.mark.parametrize("view", ["roster", "detail"])
def test_roster_and_session_page_cost_the_same_queries_for_5_and_60_patients(
    client_for, staff_user, view
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from sessions.models import Room

    client = client_for(staff_user)
    counts = []
    for n in (5, 60):
        room = Room.objects.create(name=f"Big room {n}", capacity=80)
        session = past_session(hours_ago=3 + n, room=room, capacity=80)
        patients = [AdmittedPatientFactory() for _ in range(n)]
        enrol(session, *patients)
        for i, p in enumerate(patients):
            if i % 2:
                corrected_mark(session, p, staff_user)
        url = page_url(view, session)
        client.get(url)  # warm the session and role caches
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(
                url, HTTP_HX_REQUEST="true" if view == "roster" else ""
            )
        assert response.status_code == 200
        assert response.content.decode().count("History (1 correction)") == n // 2
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_marks_are_recorded_at_the_time_of_the_request(group, staff_user):
    session, (p, *_) = group
    before = timezone.now()
    att = attendance_record(
        session=session, patient=p, status=S.PRESENT, actor=staff_user
    )
    assert before <= att.recorded_at <= timezone.now() + datetime.timedelta(seconds=1)


@pytest.mark.parametrize(
    "data",
    [
        {"patient": "abc", "status": "present"},
        {"patient": str(10**30), "status": "present"},
        {"patient": "-5", "status": "present"},
        {"status": "present"},
        {"patient": "1", "status": "maybe"},
        {"patient": "1", "status": "late", "minutes": str(10**40)},
        {"patient": "1", "status": "late", "minutes": "1e3"},
    ],
)
def test_hostile_roster_posts_get_a_message_never_a_500(
    group, client_for, staff_user, data
):
    session, (p, *_) = group
    data = {k: (str(p.pk) if v == "1" else v) for k, v in data.items()}
    response = client_for(staff_user).post(
        roster_url(session), data, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert not Attendance.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "/patients/99999999999999999999/attendance.pdf",
        "/sessions/99999999999999999999/attendance/",
    ],
)
def test_huge_ids_are_404(client_for, staff_user, url):
    assert client_for(staff_user).get(url).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"start": "9999-12-31", "end": "9999-12-31"},
        {"start": "0001-01-01", "end": "0001-01-02"},
    ],
)
def test_extreme_dates_get_a_message(client_for, staff_user, params):
    p = AdmittedPatientFactory()
    letter = client_for(staff_user).get(
        reverse("therapy_sessions:attendance_letter", args=[p.pk]), params
    )
    assert letter.status_code == 400
    assert "between 1900 and 2100" in letter.content.decode()
    export = client_for(staff_user).get(
        reverse("therapy_sessions:attendance_export"), {**params, "report": "daily"}
    )
    assert export.status_code == 400


def test_correcting_late_to_present_ignores_the_minutes_left_in_the_box(
    group, client_for, staff_user
):
    session, (p, *_) = group
    mark(session, p, "late", 150, by=staff_user)
    client_for(staff_user).post(
        roster_url(session),
        {
            "form": "correction",
            "patient": p.pk,
            "status": "present",
            "minutes": "150",
            "reason": "Was on time, signed in late",
        },
        HTTP_HX_REQUEST="true",
    )
    att = Attendance.objects.get()
    assert (att.status, att.minutes) == ("present", 180)


@pytest.mark.parametrize("view", ["roster", "detail"])
def test_roster_costs_the_same_queries_before_any_mark_as_with_corrections(
    client_for, staff_user, view
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(staff_user)
    counts = []
    for marked in (False, True):
        session = past_session(hours_ago=4 if marked else 5)
        patients = [AdmittedPatientFactory() for _ in range(3)]
        enrol(session, *patients)
        if marked:
            corrected_mark(session, patients[0], staff_user)
        url = page_url(view, session)
        client.get(url)  # warm the session and role caches
        with CaptureQueriesContext(connection) as ctx:
            body = client.get(url).content.decode()
        assert ("History (1 correction)" in body) is marked
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_unmarked_rows_have_one_tap_buttons_for_every_status(
    group, client_for, staff_user
):
    session, (p, *_) = group
    body = client_for(staff_user).get(roster_url(session)).content.decode()
    row = body.split(f'id="roster-row-{p.pk}"')[1].split("</tr>")[0]
    buttons = re.findall(r'<button type="submit" name="status" value="(\w+)"', row)
    assert buttons == [value for value, _ in S.choices]
    assert ">Excused</button>" in row and ">No-show</button>" in row
    assert f'id="mark-{p.pk}-late"' in row
    assert f'action="{roster_url(session)}"' in row


def test_a_refused_correction_keeps_what_was_typed_in_its_row(
    group, client_for, staff_user
):
    session, (p, *_) = group
    mark(session, p, "present", by=staff_user)
    response = client_for(staff_user).post(
        roster_url(session),
        {
            "patient": p.pk,
            "form": "correction",
            "status": "late",
            "minutes": "90",
            "note": "Bus was late",
            "reason": "",
        },
        HTTP_HX_REQUEST="true",
    )
    row = response.content.decode().split(f'id="roster-row-{p.pk}"')[1]
    row = row.split("</tr>")[0]
    assert '<option value="late" selected>' in row
    assert '<option value="present" selected>' not in row
    assert f'id="fix-minutes-{p.pk}" name="minutes" size="4" value="90"' in row
    assert 'value="Bus was late"' in row
    assert '<details class="correction" open>' in row
