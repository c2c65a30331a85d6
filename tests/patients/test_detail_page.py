"""The patient page: a fixed number of queries whatever the patient has, and the
sections that read the patient's sponsors, sessions and attendance."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.timeutil import clinic_today
from patients.models import Patient
from portal import services as portal_services
from sessions.selectors.attendance import patient_flags
from tests.conftest import make_user
from tests.factories import (
    AdmittedPatientFactory,
    ConsentFactory,
    PatientFactory,
    SessionFactory,
    SponsorFactory,
    enrol,
    mark,
    past_session,
)

from .conftest import approve, register, request_admission

pytestmark = pytest.mark.django_db


def _page(client, patient):
    url = reverse("patients:detail", kwargs={"pk": patient.pk})
    client.get(url)  # warm the session and role caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(ctx.captured_queries)


def _busy_patient(staff_user, doctor_user):
    """A patient with everything the page can show: sponsors (one invited to the
    portal, one with a login, one with a replaced consent), an admission request
    with a decision, status changes, sessions to come and past, and no-shows."""
    patient = register(staff_user, first_name="Avery", last_name="Stone")
    approve(request_admission(patient, staff_user), doctor_user)
    patient.refresh_from_db()
    first = ConsentFactory(sponsor__patient=patient, sponsor__full_name="Carol Ames")
    ConsentFactory(sponsor=first.sponsor, replaces=first)
    invited = SponsorFactory(patient=patient, full_name="Ivy Invited")
    portal_services.invitation_send(sponsor=invited, by=staff_user)
    SponsorFactory(
        patient=patient,
        full_name="Lee Linked",
        user=make_user("Sponsor", email="lee@family.test"),
    )
    for days in (1, 2, 3):
        start = datetime.datetime.combine(
            clinic_today() + datetime.timedelta(days), datetime.time(14), datetime.UTC
        )
        enrol(
            SessionFactory(start=start, end=start + datetime.timedelta(hours=3)),
            patient,
        )
    for hours_ago in (96, 72, 48):
        mark(past_session(hours_ago=hours_ago), patient, "unexcused")
    return patient


def test_patient_page_costs_the_same_queries_whatever_the_patient_has(
    client_for, staff_user, doctor_user
):
    client = client_for(staff_user)
    bare_html, bare = _page(client, PatientFactory())
    busy_html, busy = _page(client, _busy_patient(staff_user, doctor_user))
    assert "No sponsors." in bare_html and "Ivy Invited" in busy_html
    assert bare == busy, (bare, busy)


def test_patient_page_shows_each_sponsors_portal_state_and_consents(
    client_for, staff_user, doctor_user
):
    patient = _busy_patient(staff_user, doctor_user)
    html, _ = _page(client_for(staff_user), patient)
    articles = [
        a.split("</article>")[0] for a in html.split('<article class="sponsor"')
    ]
    carol, ivy, lee = (
        next(a for a in articles if name in a)
        for name in ("Carol Ames", "Ivy Invited", "Lee Linked")
    )
    assert "Invite to sponsor portal" in carol
    consent_ids = [int(n) for n in re.findall(r"<td>#(\d+)", carol)]
    assert len(consent_ids) == 2 and consent_ids[0] > consent_ids[1]  # newest first
    assert "No consent recorded yet" in ivy
    assert re.search(r"replaces #\d+", carol)
    assert "Re-send invitation" in ivy and "Withdraw invitation" in ivy
    assert "has a login" in lee and "Has sponsor portal access" in lee
    assert "has a login" not in carol + ivy


def test_patient_page_lists_the_next_ten_sessions_and_the_last_five(
    client_for, staff_user
):
    patient = AdmittedPatientFactory()
    tomorrow = clinic_today() + datetime.timedelta(1)
    future = []
    for n in range(12):
        start = datetime.datetime.combine(
            tomorrow + datetime.timedelta(n), datetime.time(15), datetime.UTC
        )
        future.append(
            enrol(
                SessionFactory(
                    start=start,
                    end=start + datetime.timedelta(hours=1),
                    title=f"Future {n:02d}",
                ),
                patient,
            )
        )
    in_progress = enrol(
        past_session(hours_ago=1, minutes=180, title="Going on now"), patient
    )
    for n in range(7):
        enrol(past_session(hours_ago=24 * (n + 1), title=f"Past {n:02d}"), patient)
    html, _ = _page(client_for(staff_user), patient)
    schedule = html.split('id="schedule"')[1].split("</section>")[0]
    upcoming = re.findall(r">(Going on now|Future \d\d)</a>", schedule)
    assert upcoming == ["Going on now"] + [f"Future {n:02d}" for n in range(9)]
    assert f"/sessions/{in_progress.pk}/" in schedule
    assert f"/sessions/{future[10].pk}/" not in schedule
    recent = re.findall(r"Past (\d\d)</a>", schedule)
    assert recent == ["00", "01", "02", "03", "04"]


@pytest.mark.parametrize(
    "marks",
    [
        [],
        [(96, "unexcused"), (72, "unexcused")],
        [(96, "unexcused"), (72, "unexcused"), (24, "present")],
        [(24 * 25, "unexcused"), (24 * 15, "present"), (24 * 5, "unexcused")]
        + [(24 * 3, "unexcused"), (24 * 2, "present")],
        [(24 * 40, "unexcused"), (24 * 35, "unexcused"), (24 * 20, "present")],
        [(24 * (20 - n), "unexcused") for n in range(12)],
    ],
)
def test_patient_page_flags_agree_with_the_doctors_queue(client_for, staff_user, marks):
    patient = AdmittedPatientFactory()
    for hours_ago, status in marks:
        mark(past_session(hours_ago=hours_ago), patient, status)
    expected = patient_flags(patient=patient)
    html, _ = _page(client_for(staff_user), patient)
    if expected:
        shown = html.split('id="hours-flags"')[1].split("</p>")[0]
        for reason in expected:
            assert reason in shown
    else:
        assert 'id="hours-flags"' not in html


def test_a_discharged_patients_page_shows_no_flags(client_for, staff_user):
    patient = AdmittedPatientFactory()
    for hours_ago in (72, 48, 24):
        mark(past_session(hours_ago=hours_ago), patient, "unexcused")
    Patient.objects.filter(pk=patient.pk).update(
        status="discharged", discharged_on=clinic_today(), discharge_reason="other"
    )
    html, _ = _page(client_for(staff_user), patient)
    assert 'id="hours-flags"' not in html


def test_patient_page_hours_table_marks_met_days_and_mutes_empty_ones(
    client_for, staff_user
):
    from core.timeutil import make_local, week_start

    patient = AdmittedPatientFactory()
    monday = week_start(clinic_today()) - datetime.timedelta(7)
    for day, minutes in ((monday, 180), (monday + datetime.timedelta(1), 60)):
        start = make_local(day, datetime.time(9))
        session = SessionFactory(start=start, end=start + datetime.timedelta(hours=3))
        mark(session, patient, "late" if minutes < 180 else "present", minutes)
    html, _ = _page(client_for(staff_user), patient)
    row = html.split(f'data-week="{monday:%Y-%m-%d}">')[1].split("</tr>")[0]
    cells = re.findall(r"<td>(.*?)</td>", row)[:7]
    assert cells[:2] == ["3.0 ✓", "1.0"]
    assert cells[2:] == ['<span class="muted">0</span>'] * 5
    this_week = html.split('aria-current="date"')[1].split("</tr>")[0]
    if clinic_today().weekday() < 6:  # Sunday has no day left to come
        assert '<span class="muted">·</span>' in this_week
    chart = html.split("<svg")[1].split("</svg>")[0]
    assert f"Week of {monday:%b} {monday.day}: 4.0 h" in chart
    assert f">{monday.month}/{monday.day}</text>" in chart
