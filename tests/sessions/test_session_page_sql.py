"""The session page's one-statement read (sessions.selectors.session_page)
agrees with the ORM selectors it replaced (reference.session_detail_page_orm): the same
page, byte for byte, for every role and roster state; and the roster's rows
built in Python (attendance_tags.roster_rows) write what the template loop
wrote (kept in legacy_rows/roster.html)."""

import datetime
import re
from pathlib import Path

import pytest
from django.template import engines
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from core.models import ClinicSettings
from sessions.models import AttendanceRevision, FamilyMember, TherapySession
from sessions.selectors import session_page
from tests.factories import (
    AdmittedPatientFactory,
    PatientFactory,
    SessionFactory,
    SponsorFactory,
    enrol,
    facilitate,
    mark,
    past_session,
)

from .reference import session_detail_page_orm

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'(csrfmiddlewaretoken" value=|"X-CSRFToken": )"[^"]+"')
LEGACY = Path(__file__).parent / "legacy_rows" / "roster.html"
SPLIT = "<!--legacy|tag-->"


def _request(session, user):
    request = RequestFactory().get(
        reverse("therapy_sessions:detail", args=[session.pk])
    )
    request.user = user
    return request


def _context(page, can_edit):
    context = dict(page["context"], roster=page["roster"], can_edit=can_edit)
    return context


def _html(read, session, user, **kw):
    page = read(pk=session.pk, user=user, **kw)
    html = render_to_string(
        "sessions/detail.html", _context(page, True), request=_request(session, user)
    )
    return CSRF.sub(r'\1""', html), page


def _assert_agree(session, user, **kw):
    orm_html, orm = _html(session_detail_page_orm, session, user, **kw)
    sql_html, sql = _html(session_page.session_detail_page, session, user, **kw)
    assert sql_html == orm_html
    for key in ("unmarked_count", "can_record", "can_correct", "window_closed"):
        assert sql["roster"][key] == orm["roster"][key], key
    assert sql["context"]["seats_left"] == orm["context"]["seats_left"]
    return sql


def _assert_rows_agree(session, user, **kw):
    page = session_page.session_detail_page(pk=session.pk, user=user, **kw)
    template = engines["django"].from_string(
        "{% load attendance_tags %}{% url 'therapy_sessions:roster' session.pk"
        " as roster_url %}"
        + LEGACY.read_text()
        + SPLIT
        + "{% roster_rows roster roster_url %}"
    )
    legacy, built = template.render(
        _context(page, True), _request(session, user)
    ).split(SPLIT)
    assert built == legacy
    return legacy


def _corrected(session, patient, user, **over):
    attendance = mark(session, patient, "late", minutes=90, by=user)
    attendance.note = "Bus <late> & more"
    attendance.save()
    for n, status in enumerate(("unexcused", "present")):
        AttendanceRevision.objects.create(
            attendance=attendance,
            status=status,
            minutes=0 if status == "unexcused" else session.minutes,
            note="first" if n else "",
            recorded_by=user,
            recorded_at=timezone.now() - datetime.timedelta(hours=n + 1),
            changed_by=user,
            changed_at=timezone.now() - datetime.timedelta(minutes=n),
            reason=f"Wrong row {n}",
        )
    return attendance


@pytest.fixture
def busy_group(staff_user):
    session = past_session(hours_ago=2, title="Relapse <prevention>")
    facilitate(session, staff_user)
    patients = [AdmittedPatientFactory(last_name=f"Zed{n}") for n in range(5)]
    enrol(session, *patients)
    mark(session, patients[0], "present", by=staff_user)
    mark(session, patients[1], "unexcused", by=staff_user)
    _corrected(session, patients[2], staff_user)
    return session, patients


@pytest.mark.parametrize("role", ["staff", "doctor", "admin"])
def test_a_busy_group_page_agrees_for_every_role(busy_group, users, role):
    session, patients = busy_group
    _assert_agree(session, users[role])
    legacy = _assert_rows_agree(session, users[role])
    if role != "doctor":
        assert "Save correction" in legacy and "mark-" in legacy
    assert "History (2 corrections)" in legacy


def test_a_refused_submission_shows_in_its_row_in_both(busy_group, staff_user):
    session, patients = busy_group
    errors = {patients[3].pk: "Minutes must be <= 180.", patients[2].pk: "Reason?"}
    values = {
        patients[3].pk: {"minutes": "999"},
        patients[2].pk: {"status": "excused", "minutes": "", "note": "n"},
    }
    _assert_agree(session, staff_user, errors=errors, values=values)
    legacy = _assert_rows_agree(session, staff_user, errors=errors, values=values)
    assert "roster-error-" in legacy and " open>" in legacy


def test_closed_window_future_cancelled_and_empty_sessions_agree(
    busy_group, staff_user, admin_user
):
    session, _ = busy_group
    TherapySession.objects.filter(pk=session.pk).update(
        start=session.start - datetime.timedelta(days=20),
        end=session.end - datetime.timedelta(days=20),
    )
    ClinicSettings.objects.update_or_create(
        pk=1, defaults={"correction_window_days": 3}
    )
    for user in (staff_user, admin_user):
        _assert_agree(session, user)
        _assert_rows_agree(session, user)
    future = SessionFactory(
        start=timezone.now() + datetime.timedelta(days=2),
        end=timezone.now() + datetime.timedelta(days=2, hours=3),
    )
    enrol(future, PatientFactory())
    _assert_agree(future, staff_user)
    TherapySession.objects.filter(pk=future.pk).update(
        status="cancelled", cancel_reason="Snow"
    )
    _assert_agree(future, staff_user)
    _assert_agree(SessionFactory(), staff_user)


def test_a_family_session_page_agrees(staff_user):
    start = timezone.now() - datetime.timedelta(hours=1)
    session = SessionFactory(
        kind="family", start=start, end=start + datetime.timedelta(hours=1)
    )
    patient = AdmittedPatientFactory()
    enrol(session, patient)
    sponsor = SponsorFactory(patient=patient)
    FamilyMember.objects.create(
        session=session, name="Pat <Q>", relationship="aunt", sponsor=sponsor
    )
    FamilyMember.objects.create(session=session, name="Lee", relationship="uncle")
    _assert_agree(session, staff_user)


def test_no_such_session_reads_none(staff_user):
    assert session_page.session_detail_page(pk=2_000_000_000, user=staff_user) is None
