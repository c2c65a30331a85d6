"""The patient page's "Alerts to sponsors": the newest five missed-session alerts
of the patient with their state, how many there are, a link to the alerts list
narrowed to the patient (by id), and the Retry button for failed ones."""

import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from sessions.models import Alert
from tests.factories import (
    AdmittedPatientFactory,
    ConsentFactory,
    SponsorFactory,
    enrol,
    past_session,
)

pytestmark = pytest.mark.django_db


def _detail(patient):
    return reverse("patients:detail", kwargs={"pk": patient.pk})


def _section(html):
    """The section's HTML, or None when the page has no such section."""
    if 'id="sponsor-alerts"' not in html:
        return None
    return html.split('id="sponsor-alerts"')[1].split("</section>")[0]


def _alert(consent, *, hours_ago, state="sent", channel="email", **kw):
    session = past_session(hours_ago=hours_ago, minutes=60)
    enrol(session, consent.patient)
    if state == "sent":
        kw.setdefault("sent_at", session.end + datetime.timedelta(minutes=35))
    alert = Alert.objects.create(
        session=session,
        patient=consent.patient,
        sponsor=consent.sponsor,
        channel=channel,
        state=state,
        **kw,
    )
    # Created in the order of the sessions: the newest alert is the latest miss.
    Alert.objects.filter(pk=alert.pk).update(
        created_at=session.end + datetime.timedelta(minutes=30)
    )
    return alert


def _patient_with_alerts(n=7):
    """A patient with `n` missed-session alerts to two sponsors, one a day; the
    newest is failed and the one before is an SMS held for quiet hours."""
    patient = AdmittedPatientFactory(first_name="Mara", last_name="Quill")
    carol = ConsentFactory(
        sponsor=SponsorFactory(patient=patient, full_name="Carol Ames")
    )
    otto = ConsentFactory(
        sponsor=SponsorFactory(patient=patient, full_name="Otto Probation")
    )
    alerts = [
        _alert(carol if n_ % 2 else otto, hours_ago=24 * (n - n_) + 2)
        for n_ in range(n)
    ]
    if n >= 2:
        failed, held = alerts[-1], alerts[-2]
        Alert.objects.filter(pk=failed.pk).update(
            state="failed", sent_at=None, last_error="SMTPDataError: 554 rejected"
        )
        Alert.objects.filter(pk=held.pk).update(
            state="pending",
            sent_at=None,
            channel="sms",
            reason=Alert.REASON_QUIET_HOURS,
            next_attempt_at=timezone.now() + datetime.timedelta(hours=8),
        )
    for alert in alerts:
        alert.refresh_from_db()
    return patient, alerts


@pytest.mark.parametrize("role", ["staff", "doctor", "admin"])
def test_clinical_roles_see_the_patients_alerts_to_sponsors(client_for, users, role):
    patient, alerts = _patient_with_alerts(7)
    html = client_for(users[role]).get(_detail(patient)).content.decode()
    section = _section(html)
    assert section is not None and "Alerts to sponsors" in section
    assert "The 5 most recent of 7 missed-session alerts" in section
    assert "1 failed" in section
    rows = re.findall(r'id="sponsor-alert-(\d+)"', section)
    assert [int(pk) for pk in rows] == [a.pk for a in reversed(alerts)][:5]
    assert "Carol Ames" in section and "Otto Probation" in section
    assert "Held for quiet hours" in section and "SMS" in section
    assert "Failed" in section and "SMTPDataError: 554 rejected" in section
    sent = alerts[-3]
    local_sent = timezone.localtime(sent.sent_at)
    assert f"{local_sent:%b} {local_sent.day}, {local_sent:%H:%M}" in section
    start = timezone.localtime(sent.session.start)
    assert f"{start:%a %b} {start.day}, {start:%H:%M}" in section
    assert "Group" in section  # the session's kind


def test_a_sponsor_is_refused_the_patient_page_and_its_alerts(client_for, users):
    patient, _ = _patient_with_alerts(3)
    response = client_for(users["sponsor"]).get(_detail(patient))
    assert response.status_code == 403
    body = response.content.decode()
    assert "Carol Ames" not in body and "Alerts to sponsors" not in body


def test_a_patient_without_alerts_says_so(client_for, staff_user):
    patient = AdmittedPatientFactory()
    section = _section(client_for(staff_user).get(_detail(patient)).content.decode())
    assert "No missed-session alert to a sponsor for this patient." in section
    assert "/alerts/?" not in section and "Retry" not in section


def test_reminders_to_the_patient_are_not_counted_as_alerts_to_sponsors(
    client_for, staff_user
):
    patient, _ = _patient_with_alerts(2)
    session = past_session(hours_ago=1, minutes=30)
    Alert.objects.create(
        kind="reminder",
        session=session,
        patient=patient,
        channel="email",
        state="sent",
        sent_at=timezone.now(),
    )
    section = _section(client_for(staff_user).get(_detail(patient)).content.decode())
    assert "2 missed-session alerts" in section
    assert len(re.findall(r'id="sponsor-alert-\d+"', section)) == 2


def test_patient_page_costs_the_same_queries_with_no_alert_and_with_seven(
    client_for, staff_user
):
    client = client_for(staff_user)
    bare = AdmittedPatientFactory()
    busy, _ = _patient_with_alerts(7)
    counts = []
    for patient in (bare, busy):
        client.get(_detail(patient))  # warm the session and role caches
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(_detail(patient))
        assert response.status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_the_link_opens_the_alerts_list_narrowed_to_the_patient_by_id(
    client_for, users, role
):
    patient, alerts = _patient_with_alerts(7)
    other, _ = _patient_with_alerts(2)
    client = client_for(users[role])
    section = _section(client.get(_detail(patient)).content.decode())
    href = re.search(r'id="sponsor-alerts-all" href="([^"]+)"', section).group(1)
    href = href.replace("&amp;", "&")
    assert href == f"/alerts/?patient_id={patient.pk}&kind=missed"
    assert "Mara" not in href and "Quill" not in href
    assert patient.record_number not in href
    assert "All 7 alerts of this patient" in section

    response = client.get(href)
    assert response.status_code == 200
    assert {a.pk for a in response.context["page"].object_list} == {
        a.pk for a in alerts
    }
    html = response.content.decode()
    assert "7 alerts" in html
    assert "Alerts of" in html and "Mara Quill" in html
    # A visible way back to every patient's alerts, keeping the other filters.
    assert 'href="/alerts/?kind=missed"' in html
    assert f'name="patient_id" value="{patient.pk}"' in html


def test_a_doctor_sees_the_alerts_without_the_staff_only_link_and_retry(
    client_for, doctor_user
):
    patient, alerts = _patient_with_alerts(7)
    section = _section(client_for(doctor_user).get(_detail(patient)).content.decode())
    assert "The 5 most recent of 7" in section
    assert "/alerts/?" not in section
    assert ">Retry</button>" not in section
    assert f"/alerts/{alerts[-1].pk}/retry/" not in section


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_retry_from_the_patient_page_queues_the_alert_and_comes_back(
    client_for, users, role
):
    patient, alerts = _patient_with_alerts(7)
    failed = alerts[-1]
    client = client_for(users[role])
    section = _section(client.get(_detail(patient)).content.decode())
    assert section.count(">Retry</button>") == 1
    form = re.search(
        r'<form method="post" action="([^"]+)">.*?name="next" value="([^"]+)"',
        section,
        re.S,
    )
    action, back = form.groups()
    assert action == reverse("therapy_sessions:alert_retry", args=[failed.pk])
    assert back == f"{_detail(patient)}#sponsor-alerts"

    response = client.post(action, {"next": back}, follow=True)
    assert response.redirect_chain[-1][0] == back
    html = response.content.decode()
    assert f"Alert {failed.pk} queued again." in html
    failed.refresh_from_db()
    assert failed.state == "pending" and failed.attempts == 0
    section = _section(html)
    assert ">Retry</button>" not in section
    assert "failed</span>" not in section and "Failed</span>" not in section


def test_the_doctor_cannot_retry_by_posting_either(client_for, doctor_user):
    patient, alerts = _patient_with_alerts(2)
    response = client_for(doctor_user).post(
        reverse("therapy_sessions:alert_retry", args=[alerts[-1].pk]),
        {"next": _detail(patient)},
    )
    assert response.status_code == 403
    alerts[-1].refresh_from_db()
    assert alerts[-1].state == "failed"


# ------------------------------------------------------- the alerts list filter


@pytest.mark.parametrize("value", ["abc", "-1", "0", "2147483648", "1e9", " "])
def test_a_bad_patient_link_gives_a_message_not_a_500(client_for, staff_user, value):
    _patient_with_alerts(2)
    response = client_for(staff_user).get("/alerts/", {"patient_id": value})
    assert response.status_code == 200
    if value.strip():
        assert "That patient link is not valid." in response.content.decode()


def test_a_link_to_an_unknown_patient_lists_nothing_and_says_so(client_for, staff_user):
    _patient_with_alerts(2)
    response = client_for(staff_user).get("/alerts/", {"patient_id": 999999})
    assert response.status_code == 200
    assert list(response.context["page"].object_list) == []
    assert "No patient has that link." in response.content.decode()


def test_the_patient_filter_is_kept_by_the_pager(client_for, staff_user):
    patient, _ = _patient_with_alerts(3)
    import sessions.views.alerts as views

    original = views.PAGE_SIZE
    views.PAGE_SIZE = 2
    try:
        html = (
            client_for(staff_user)
            .get("/alerts/", {"patient_id": patient.pk})
            .content.decode()
        )
    finally:
        views.PAGE_SIZE = original
    assert f"patient_id={patient.pk}&amp;page=2" in html


@pytest.mark.parametrize("n", [1, 6])
def test_the_narrowed_alerts_list_costs_a_fixed_number_of_queries(
    client_for, staff_user, django_assert_num_queries, n
):
    patient, _ = _patient_with_alerts(n)
    client = client_for(staff_user)
    url = f"/alerts/?patient_id={patient.pk}"
    client.get(url)  # warm the session and role caches
    # session, user, groups (role), count, page, state counts, the patient
    with django_assert_num_queries(7):
        client.get(url)
