"""Writes about patients: registration, the status lifecycle, admission requests,
doctors' signed decisions, sponsors, consents and the PDFs that leave the clinic.

Every function takes keyword-only arguments, runs inside one transaction and
writes its audit row there. Refusals are `django.core.exceptions.ValidationError`
with a message a person understands (views put it on the form)."""

import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts import roles
from accounts.selectors import user_by_email
from core.audit import audit
from core.models import AuditEvent
from core.timeutil import clinic_today

from .models import (
    AdmissionRequest,
    Consent,
    Disclosure,
    DoctorDecision,
    Patient,
    PatientStatusChange,
    Sponsor,
    active_consent_q,
)

Status = Patient.Status
A = AuditEvent.Action

# The status lifecycle: which moves are legal, and which service makes them.
TRANSITIONS = {
    Status.REFERRED: {Status.AWAITING_APPROVAL, Status.DISCHARGED},
    Status.AWAITING_APPROVAL: {Status.ADMITTED, Status.REFERRED, Status.DISCHARGED},
    Status.ADMITTED: {Status.ON_HOLD, Status.DISCHARGED},
    Status.ON_HOLD: {Status.ADMITTED, Status.DISCHARGED},
    Status.DISCHARGED: set(),
}

WHY_NOT = {
    Status.ADMITTED: "A patient is admitted only through a doctor's signed approval "
    "of a pending admission request.",
    Status.AWAITING_APPROVAL: "Admission can be requested only for a referred patient.",
    Status.ON_HOLD: "Only an admitted patient can be put on hold.",
    Status.REFERRED: "A patient goes back to referred only when a pending admission "
    "request is declined or withdrawn.",
    Status.DISCHARGED: "This patient is already discharged.",
}

# Fields staff may set on a patient (status and its dates go through the lifecycle).
PATIENT_FIELDS = (
    "first_name",
    "last_name",
    "preferred_name",
    "date_of_birth",
    "phone",
    "email",
    "preferred_language",
    "referral_source",
    "referral_detail",
    "presenting_problems",
    "presenting_problems_other",
    "medical_probation",
    "medical_probation_details",
    "primary_counselor",
    "attending_doctor",
    "track",
    "sponsor_required",
    "reminders_opt_in",
)


class DuplicatePatient(ValidationError):
    """Another patient has the same name and date of birth; staff must confirm."""

    def __init__(self, duplicates):
        self.duplicates = list(duplicates)
        names = ", ".join(p.record_number for p in self.duplicates)
        super().__init__(
            f"A patient with the same name and date of birth already exists ({names}). "
            "If this is a different person, tick the confirmation box and save again.",
            code="duplicate",
        )


# ---------------------------------------------------------------- patients


def record_number_next():
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('patients_record_number_seq')")
        (number,) = cursor.fetchone()
    return f"P-{number:06d}"


def patient_duplicates(*, first_name, last_name, date_of_birth, exclude_pk=None):
    qs = Patient.objects.filter(
        first_name__iexact=first_name.strip(),
        last_name__iexact=last_name.strip(),
        date_of_birth=date_of_birth,
    )
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return list(qs.order_by("id"))


def _validate_patient_fields(fields):
    errors = {}
    dob = fields.get("date_of_birth")
    if dob and dob > clinic_today():
        errors["date_of_birth"] = "The date of birth cannot be in the future."
    elif dob and dob <= datetime.date(1900, 1, 1):
        errors["date_of_birth"] = "Please check the year of birth."
    if (
        fields.get("referral_source") == Patient.ReferralSource.COURT
        and not (fields.get("referral_detail") or "").strip()
    ):
        errors["referral_detail"] = (
            "For a court or DUI referral, name the referring court or probation office."
        )
    if (
        fields.get("medical_probation")
        and not (fields.get("medical_probation_details") or "").strip()
    ):
        errors["medical_probation_details"] = (
            "Describe the medical probation (what the doctor should review)."
        )
    problems = fields.get("presenting_problems") or []
    if (
        Patient.Problem.OTHER in problems
        and not (fields.get("presenting_problems_other") or "").strip()
    ):
        errors["presenting_problems_other"] = "Say what the other problem is."
    counselor = fields.get("primary_counselor")
    if counselor is not None and not roles.has_role(counselor, roles.STAFF):
        errors["primary_counselor"] = "The primary counselor must be clinic staff."
    doctor = fields.get("attending_doctor")
    if doctor is not None and not roles.has_role(doctor, roles.DOCTOR):
        errors["attending_doctor"] = "The attending doctor must have the Doctor role."
    if errors:
        raise ValidationError(errors)


def _status_change(*, patient, to_status, actor, reason=""):
    frm = patient.status
    if to_status not in TRANSITIONS[frm]:
        raise ValidationError(
            f"A patient cannot go from {Status(frm).label.lower()} to "
            f"{Status(to_status).label.lower()}. {WHY_NOT.get(to_status, '')}".strip(),
            code="illegal_transition",
        )
    patient.status = to_status
    PatientStatusChange.objects.create(
        patient=patient, from_status=frm, to_status=to_status, by=actor, reason=reason
    )


def _lock(patient):
    """Re-read the patient row under a lock, so that two moves cannot race."""
    fresh = Patient.objects.select_for_update().get(pk=patient.pk)
    patient.__dict__.update(
        {k: v for k, v in fresh.__dict__.items() if not k.startswith("_")}
    )
    return patient


@transaction.atomic
def patient_create(*, actor, confirm_duplicate=False, **fields):
    unknown = set(fields) - set(PATIENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown patient fields: {sorted(unknown)}")
    _validate_patient_fields(fields)
    dupes = patient_duplicates(
        first_name=fields["first_name"],
        last_name=fields["last_name"],
        date_of_birth=fields["date_of_birth"],
    )
    if dupes and not confirm_duplicate:
        raise DuplicatePatient(dupes)
    patient = Patient(record_number=record_number_next(), **fields)
    patient.full_clean(exclude=["record_number"])
    patient.save()
    PatientStatusChange.objects.create(
        patient=patient,
        from_status="",
        to_status=Status.REFERRED,
        by=actor,
        reason="Registered" + (" (confirmed not a duplicate)" if dupes else ""),
    )
    audit(
        user=actor,
        action=A.CREATE,
        obj=patient,
        patient=patient,
        changed_fields=[f for f in fields if fields[f] not in (None, "", [], False)],
        summary=f"Registered patient {patient.record_number}",
    )
    return patient


@transaction.atomic
def patient_update(*, patient, actor, confirm_duplicate=False, **fields):
    unknown = set(fields) - set(PATIENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown patient fields: {sorted(unknown)}")
    _lock(patient)
    merged = {f: getattr(patient, f) for f in PATIENT_FIELDS}
    merged.update(fields)
    _validate_patient_fields(merged)
    changed = [f for f, v in fields.items() if getattr(patient, f) != v]
    identity = {"first_name", "last_name", "date_of_birth"} & set(changed)
    if identity and not confirm_duplicate:
        dupes = patient_duplicates(
            first_name=merged["first_name"],
            last_name=merged["last_name"],
            date_of_birth=merged["date_of_birth"],
            exclude_pk=patient.pk,
        )
        if dupes:
            raise DuplicatePatient(dupes)
    for f in changed:
        setattr(patient, f, fields[f])
    if changed:
        patient.full_clean(exclude=["record_number"])
        patient.save()
        audit(
            user=actor,
            action=A.UPDATE,
            obj=patient,
            patient=patient,
            changed_fields=changed,
            summary=f"Edited patient {patient.record_number}",
        )
    return patient


def _clear_future_sessions(*, patient, actor):
    # Written by the scheduling engineer; imported here so that patients does not
    # depend on sessions at import time.
    from sessions.services.scheduling import patient_future_sessions_clear

    return patient_future_sessions_clear(patient=patient, actor=actor)


@transaction.atomic
def patient_admit(*, patient, actor, decision, on=None):
    """Admit a patient. Only `decision_sign` calls this, with the approval."""
    if decision.decision not in (
        DoctorDecision.Decision.APPROVED,
        DoctorDecision.Decision.CONDITIONAL,
    ) or not roles.has_role(decision.signed_by, roles.DOCTOR):
        raise ValidationError(WHY_NOT[Status.ADMITTED], code="illegal_transition")
    _lock(patient)
    _status_change(
        patient=patient,
        to_status=Status.ADMITTED,
        actor=actor,
        reason=f"{decision.get_decision_display()} by {decision.signed_by}",
    )
    patient.admitted_on = on or clinic_today()
    patient.save(update_fields=["status", "admitted_on", "updated_at"])
    audit(
        user=actor,
        action=A.UPDATE,
        obj=patient,
        patient=patient,
        changed_fields=["status", "admitted_on"],
        summary=f"Admitted {patient.record_number}",
    )
    return patient


@transaction.atomic
def patient_hold(*, patient, actor, reason, clear_future_sessions=False):
    if not reason.strip():
        raise ValidationError({"reason": "Say why the patient is put on hold."})
    _lock(patient)
    _status_change(
        patient=patient, to_status=Status.ON_HOLD, actor=actor, reason=reason
    )
    patient.save(update_fields=["status", "updated_at"])
    audit(
        user=actor,
        action=A.UPDATE,
        obj=patient,
        patient=patient,
        changed_fields=["status"],
        summary=f"Put {patient.record_number} on hold",
    )
    if clear_future_sessions:
        _clear_future_sessions(patient=patient, actor=actor)
    return patient


@transaction.atomic
def patient_resume(*, patient, actor, reason=""):
    _lock(patient)
    if patient.status != Status.ON_HOLD:
        raise ValidationError(
            f"Only a patient on hold can resume; this patient is "
            f"{patient.get_status_display().lower()}.",
            code="illegal_transition",
        )
    _status_change(
        patient=patient,
        to_status=Status.ADMITTED,
        actor=actor,
        reason=reason or "Resumed after hold",
    )
    patient.save(update_fields=["status", "updated_at"])
    audit(
        user=actor,
        action=A.UPDATE,
        obj=patient,
        patient=patient,
        changed_fields=["status"],
        summary=f"Resumed {patient.record_number}",
    )
    return patient


@transaction.atomic
def patient_discharge(*, patient, actor, on, reason, note=""):
    if reason not in Patient.DischargeReason.values:
        raise ValidationError({"reason": "Choose a discharge reason."})
    if on > clinic_today():
        raise ValidationError({"on": "The discharge date cannot be in the future."})
    _lock(patient)
    if patient.admitted_on and on < patient.admitted_on:
        raise ValidationError(
            {"on": "The discharge date cannot be before the admission date."}
        )
    label = Patient.DischargeReason(reason).label
    _status_change(
        patient=patient,
        to_status=Status.DISCHARGED,
        actor=actor,
        reason=f"{label}{': ' + note if note else ''}"[:300],
    )
    patient.discharged_on = on
    patient.discharge_reason = reason
    patient.save(
        update_fields=["status", "discharged_on", "discharge_reason", "updated_at"]
    )
    # A pending admission request dies with the discharge.
    AdmissionRequest.objects.filter(
        patient=patient, status=AdmissionRequest.Status.PENDING
    ).update(status=AdmissionRequest.Status.WITHDRAWN)
    audit(
        user=actor,
        action=A.UPDATE,
        obj=patient,
        patient=patient,
        changed_fields=["status", "discharged_on", "discharge_reason"],
        summary=f"Discharged {patient.record_number}: {label}",
    )
    _clear_future_sessions(patient=patient, actor=actor)
    return patient


# ------------------------------------------------------------ admission requests


def patient_has_active_consent(*, patient, day=None):
    day = day or clinic_today()
    return (
        Consent.objects.filter(patient=patient).filter(active_consent_q(day)).exists()
    )


@transaction.atomic
def admission_request_create(
    *,
    patient,
    actor,
    clinical_summary,
    proposed_start,
    presenting_problems=None,
    level_of_care=AdmissionRequest.LevelOfCare.IOP_21,
    asam_edition=AdmissionRequest.AsamEdition.FOURTH,
    proposed_track=None,
    medical_probation=None,
    medical_probation_details=None,
    doctor=None,
):
    _lock(patient)
    if patient.status != Status.REFERRED:
        raise ValidationError(
            f"Admission can be requested only for a referred patient; this patient "
            f"is {patient.get_status_display().lower()}.",
            code="illegal_transition",
        )
    if patient.sponsor_required and not patient_has_active_consent(patient=patient):
        raise ValidationError(
            "This patient requires a sponsor: add a sponsor with an active, signed "
            "consent before requesting admission.",
            code="sponsor_required",
        )
    if not clinical_summary.strip():
        raise ValidationError({"clinical_summary": "Write the clinical summary."})
    if proposed_start < clinic_today():
        raise ValidationError(
            {"proposed_start": "The proposed start date cannot be in the past."}
        )
    if medical_probation is None:
        medical_probation = patient.medical_probation
    if medical_probation_details is None:
        medical_probation_details = patient.medical_probation_details
    if medical_probation and not medical_probation_details.strip():
        raise ValidationError(
            {"medical_probation_details": "Describe the medical probation."}
        )
    if doctor is not None and not roles.has_role(doctor, roles.DOCTOR):
        raise ValidationError({"doctor": "Choose a doctor."})
    request = AdmissionRequest.objects.create(
        patient=patient,
        requested_by=actor,
        doctor=doctor,
        clinical_summary=clinical_summary,
        presenting_problems=list(
            presenting_problems
            if presenting_problems is not None
            else patient.presenting_problems
        ),
        level_of_care=level_of_care,
        asam_edition=asam_edition,
        proposed_track=proposed_track or patient.track,
        proposed_start=proposed_start,
        medical_probation=medical_probation,
        medical_probation_details=medical_probation_details
        if medical_probation
        else "",
    )
    _status_change(
        patient=patient,
        to_status=Status.AWAITING_APPROVAL,
        actor=actor,
        reason="Admission requested",
    )
    patient.save(update_fields=["status", "updated_at"])
    audit(
        user=actor,
        action=A.CREATE,
        obj=request,
        patient=patient,
        summary=f"Requested admission for {patient.record_number}",
    )
    return request


@transaction.atomic
def admission_request_withdraw(*, request, actor, reason):
    request = AdmissionRequest.objects.select_for_update().get(pk=request.pk)
    if request.status != AdmissionRequest.Status.PENDING:
        raise ValidationError("Only a pending request can be withdrawn.")
    if not reason.strip():
        raise ValidationError({"reason": "Say why the request is withdrawn."})
    patient = _lock(request.patient)
    request.status = AdmissionRequest.Status.WITHDRAWN
    request.save(update_fields=["status"])
    _status_change(
        patient=patient,
        to_status=Status.REFERRED,
        actor=actor,
        reason=f"Admission request withdrawn: {reason}"[:300],
    )
    patient.save(update_fields=["status", "updated_at"])
    audit(
        user=actor,
        action=A.UPDATE,
        obj=request,
        patient=patient,
        changed_fields=["status"],
        summary="Withdrew admission request",
    )
    return request


# ------------------------------------------------------------ doctors' decisions


SIGNING_WRONG_PASSWORD = "Wrong password when signing an admission decision"
SIGNING_WRONG_CODE = "Wrong one-time code when signing an admission decision"


def signing_locked_until(*, doctor, now=None):
    """When the doctor may try to sign again after too many wrong signatures, or
    None. Counted from the audit trail (durable, shared by every process): at
    SIGNING_MAX_FAILURES wrong passwords or codes within SIGNING_LOCKOUT_MINUTES,
    signing pauses until that long after the last of them."""
    now = now or timezone.now()
    window = datetime.timedelta(minutes=settings.SIGNING_LOCKOUT_MINUTES)
    failures = list(
        AuditEvent.objects.filter(
            user=doctor,
            action=A.LOGIN_FAILED,
            summary__in=(SIGNING_WRONG_PASSWORD, SIGNING_WRONG_CODE),
            at__gt=now - window,
        )
        .order_by("-at")
        .values_list("at", flat=True)[: settings.SIGNING_MAX_FAILURES]
    )
    if len(failures) < settings.SIGNING_MAX_FAILURES:
        return None
    return failures[0] + window


def decision_signature_verify(*, doctor, password, otp_code=None):
    """Check the doctor's electronic signature: the account password again, and the
    current one-time code once the doctor has two-factor authentication.
    Returns the signature method; a failed attempt leaves an audit row, and too
    many in a row pause signing for the account (checked before the password)."""
    if not roles.has_role(doctor, roles.DOCTOR):
        raise PermissionDenied("Only a doctor may sign an admission decision.")
    locked_until = signing_locked_until(doctor=doctor)
    if locked_until is not None:
        audit(
            user=doctor,
            action=A.LOGIN_FAILED,
            obj=doctor,
            summary="Signing refused: too many wrong signatures",
        )
        at = timezone.localtime(locked_until).strftime("%H:%M")
        raise ValidationError(
            {
                "password": ValidationError(
                    "Too many wrong signatures in a row: signing is paused for "
                    f"your account until {at}. Nothing was signed. If this was not "
                    "you, tell the clinic's administrator.",
                    code="signing_locked",
                )
            }
        )
    if not (password and doctor.is_active and doctor.check_password(password)):
        audit(
            user=doctor,
            action=A.LOGIN_FAILED,
            obj=doctor,
            summary=SIGNING_WRONG_PASSWORD,
        )
        raise ValidationError(
            {"password": "That password is not correct; the decision was not signed."},
            code="bad_signature",
        )
    from accounts.mfa import has_totp, verify_totp

    if has_totp(doctor):
        # With two-factor authentication on, the signature also needs the
        # current one-time code (allauth.mfa's TOTP check; a code works once).
        if not verify_totp(user=doctor, code=otp_code):
            audit(
                user=doctor,
                action=A.LOGIN_FAILED,
                obj=doctor,
                summary=SIGNING_WRONG_CODE,
            )
            raise ValidationError(
                {
                    "otp_code": "Enter the current code from your authenticator "
                    "app; the decision was not signed."
                },
                code="bad_signature",
            )
        return "password+totp"
    return "password"


def current_decision(request):
    return (
        DoctorDecision.objects.filter(request=request, superseded_by__isnull=True)
        .order_by("-signed_at", "-id")
        .first()
    )


def decision_sign(
    *,
    request,
    doctor,
    decision,
    password,
    otp_code=None,
    conditions="",
    review_date=None,
    reason="",
    supersedes=None,
):
    """A doctor signs a decision on an admission request.

    On a pending request: approve (admits the patient), approve with conditions
    (admits; conditions and a review date), or decline (the patient goes back to
    referred). On a decided request, a new decision supersedes the current one;
    both are kept (the table refuses UPDATE and DELETE)."""
    # The signature is checked first, outside the decision's transaction, so that
    # the audit row of a failed attempt stays.
    method = decision_signature_verify(
        doctor=doctor, password=password, otp_code=otp_code
    )
    with transaction.atomic():
        return _decision_record(
            request=request,
            doctor=doctor,
            decision=decision,
            method=method,
            conditions=conditions,
            review_date=review_date,
            reason=reason,
            supersedes=supersedes,
        )


def _decision_record(
    *, request, doctor, decision, method, conditions, review_date, reason, supersedes
):
    request = AdmissionRequest.objects.select_for_update().get(pk=request.pk)
    patient = _lock(request.patient)
    D = DoctorDecision.Decision
    if decision not in D.values:
        raise ValidationError(
            {"decision": "Choose approve, approve with conditions or decline."}
        )
    conditions, reason = conditions.strip(), reason.strip()
    errors = {}
    if decision == D.CONDITIONAL:
        if not conditions:
            errors["conditions"] = "State the conditions of the approval."
        if review_date is None:
            errors["review_date"] = "A conditional approval needs a review date."
        elif review_date < clinic_today():
            errors["review_date"] = "The review date cannot be in the past."
    elif decision == D.APPROVED and request.medical_probation:
        errors["decision"] = (
            "This patient is on medical probation: approve with conditions and a "
            "review date, or decline."
        )
    if decision == D.DECLINED and not reason:
        errors["reason"] = "Give the reason for declining."
    if errors:
        raise ValidationError(errors)

    previous = current_decision(request)
    if request.status == AdmissionRequest.Status.PENDING:
        if supersedes is not None or previous is not None:
            raise ValidationError("This request has no decision to supersede.")
    elif request.status == AdmissionRequest.Status.DECIDED:
        if supersedes is None or previous is None or supersedes.pk != previous.pk:
            raise ValidationError(
                "This request is already decided. A new decision must supersede the "
                "current one."
            )
        latest = patient.admission_requests.order_by("-requested_at", "-id").first()
        if latest.pk != request.pk:
            raise ValidationError(
                "A newer admission request exists for this patient; decide that one."
            )
        if decision == D.DECLINED and patient.status in (
            Status.ADMITTED,
            Status.ON_HOLD,
        ):
            raise ValidationError(
                "This patient is already admitted. To end the admission, staff "
                "discharge the patient; a decision cannot be turned into a decline."
            )
        if patient.status == Status.DISCHARGED:
            raise ValidationError(
                "This patient is discharged; request a new admission."
            )
    else:
        raise ValidationError("This request was withdrawn.")

    new = DoctorDecision.objects.create(
        request=request,
        patient=patient,
        decision=decision,
        conditions=conditions if decision == D.CONDITIONAL else "",
        review_date=review_date if decision == D.CONDITIONAL else None,
        reason=reason,
        signed_by=doctor,
        signed_at=timezone.now(),
        signature_method=method,
        supersedes=supersedes,
    )
    audit(
        user=doctor,
        action=A.SIGN,
        obj=new,
        patient=patient,
        summary=f"{new.get_decision_display()} admission of {patient.record_number}"
        + (f" (supersedes decision {supersedes.pk})" if supersedes else ""),
    )
    if request.status == AdmissionRequest.Status.PENDING:
        request.status = AdmissionRequest.Status.DECIDED
        request.save(update_fields=["status"])
    approving = decision in (D.APPROVED, D.CONDITIONAL)
    if approving and patient.status in (Status.AWAITING_APPROVAL, Status.REFERRED):
        if patient.status == Status.REFERRED:
            # A changed mind after a decline: the request is live again.
            _status_change(
                patient=patient,
                to_status=Status.AWAITING_APPROVAL,
                actor=doctor,
                reason="Decline superseded by a new decision",
            )
            patient.save(update_fields=["status", "updated_at"])
        patient_admit(patient=patient, actor=doctor, decision=new)
    elif decision == D.DECLINED and patient.status == Status.AWAITING_APPROVAL:
        _status_change(
            patient=patient,
            to_status=Status.REFERRED,
            actor=doctor,
            reason=f"Admission declined: {reason}"[:300],
        )
        patient.save(update_fields=["status", "updated_at"])
    return new


# ------------------------------------------------------------ sponsors, consents

SPONSOR_FIELDS = ("full_name", "relationship", "phone", "email", "preferred_channel")


def _validate_sponsor(fields):
    errors = {}
    channel = fields.get("preferred_channel")
    if not fields.get("phone") and not fields.get("email"):
        errors["email"] = "Give the sponsor's email address or phone number."
    if channel in (Sponsor.Channel.EMAIL, Sponsor.Channel.BOTH) and not fields.get(
        "email"
    ):
        errors["email"] = "Email alerts need the sponsor's email address."
    if channel in (Sponsor.Channel.SMS, Sponsor.Channel.BOTH) and not fields.get(
        "phone"
    ):
        errors["phone"] = "Text-message alerts need the sponsor's phone number."
    if errors:
        raise ValidationError(errors)


def _sponsor_login_for(email):
    user = user_by_email(email)
    return user if user is not None and roles.has_role(user, roles.SPONSOR) else None


@transaction.atomic
def sponsor_create(*, patient, actor, **fields):
    fields = {k: fields.get(k, "") for k in SPONSOR_FIELDS}
    _validate_sponsor(fields)
    if patient.status == Status.DISCHARGED:
        raise ValidationError("This patient is discharged; sponsors cannot be added.")
    user = _sponsor_login_for(fields["email"])
    if user and Sponsor.objects.filter(patient=patient, user=user).exists():
        raise ValidationError(
            {"email": "This person is already a sponsor of this patient."}
        )
    sponsor = Sponsor.objects.create(patient=patient, user=user, **fields)
    audit(
        user=actor,
        action=A.CREATE,
        obj=sponsor,
        patient=patient,
        summary=f"Added sponsor for {patient.record_number}",
    )
    return sponsor


@transaction.atomic
def sponsor_update(*, sponsor, actor, **fields):
    merged = {f: getattr(sponsor, f) for f in SPONSOR_FIELDS}
    merged.update({k: v for k, v in fields.items() if k in SPONSOR_FIELDS})
    _validate_sponsor(merged)
    changed = [f for f in SPONSOR_FIELDS if getattr(sponsor, f) != merged[f]]
    for f in changed:
        setattr(sponsor, f, merged[f])
    if "email" in changed and sponsor.user is None:
        sponsor.user = _sponsor_login_for(sponsor.email)
    if changed:
        try:
            with transaction.atomic():
                sponsor.save()
        except IntegrityError as exc:
            raise ValidationError(
                {"email": "This person is already a sponsor of this patient."}
            ) from exc
        audit(
            user=actor,
            action=A.UPDATE,
            obj=sponsor,
            patient=sponsor.patient,
            changed_fields=changed,
            summary=f"Edited sponsor of {sponsor.patient.record_number}",
        )
    return sponsor


@transaction.atomic
def consent_create(
    *,
    sponsor,
    actor,
    purpose,
    effective_on,
    signed_name,
    signed_on,
    witnessed=False,
    scope=Consent.Scope.ATTENDANCE,
    expires_on=None,
    expires_on_discharge=False,
    revocable=True,
    irrevocable_until="",
    revocation_instructions=None,
    replaces=None,
):
    """Record a consent the patient signed (staff attest they witnessed it)."""
    patient = sponsor.patient
    errors = {}
    if not witnessed:
        errors["witnessed"] = (
            "Confirm that you witnessed the patient sign this consent."
        )
    if not purpose.strip():
        errors["purpose"] = "State the purpose of the disclosure."
    if not signed_name.strip():
        errors["signed_name"] = "Type the patient's signature (their full name)."
    elif signed_name.strip().casefold() != patient.full_name.casefold() and (
        signed_name.strip().casefold()
        != f"{patient.first_name} {patient.last_name}".casefold()
    ):
        errors["signed_name"] = (
            f"The signature must be the patient's name ({patient.full_name})."
        )
    if signed_on > clinic_today():
        errors["signed_on"] = "The signature date cannot be in the future."
    if expires_on is None and not expires_on_discharge:
        errors["expires_on"] = (
            "Give an expiry date, or choose that the consent ends on discharge."
        )
    elif expires_on_discharge and patient.status == Patient.Status.DISCHARGED:
        # It would be void from the start: a discharged patient's consent (for
        # example to send a court the attendance record) needs a date.
        errors["expires_on_discharge"] = (
            f"{patient.full_name} was discharged on "
            f"{patient.discharged_on:%b %-d, %Y}: a consent that ends on discharge "
            "would never be in force. Give an expiry date instead."
        )
    elif expires_on is not None and expires_on < effective_on:
        errors["expires_on"] = "The expiry date must be on or after the effective date."
    if effective_on < signed_on:
        errors["effective_on"] = "A consent cannot take effect before it is signed."
    if not revocable and not irrevocable_until.strip():
        errors["irrevocable_until"] = (
            "Name the event until which the consent cannot be revoked."
        )
    if not revocable and patient.referral_source != Patient.ReferralSource.COURT:
        errors["revocable"] = (
            "Only a court-referred patient's consent may be irrevocable."
        )
    if replaces is not None and replaces.sponsor_id != sponsor.pk:
        errors["replaces"] = "A consent can replace only one to the same sponsor."
    if errors:
        raise ValidationError(errors)
    consent = Consent.objects.create(
        patient=patient,
        sponsor=sponsor,
        disclosing_party=settings.CLINIC_NAME,
        scope=scope,
        purpose=purpose.strip(),
        effective_on=effective_on,
        expires_on=expires_on,
        expires_on_discharge=expires_on_discharge,
        revocable=revocable,
        irrevocable_until="" if revocable else irrevocable_until.strip(),
        signed_name=signed_name.strip(),
        signed_on=signed_on,
        witnessed_by=actor,
        replaces=replaces,
        **(
            {"revocation_instructions": revocation_instructions}
            if revocation_instructions
            else {}
        ),
    )
    audit(
        user=actor,
        action=A.CREATE,
        obj=consent,
        patient=patient,
        summary=f"Recorded consent to {sponsor.full_name}"
        + (f" replacing consent {replaces.pk}" if replaces else ""),
    )
    if replaces is not None and replaces.revoked_on is None:
        # The new consent replaces the old one from its effective date.
        _revoke(
            consent=replaces,
            actor=actor,
            on=max(effective_on, replaces.effective_on),
            how=f"Replaced by consent {consent.pk}",
        )
    return consent


def _revoke(*, consent, actor, on, how):
    Consent.objects.filter(pk=consent.pk).update(
        revoked_on=on, revoked_how=how[:200], revoked_recorded_by=actor
    )
    consent.refresh_from_db()
    audit(
        user=actor,
        action=A.UPDATE,
        obj=consent,
        patient=consent.patient,
        changed_fields=["revoked_on", "revoked_how", "revoked_recorded_by"],
        summary=f"Revoked consent {consent.pk}: {how}",
    )


@transaction.atomic
def consent_revoke(*, consent, actor, on, how, event_occurred=False):
    consent = Consent.objects.select_for_update().get(pk=consent.pk)
    if consent.revoked_on is not None:
        raise ValidationError("This consent is already revoked.")
    errors = {}
    if not how.strip():
        errors["how"] = "Say how the revocation was received (for example, a "
        "signed note at the front desk)."
    if on > clinic_today():
        errors["on"] = "The revocation date cannot be in the future."
    if not consent.revocable and not event_occurred:
        errors["event_occurred"] = (
            f"This consent cannot be revoked until: {consent.irrevocable_until}. "
            "Confirm that this event has occurred."
        )
    if errors:
        raise ValidationError(errors)
    _revoke(consent=consent, actor=actor, on=on, how=how.strip())
    return consent


# ------------------------------------------------------------ PDFs and disclosures


def _disclose_pdf(*, patient, sponsor, actor, what, reference):
    """Log a PDF handed to a sponsor; refuses without an active consent."""
    consent = (
        Consent.objects.filter(patient=patient, sponsor=sponsor)
        .filter(active_consent_q(clinic_today()))
        .order_by("-effective_on", "-id")
        .first()
    )
    if consent is None:
        raise ValidationError(
            {
                "sponsor": f"{sponsor.full_name} has no active consent from this "
                "patient; nothing may be disclosed to them."
            }
        )
    return Disclosure.objects.create(
        patient=patient,
        sponsor=sponsor,
        consent=consent,
        recipient=f"{sponsor.full_name} ({sponsor.get_relationship_display()})",
        what=what,
        channel=Disclosure.Channel.PDF,
        reference=reference,
        by=actor,
    )


@transaction.atomic
def decision_letter_render(*, decision, actor, sponsor=None):
    """The approval letter as PDF bytes. With `sponsor`: the minimum-necessary
    version for that sponsor, logged as a disclosure."""
    from . import pdf

    patient = decision.patient
    disclosure = None
    if sponsor is not None:
        if sponsor.patient_id != patient.pk:
            raise ValidationError({"sponsor": "Choose one of this patient's sponsors."})
        if decision.decision == DoctorDecision.Decision.DECLINED:
            raise ValidationError(
                {"sponsor": "A declined admission is not disclosed to sponsors."}
            )
        disclosure = _disclose_pdf(
            patient=patient,
            sponsor=sponsor,
            actor=actor,
            what="Admission letter: enrollment in the IOP and start date",
            reference=f"decision:{decision.pk}",
        )
    data = pdf.decision_letter(decision=decision, disclosure=disclosure)
    audit(
        user=actor,
        action=A.EXPORT,
        obj=decision,
        patient=patient,
        summary="Approval letter PDF"
        + (f" for sponsor {sponsor.full_name}" if sponsor else ""),
    )
    return data


DEFAULT_PURPOSE = (
    "So that my sponsor can check that I attend the program and contact me if I "
    "miss a session."
)


def consent_blank(*, sponsor):
    """An unsaved consent with the clinic's defaults, for the paper form."""
    return Consent(
        patient=sponsor.patient,
        sponsor=sponsor,
        disclosing_party=settings.CLINIC_NAME,
        scope=Consent.Scope.ATTENDANCE,
        purpose=DEFAULT_PURPOSE,
        expires_on_discharge=True,
    )


@transaction.atomic
def consent_form_render(*, actor, consent=None, sponsor=None, sponsor_copy=False):
    """The consent form as PDF bytes. Without `consent`: the blank form for
    `sponsor`, for the patient to sign on paper. With `sponsor_copy`: a copy of a
    recorded consent for its recipient, logged as a disclosure."""
    from . import pdf

    if consent is None:
        consent = consent_blank(sponsor=sponsor)
    disclosure = None
    if sponsor_copy:
        disclosure = _disclose_pdf(
            patient=consent.patient,
            sponsor=consent.sponsor,
            actor=actor,
            what="Copy of the patient's consent to disclose",
            reference=f"consent:{consent.pk}",
        )
    data = pdf.consent_form(consent=consent, disclosure=disclosure)
    audit(
        user=actor,
        action=A.EXPORT,
        obj=consent if consent.pk else consent.sponsor,
        patient=consent.patient,
        summary=("Consent form PDF" if consent.pk else "Blank consent form PDF")
        + (" (sponsor copy)" if sponsor_copy else ""),
    )
    return data
