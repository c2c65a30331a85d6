"""The patient page's rows built in Python (patients/templatetags/patient_sections,
sessions/templatetags/attendance_tags and patient_section_tags) write what the
template loops they replaced wrote, byte for byte. The loops are kept as they
were in legacy_rows/; each is rendered in the same template as its tag, so that
both see the same context and csrf token."""

import datetime
from pathlib import Path

import pytest
from django.template import engines
from django.test import RequestFactory
from django.utils import timezone

from core.timeutil import clinic_today
from patients import page, services
from patients.models import Patient
from sessions.models import Alert, TherapySession
from sessions.services.flags import flag_review_record
from tests.factories import (
    ConsentFactory,
    PatientFactory,
    SessionFactory,
    SponsorFactory,
    TrackFactory,
    enrol,
    mark,
    past_session,
)

from .conftest import approve, register, request_admission
from .test_detail_page import _busy_patient
from .test_patient_alerts import _patient_with_alerts

pytestmark = pytest.mark.django_db

LEGACY = Path(__file__).parent / "legacy_rows"
SPLIT = "<!--legacy|tag-->"
LOADS = "{% load patient_sections attendance_tags patient_section_tags pk_urls %}"

# (legacy loop, the tag that replaced it, the context names it reads)
ROWS = [
    ("consents", "{% consent_rows sponsor can_manage %}"),
    ("sponsor_head", "{% sponsor_head sponsor can_manage %}"),
    ("sponsor_consents", "{% sponsor_consents sponsor can_manage %}"),
    ("decisions", "{% decision_rows req %}"),
    ("history", "{% history_rows status_history %}"),
    ("facts", "{% patient_facts patient active_consent %}"),
    ("requests", "{% request_articles requests can_manage can_decide %}"),
    ("ticks", "{% chart_ticks c %}"),
    ("bars", "{% chart_bars c %}"),
    ("weeks", "{% week_rows hours.weeks %}"),
    ("schedule", "{% schedule_rows schedule.upcoming %}"),
    ("recent", "{% recent_sessions schedule.recent %}"),
    ("alerts", "{% sponsor_alert_rows alerts.recent can_retry_alerts %}"),
]


def _both(name, tag, context, request):
    legacy = (LEGACY / f"{name}.html").read_text()
    html = engines["django"].from_string(f"{LOADS}{legacy}{SPLIT}{tag}")
    return html.render(context, request).split(SPLIT)


def _assert_rows_agree(patient, user):
    request = RequestFactory().get(f"/patients/{patient.pk}/")
    request.user = user
    data = page.patient_page(pk=patient.pk, user=user)
    shown = 0
    for can in (True, False):
        base = {
            **data,
            "c": data["hours"]["chart"],
            "alerts": data["sponsor_alerts"],
            "can_manage": can,
            "can_decide": not can,
            "can_retry_alerts": can,
        }
        contexts = {
            "consents": [{**base, "sponsor": s} for s in data["sponsors"]],
            "sponsor_head": [{**base, "sponsor": s} for s in data["sponsors"]],
            "sponsor_consents": [{**base, "sponsor": s} for s in data["sponsors"]],
            "decisions": [{**base, "req": r} for r in data["requests"]],
        }
        for name, tag in ROWS:
            for context in contexts.get(name, [base]):
                legacy, built = _both(name, tag, context, request)
                assert built == legacy, name
                shown += bool(legacy.strip())
    return shown


def test_the_rows_of_a_busy_patient_agree(staff_user, doctor_user):
    patient = _busy_patient(staff_user, doctor_user)
    cancelled = SessionFactory(
        start=timezone.now() + datetime.timedelta(days=4),
        end=timezone.now() + datetime.timedelta(days=4, hours=2),
        room=None,
        modality="telehealth",
        telehealth_url="https://meet.example/x",
        title="Group <b>&</b> more",
    )
    enrol(cancelled, patient)
    TherapySession.objects.filter(pk=cancelled.pk).update(
        status="cancelled", cancel_reason="Snow"
    )
    for hours_ago in (30, 20):
        enrol(past_session(hours_ago=hours_ago, title=f"Past {hours_ago}"), patient)
    assert _assert_rows_agree(patient, staff_user) > 10


def test_the_rows_of_alerts_reviews_and_decisions_agree(staff_user, doctor_user):
    patient, alerts = _patient_with_alerts(7)
    Alert.objects.filter(pk=alerts[-3].pk).update(
        state="skipped", reason="No consent <in force>"
    )
    Alert.objects.filter(pk=alerts[-1].pk).update(last_error="x" * 120)
    for hours_ago in (120, 96, 72):
        mark(past_session(hours_ago=hours_ago), patient, "unexcused")
    flag_review_record(patient=patient, doctor=doctor_user, note="Spoke to them.")
    _assert_rows_agree(patient, staff_user)

    other = register(staff_user, first_name="Dana", last_name="Reyes")
    req = request_admission(other, staff_user, proposed_track=TrackFactory())
    first = approve(req, doctor_user)
    approve(
        req,
        doctor_user,
        decision="conditional",
        conditions="Weekly labs & <more>",
        review_date=clinic_today() + datetime.timedelta(days=30),
        supersedes=first,
    )
    consent = ConsentFactory(
        sponsor=SponsorFactory(patient=other, full_name="O'Brien <Sam>"),
        revocable=False,
        irrevocable_until="the end of probation",
    )
    replaced = ConsentFactory(sponsor=consent.sponsor, replaces=consent)
    services.consent_revoke(
        consent=replaced, actor=staff_user, on=clinic_today(), how="by phone"
    )
    ConsentFactory(
        sponsor=consent.sponsor,
        effective_on=clinic_today() + datetime.timedelta(days=3),
        expires_on=None,
        expires_on_discharge=True,
    )
    assert _assert_rows_agree(other, staff_user) > 5


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {
            "status": "discharged",
            "admitted_on": datetime.date(2026, 1, 5),
            "discharged_on": datetime.date(2026, 3, 1),
            "discharge_reason": "other",
            "referral_detail": "Judge <Ames> & co",
            "presenting_problems": [],
            "presenting_problems_other": 'Gaming "mostly"',
            "medical_probation": True,
            "medical_probation_details": "Liver <panel>",
            "phone": "",
            "email": "a&b@x.test",
            "sponsor_required": True,
        },
        {
            "status": "admitted",
            "admitted_on": datetime.date(2026, 2, 5),
            "presenting_problems": ["alcohol", "opioids", "unknown-code"],
            "sponsor_required": True,
            "preferred_name": "Al",
        },
    ],
)
def test_the_summary_facts_agree(staff_user, doctor_user, fields):
    patient = register(staff_user, first_name="Fay", last_name="O'Neil")
    Patient.objects.filter(pk=patient.pk).update(
        track=TrackFactory(name="Evening <B>"),
        primary_counselor=staff_user,
        attending_doctor=doctor_user,
        **fields,
    )
    if fields.get("sponsor_required") and "preferred_name" in fields:
        ConsentFactory(sponsor=SponsorFactory(patient=patient))
    request = RequestFactory().get(f"/patients/{patient.pk}/")
    request.user = staff_user
    data = page.patient_page(pk=patient.pk, user=staff_user)
    tag = "{% patient_facts patient active_consent %}"
    legacy, built = _both("facts", tag, data, request)
    assert built == legacy
    bare = {**data, "patient": PatientFactory(), "active_consent": False}
    legacy, built = _both("facts", tag, bare, request)
    assert built == legacy


def test_a_pending_request_agrees(staff_user, doctor_user):
    """A pending request (withdraw and decide links: the rows are compared with
    can_manage and can_decide each way), with medical probation, a doctor to
    review it and a summary of several lines to escape."""
    patient = register(staff_user, first_name="Gus", last_name="Hart")
    req = request_admission(
        patient,
        staff_user,
        clinical_summary="Line one <b>\nLine & two\r\n\nLine four",
        medical_probation=True,
        medical_probation_details="Weekly <labs>",
        doctor=doctor_user,
    )
    assert req.status == "pending"
    assert _assert_rows_agree(patient, staff_user) > 3
