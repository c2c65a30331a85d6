"""The patient page's one-statement read (patients.page.patient_page) agrees with
the ORM selectors it replaced (reference.patient_page_orm): the same page, byte
for byte, and the same audit row, for patients with nothing and with everything."""

import datetime
import re

import pytest
from django.http import Http404
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.utils import timezone

from core.models import AuditEvent, ClinicSettings
from core.timeutil import clinic_today
from patients import page, services
from patients.models import Patient
from sessions.services.flags import flag_review_record
from sessions.services.scheduling import calendar_feed_regenerate
from tests.factories import (
    AdmittedPatientFactory,
    ConsentFactory,
    PatientFactory,
    SponsorFactory,
    TrackFactory,
    mark,
    past_session,
)

from .conftest import approve, register, request_admission
from .reference import patient_page_orm
from .test_detail_page import _busy_patient
from .test_patient_alerts import _patient_with_alerts

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'(csrfmiddlewaretoken" value=|"X-CSRFToken": )"[^"]+"')


def _html(read, patient, user):
    """The page as the view renders it from `read`'s context, every control shown
    (csrf tokens, masked afresh on each render, blanked)."""
    request = RequestFactory().get(f"/patients/{patient.pk}/")
    request.user = user
    context = read(pk=patient.pk, user=user)
    context.update(
        can_manage=True,
        can_schedule=True,
        can_decide=True,
        can_review_flags=True,
        can_list_alerts=True,
        can_retry_alerts=True,
    )
    html = render_to_string("patients/detail.html", context, request=request)
    return CSRF.sub(r'\1""', html), context


def _audit_row():
    row = AuditEvent.objects.order_by("-id").first()
    return (
        row.user_id,
        row.role,
        row.action,
        row.model,
        row.object_id,
        row.patient_id,
        row.summary,
    )


def _assert_agree(patient, user):
    orm_html, orm = _html(patient_page_orm, patient, user)
    orm_audit = _audit_row()
    sql_html, sql = _html(page.patient_page, patient, user)
    assert _audit_row() == orm_audit
    assert sql_html == orm_html
    # What the template does not print in full, compared as data.
    assert sql["hours"]["weeks"] == orm["hours"]["weeks"]
    assert sql["hours"]["flags"] == orm["hours"]["flags"]
    assert sql["hours"]["flag_review"] == orm["hours"]["flag_review"]
    assert sql["active_consent"] == orm["active_consent"]
    assert sql["pending_request"] == orm["pending_request"]
    return sql_html


def test_a_bare_patients_page_agrees(staff_user):
    html = _assert_agree(PatientFactory(), staff_user)
    assert "No sponsors." in html


def test_a_busy_patients_page_agrees(staff_user, doctor_user):
    patient = _busy_patient(staff_user, doctor_user)
    calendar_feed_regenerate(actor=staff_user, patient=patient)
    html = _assert_agree(patient, staff_user)
    assert "Ivy Invited" in html and "Re-send invitation" in html
    assert "calendar link" in html and 'id="hours-flags"' in html


def test_a_page_with_alerts_a_flag_review_and_clinic_rules_agrees(
    staff_user, doctor_user
):
    patient, _ = _patient_with_alerts(7)
    for hours_ago in (120, 96, 72):
        mark(past_session(hours_ago=hours_ago), patient, "unexcused")
    flag_review_record(patient=patient, doctor=doctor_user, note="Spoke to them.")
    mark(past_session(hours_ago=30), patient, "unexcused")
    html = _assert_agree(patient, staff_user)
    assert "The 5 most recent of 7" in html and "Spoke to them." in html
    # Rules of the clinic's own (the statement reads them as the ORM does).
    ClinicSettings.objects.update_or_create(
        pk=1,
        defaults={
            "absence_rule_count": 2,
            "absence_rule_days": 3,
            "consecutive_noshow_rule": 5,
            "daily_target_minutes": 60,
        },
    )
    _assert_agree(patient, staff_user)


def test_decisions_revocations_and_discharge_agree(staff_user, doctor_user):
    patient = register(staff_user, first_name="Dana", last_name="Reyes")
    req = request_admission(patient, staff_user, proposed_track=TrackFactory())
    first = approve(req, doctor_user)
    approve(
        req,
        doctor_user,
        decision="conditional",
        conditions="Weekly labs",
        review_date=clinic_today() + datetime.timedelta(days=30),
        supersedes=first,
    )
    patient.refresh_from_db()
    consent = ConsentFactory(sponsor=SponsorFactory(patient=patient))
    services.consent_revoke(
        consent=consent, actor=staff_user, on=clinic_today(), how="in writing"
    )
    ConsentFactory(
        sponsor=consent.sponsor,
        effective_on=clinic_today() + datetime.timedelta(days=3),
    )
    _assert_agree(patient, staff_user)
    Patient.objects.filter(pk=patient.pk).update(
        status="discharged", discharged_on=clinic_today(), discharge_reason="other"
    )
    patient.refresh_from_db()
    _assert_agree(patient, staff_user)


def test_no_such_patient_is_a_404_without_an_audit_row(staff_user):
    before = AuditEvent.objects.count()
    with pytest.raises(Http404):
        page.patient_page(pk=2_000_000_000, user=staff_user)
    assert AuditEvent.objects.count() == before


def test_the_statement_reads_times_as_the_orm_does(staff_user):
    patient = AdmittedPatientFactory()
    read = page.patient_page(pk=patient.pk, user=staff_user)["patient"]
    assert read.created_at == Patient.objects.get(pk=patient.pk).created_at
    assert read.created_at.tzinfo is not None
    assert timezone.is_aware(read.created_at)


def test_opening_the_page_writes_one_audit_row_with_the_requests_address(
    client_for, staff_user
):
    """The statement writes the audit row itself: the same values as audit()
    writes, the request's address and user agent included."""
    patient = PatientFactory()
    client = client_for(staff_user)
    before = AuditEvent.objects.count()
    response = client.get(
        f"/patients/{patient.pk}/",
        HTTP_USER_AGENT="Agent/1.0",
        REMOTE_ADDR="10.1.2.3",
    )
    assert response.status_code == 200
    assert AuditEvent.objects.count() == before + 1
    row = AuditEvent.objects.order_by("-id").first()
    assert (row.user_id, row.role, row.action, row.model, row.object_id) == (
        staff_user.pk,
        "Clinic staff",
        "view",
        "patients.Patient",
        str(patient.pk),
    )
    assert (row.patient_id, row.summary, row.changed_fields) == (
        patient.pk,
        "Viewed patient record",
        [],
    )
    assert (row.ip_address, row.user_agent) == ("10.1.2.3", "Agent/1.0")
    assert abs((timezone.now() - row.at).total_seconds()) < 60
