import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.utils import IntegrityError

from accounts import roles
from core.models import AuditEvent
from core.timeutil import clinic_today
from patients import services
from patients.models import AdmissionRequest, Consent, DoctorDecision, Patient
from tests.conftest import PASSWORD, make_user
from tests.factories import ConsentFactory, SessionFactory, SponsorFactory, enrol

from .conftest import approve, register, request_admission, sign_consent

S = Patient.Status
TODAY = clinic_today


def test_record_numbers_come_from_the_sequence(staff_user):
    a = register(staff_user)
    b = register(staff_user, first_name="Ana", last_name="Ortiz")
    assert a.record_number.startswith("P-") and len(a.record_number) == 8
    assert int(b.record_number[2:]) == int(a.record_number[2:]) + 1


def test_registration_writes_status_history_and_an_audit_row(staff_user):
    patient = register(staff_user)
    change = patient.status_changes.get()
    assert (change.from_status, change.to_status, change.by) == (
        "",
        S.REFERRED,
        staff_user,
    )
    row = AuditEvent.objects.get(patient=patient, action=AuditEvent.Action.CREATE)
    assert row.user == staff_user and "first_name" in row.changed_fields


def test_duplicate_name_and_birth_date_needs_confirmation(staff_user):
    first = register(staff_user)
    with pytest.raises(services.DuplicatePatient) as exc:
        register(staff_user, first_name="jordan", last_name="MILES")
    assert exc.value.duplicates == [first]
    second = register(staff_user, confirm_duplicate=True)
    assert second.pk != first.pk


def test_future_birth_date_is_refused(staff_user):
    with pytest.raises(ValidationError) as exc:
        register(staff_user, date_of_birth=TODAY() + datetime.timedelta(days=1))
    assert "future" in str(exc.value.message_dict["date_of_birth"])


def test_court_referral_names_the_court(staff_user):
    with pytest.raises(ValidationError) as exc:
        register(staff_user, referral_source="court")
    assert "referral_detail" in exc.value.message_dict


def test_full_lifecycle(staff_user, doctor_user):
    patient = register(staff_user)
    req = request_admission(patient, staff_user)
    patient.refresh_from_db()
    assert patient.status == S.AWAITING_APPROVAL
    approve(req, doctor_user)
    patient.refresh_from_db()
    assert patient.status == S.ADMITTED and patient.admitted_on == TODAY()
    services.patient_hold(patient=patient, actor=staff_user, reason="Hospitalized")
    assert Patient.objects.get(pk=patient.pk).status == S.ON_HOLD
    services.patient_resume(patient=patient, actor=staff_user)
    assert Patient.objects.get(pk=patient.pk).status == S.ADMITTED
    services.patient_discharge(
        patient=patient, actor=staff_user, on=TODAY(), reason="completed"
    )
    patient.refresh_from_db()
    assert (patient.status, patient.discharge_reason) == (S.DISCHARGED, "completed")
    moves = list(
        patient.status_changes.order_by("at", "id").values_list("to_status", flat=True)
    )
    assert moves == [
        S.REFERRED,
        S.AWAITING_APPROVAL,
        S.ADMITTED,
        S.ON_HOLD,
        S.ADMITTED,
        S.DISCHARGED,
    ]


ILLEGAL = [
    # (starting status, service call) for every move the lifecycle refuses
    (S.REFERRED, "hold"),
    (S.REFERRED, "resume"),
    (S.AWAITING_APPROVAL, "hold"),
    (S.AWAITING_APPROVAL, "resume"),
    (S.AWAITING_APPROVAL, "request"),
    (S.ADMITTED, "request"),
    (S.ADMITTED, "resume"),
    (S.ON_HOLD, "hold"),
    (S.ON_HOLD, "request"),
    (S.DISCHARGED, "hold"),
    (S.DISCHARGED, "resume"),
    (S.DISCHARGED, "request"),
    (S.DISCHARGED, "discharge"),
]


def _put_in(status, staff_user, doctor_user):
    patient = register(staff_user, first_name=f"P{status}")
    if status == S.REFERRED:
        return patient
    req = request_admission(patient, staff_user)
    if status == S.AWAITING_APPROVAL:
        return Patient.objects.get(pk=patient.pk)
    approve(req, doctor_user)
    patient = Patient.objects.get(pk=patient.pk)
    if status == S.ON_HOLD:
        services.patient_hold(patient=patient, actor=staff_user, reason="x")
    if status == S.DISCHARGED:
        services.patient_discharge(
            patient=patient, actor=staff_user, on=TODAY(), reason="dropped_out"
        )
    return Patient.objects.get(pk=patient.pk)


@pytest.mark.parametrize("start, move", ILLEGAL)
def test_illegal_transitions_are_refused_with_a_reason(
    staff_user, doctor_user, start, move
):
    patient = _put_in(start, staff_user, doctor_user)
    assert patient.status == start
    calls = {
        "hold": lambda: services.patient_hold(
            patient=patient, actor=staff_user, reason="why"
        ),
        "resume": lambda: services.patient_resume(patient=patient, actor=staff_user),
        "request": lambda: request_admission(patient, staff_user),
        "discharge": lambda: services.patient_discharge(
            patient=patient, actor=staff_user, on=TODAY(), reason="other"
        ),
    }
    with pytest.raises(ValidationError) as exc:
        calls[move]()
    assert exc.value.messages[0].strip()
    assert Patient.objects.get(pk=patient.pk).status == start


def test_admission_is_impossible_without_a_doctors_approval(staff_user, doctor_user):
    patient = _put_in(S.AWAITING_APPROVAL, staff_user, doctor_user)
    req = patient.admission_requests.get()
    fake = DoctorDecision(
        request=req, patient=patient, decision="approved", signed_by=staff_user
    )
    with pytest.raises(ValidationError):
        services.patient_admit(patient=patient, actor=staff_user, decision=fake)
    assert Patient.objects.get(pk=patient.pk).status == S.AWAITING_APPROVAL


def test_sponsor_required_blocks_the_request_until_a_consent_is_active(
    staff_user, doctor_user
):
    patient = register(staff_user, sponsor_required=True)
    with pytest.raises(ValidationError) as exc:
        request_admission(patient, staff_user)
    assert "active" in exc.value.messages[0] and "sponsor" in exc.value.messages[0]
    sponsor = services.sponsor_create(
        patient=patient,
        actor=staff_user,
        full_name="Carol Bennett",
        relationship="family",
        email="carol@family.test",
        preferred_channel="email",
    )
    # A consent that takes effect next week is not active yet.
    future = sign_consent(
        sponsor, staff_user, effective_on=TODAY() + datetime.timedelta(7)
    )
    assert future.status == Consent.Status.PENDING
    with pytest.raises(ValidationError):
        request_admission(patient, staff_user)
    sign_consent(sponsor, staff_user)
    request_admission(patient, staff_user)
    assert Patient.objects.get(pk=patient.pk).status == S.AWAITING_APPROVAL


def test_a_wrong_password_does_not_sign(pending_request, doctor_user):
    with pytest.raises(ValidationError) as exc:
        approve(pending_request, doctor_user, password="not-my-password")
    assert "password" in exc.value.message_dict
    assert not DoctorDecision.objects.exists()
    failed = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert failed.user == doctor_user and "signing" in failed.summary
    assert pending_request.patient.status == S.AWAITING_APPROVAL


def test_signing_pauses_after_five_wrong_signatures_and_resumes_after_the_window(
    pending_request, doctor_user, settings
):
    import time_machine
    from django.utils import timezone

    start = timezone.now()
    with time_machine.travel(start, tick=True):
        for _ in range(4):
            with pytest.raises(ValidationError):
                approve(pending_request, doctor_user, password="guess")
        assert services.signing_locked_until(doctor=doctor_user) is None
        with pytest.raises(ValidationError):
            approve(pending_request, doctor_user, password="guess")
        with pytest.raises(ValidationError) as exc:
            approve(pending_request, doctor_user)
        assert exc.value.error_dict["password"][0].code == "signing_locked"
        assert not DoctorDecision.objects.exists()

    later = start + datetime.timedelta(minutes=settings.SIGNING_LOCKOUT_MINUTES + 1)
    with time_machine.travel(later, tick=True):
        assert services.signing_locked_until(doctor=doctor_user) is None
        decision = approve(pending_request, doctor_user)
    assert decision.decision == "approved"


def test_another_doctors_wrong_signatures_do_not_pause_mine(
    pending_request, doctor_user
):
    other = make_user(roles.DOCTOR, full_name="Otto Other")
    for _ in range(6):
        with pytest.raises(ValidationError):
            approve(pending_request, other, password="guess")
    assert approve(pending_request, doctor_user).decision == "approved"


def test_staff_cannot_sign_a_decision(pending_request, staff_user):
    with pytest.raises(PermissionDenied):
        approve(pending_request, staff_user)
    assert not DoctorDecision.objects.exists()


def test_medical_probation_needs_conditions_and_a_review_date(staff_user, doctor_user):
    patient = register(
        staff_user,
        medical_probation=True,
        medical_probation_details="Liver enzymes to recheck in 4 weeks",
    )
    req = request_admission(patient, staff_user)
    assert req.medical_probation
    with pytest.raises(ValidationError) as exc:
        approve(req, doctor_user)
    assert "decision" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        approve(req, doctor_user, decision="conditional")
    assert {"conditions", "review_date"} <= set(exc.value.message_dict)
    decision = approve(
        req,
        doctor_user,
        decision="conditional",
        conditions="Weekly labs",
        review_date=TODAY() + datetime.timedelta(14),
    )
    assert decision.signed_by == doctor_user and decision.signature_method == "password"
    assert Patient.objects.get(pk=patient.pk).status == S.ADMITTED


def test_decline_needs_a_reason_and_sends_the_patient_back_to_referred(
    pending_request, doctor_user
):
    with pytest.raises(ValidationError):
        approve(pending_request, doctor_user, decision="declined")
    approve(
        pending_request,
        doctor_user,
        decision="declined",
        reason="Needs residential care",
    )
    patient = Patient.objects.get(pk=pending_request.patient_id)
    assert patient.status == S.REFERRED
    assert AdmissionRequest.objects.get(pk=pending_request.pk).status == "decided"


def test_a_signed_decision_cannot_be_updated_or_deleted_in_sql(admitted):
    decision = DoctorDecision.objects.get(patient=admitted)
    for sql in (
        "UPDATE patients_doctordecision SET decision = 'declined', reason = 'x' "
        "WHERE id = %s",
        "DELETE FROM patients_doctordecision WHERE id = %s",
    ):
        with (
            pytest.raises(IntegrityError, match="cannot be changed"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [decision.pk])
    assert DoctorDecision.objects.get(pk=decision.pk).decision == "approved"


def test_a_superseding_decision_keeps_both(admitted, doctor_user):
    first = DoctorDecision.objects.get(patient=admitted)
    second = services.decision_sign(
        request=first.request,
        doctor=doctor_user,
        decision="conditional",
        password=PASSWORD,
        conditions="Attend weekly AA meetings",
        review_date=TODAY() + datetime.timedelta(10),
        supersedes=first,
    )
    assert DoctorDecision.objects.filter(patient=admitted).count() == 2
    assert second.supersedes == first
    first.refresh_from_db()
    assert not first.is_current and second.is_current
    assert services.current_decision(first.request) == second
    # Superseding an old (already superseded) decision is refused.
    with pytest.raises(ValidationError):
        services.decision_sign(
            request=first.request,
            doctor=doctor_user,
            decision="approved",
            password=PASSWORD,
            supersedes=first,
        )


def test_a_decided_request_needs_supersedes(admitted, doctor_user):
    req = admitted.admission_requests.get()
    with pytest.raises(ValidationError, match="supersede"):
        approve(req, doctor_user)


def test_an_admitted_patient_cannot_be_declined_by_a_new_decision(
    admitted, doctor_user
):
    first = DoctorDecision.objects.get(patient=admitted)
    with pytest.raises(ValidationError, match="discharge"):
        approve(
            first.request,
            doctor_user,
            decision="declined",
            reason="x",
            supersedes=first,
        )


def test_a_changed_mind_after_a_decline_admits(pending_request, doctor_user):
    declined = approve(
        pending_request, doctor_user, decision="declined", reason="Wait for labs"
    )
    approve(pending_request, doctor_user, supersedes=declined)
    assert Patient.objects.get(pk=pending_request.patient_id).status == S.ADMITTED


def test_consent_status_over_time(staff_user):
    consent = ConsentFactory(
        effective_on=TODAY() - datetime.timedelta(10),
        expires_on=TODAY() + datetime.timedelta(5),
    )
    assert consent.status == Consent.Status.ACTIVE
    assert consent.status_on(TODAY() - datetime.timedelta(11)) == Consent.Status.PENDING
    assert consent.status_on(TODAY() + datetime.timedelta(6)) == Consent.Status.EXPIRED
    services.consent_revoke(
        consent=consent, actor=staff_user, on=TODAY(), how="Signed note at front desk"
    )
    consent.refresh_from_db()
    assert consent.status == Consent.Status.REVOKED
    assert consent.revoked_recorded_by == staff_user
    assert consent.status_on(TODAY() - datetime.timedelta(1)) == Consent.Status.ACTIVE


def test_consent_on_discharge_expires_with_the_discharge(staff_user):
    consent = ConsentFactory(expires_on=None, expires_on_discharge=True)
    assert consent.is_active
    services.patient_discharge(
        patient=consent.patient, actor=staff_user, on=TODAY(), reason="completed"
    )
    consent.refresh_from_db()
    assert consent.status == Consent.Status.EXPIRED


def test_a_discharged_patients_consent_needs_a_date_not_the_discharge(staff_user):
    sponsor = SponsorFactory()
    services.patient_discharge(
        patient=sponsor.patient, actor=staff_user, on=TODAY(), reason="completed"
    )
    purpose = "Attendance record for the court"
    with pytest.raises(ValidationError) as exc:
        sign_consent(sponsor, staff_user, purpose=purpose)
    assert (
        "would never be in force" in exc.value.message_dict["expires_on_discharge"][0]
    )
    assert not Consent.objects.filter(sponsor=sponsor).exists()

    consent = sign_consent(
        sponsor,
        staff_user,
        purpose=purpose,
        expires_on=TODAY() + datetime.timedelta(30),
        expires_on_discharge=False,
    )
    assert consent.status == Consent.Status.ACTIVE


def test_consent_needs_the_witness_and_the_patients_name(staff_user):
    sponsor = SponsorFactory()
    with pytest.raises(ValidationError) as exc:
        sign_consent(
            sponsor,
            staff_user,
            purpose="x",
            signed_name="Somebody Else",
            witnessed=False,
        )
    assert {"witnessed", "signed_name"} <= set(exc.value.message_dict)


def test_an_irrevocable_consent_needs_the_event_to_be_revoked(staff_user):
    patient = register(
        staff_user, referral_source="court", referral_detail="County DUI Court"
    )
    sponsor = services.sponsor_create(
        patient=patient,
        actor=staff_user,
        full_name="Officer Grant",
        relationship="probation",
        email="grant@court.test",
        preferred_channel="email",
    )
    consent = sign_consent(
        sponsor,
        staff_user,
        purpose="Court-ordered monitoring",
        revocable=False,
        irrevocable_until="the end of the probation term",
    )
    with pytest.raises(ValidationError) as exc:
        services.consent_revoke(
            consent=consent, actor=staff_user, on=TODAY(), how="Letter"
        )
    assert "event_occurred" in exc.value.message_dict
    services.consent_revoke(
        consent=consent, actor=staff_user, on=TODAY(), how="Letter", event_occurred=True
    )
    consent.refresh_from_db()
    assert consent.status == Consent.Status.REVOKED


def test_only_court_referred_patients_give_irrevocable_consents(staff_user):
    sponsor = SponsorFactory()
    with pytest.raises(ValidationError) as exc:
        sign_consent(
            sponsor, staff_user, purpose="x", revocable=False, irrevocable_until="event"
        )
    assert "revocable" in exc.value.message_dict


def test_a_new_consent_replaces_the_old_one(staff_user):
    old = ConsentFactory()
    new = sign_consent(
        old.sponsor,
        staff_user,
        purpose="Attendance and hours",
        scope="attendance_hours",
        replaces=old,
    )
    old.refresh_from_db()
    assert new.replaces == old and old.replaced_by == new
    assert old.revoked_on == TODAY() and new.is_active


def test_discharge_and_confirmed_hold_clear_future_sessions(staff_user, doctor_user):
    patient = _put_in(S.ADMITTED, staff_user, doctor_user)
    session = enrol(SessionFactory(), patient)
    services.patient_hold(patient=patient, actor=staff_user, reason="Travel")
    assert session.participants.count() == 1  # not confirmed: kept
    services.patient_resume(patient=patient, actor=staff_user)
    services.patient_hold(
        patient=patient, actor=staff_user, reason="Travel", clear_future_sessions=True
    )
    assert session.participants.count() == 0
    services.patient_resume(patient=patient, actor=staff_user)
    enrol(session, patient)
    services.patient_discharge(
        patient=patient, actor=staff_user, on=TODAY(), reason="transferred"
    )
    assert session.participants.count() == 0


def test_discharge_date_cannot_precede_admission(staff_user, doctor_user):
    patient = _put_in(S.ADMITTED, staff_user, doctor_user)
    with pytest.raises(ValidationError) as exc:
        services.patient_discharge(
            patient=patient,
            actor=staff_user,
            on=patient.admitted_on - datetime.timedelta(1),
            reason="other",
        )
    assert "on" in exc.value.message_dict


def test_sponsor_channel_needs_its_contact(staff_user, referred):
    with pytest.raises(ValidationError) as exc:
        services.sponsor_create(
            patient=referred,
            actor=staff_user,
            full_name="A B",
            relationship="family",
            email="a@b.test",
            preferred_channel="sms",
        )
    assert "phone" in exc.value.message_dict


def test_sponsor_login_links_by_email(staff_user, referred, sponsor_user):
    sponsor = services.sponsor_create(
        patient=referred,
        actor=staff_user,
        full_name="Sid Sponsor",
        relationship="family",
        email=sponsor_user.email.upper(),
        preferred_channel="email",
    )
    assert sponsor.user == sponsor_user
