"""A doctor's review of a patient's attendance-rule flag. Reviews are
append-only; the flagged lists leave a reviewed patient out until an
unexcused absence follows the review: for a session starting after it, or
recorded after it (a late or corrected mark for an earlier session)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import dateformat, timezone

from accounts.roles import DOCTOR, has_role
from core.audit import audit
from core.models import AuditEvent
from core.timeutil import local
from patients.models import Patient
from sessions.models import FlagReview

NOTE_MAX_LENGTH = FlagReview._meta.get_field("note").max_length


@transaction.atomic
def flag_review_record(*, patient: Patient, doctor, note: str) -> FlagReview:
    """Record that `doctor` reviewed the patient's current attendance flag,
    with the rule reasons as they stand and the doctor's note. Refused unless
    the user is a doctor, the note is given and the patient is flagged without
    a standing review."""
    from sessions.selectors.attendance import patient_flag_state

    if not has_role(doctor, DOCTOR):
        raise PermissionDenied("Only a doctor may review an attendance flag.")
    note = (note or "").strip()
    if not note:
        raise ValidationError("Write a short note about the review.")
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError(f"Keep the note to {NOTE_MAX_LENGTH} characters.")
    # One review at a time per patient: a second doctor's click waits, then
    # finds the flag reviewed.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    now = timezone.now()
    state = patient_flag_state(patient=patient, now=now)
    if not state["reasons"]:
        raise ValidationError("This patient is not flagged by the attendance rules.")
    review = state["review"]
    if review and review["standing"]:
        raise ValidationError(
            f"Dr. {review['doctor']} already reviewed this flag on "
            f"{dateformat.format(local(review['at']), 'M j, Y')}."
        )
    created = FlagReview.objects.create(
        patient=patient,
        reviewed_by=doctor,
        reviewed_at=now,
        reasons=state["reasons"],
        note=note,
    )
    audit(
        user=doctor,
        action=AuditEvent.Action.CREATE,
        obj=created,
        patient=patient,
        summary="Reviewed attendance flag: " + "; ".join(state["reasons"]),
    )
    return created
