"""Recording attendance: the first mark, corrections with a reason, and the
"everyone else present" shortcut. Every write keeps an audit row; a correction
keeps the earlier values in AttendanceRevision."""

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.roles import ADMIN, has_role
from core.audit import audit
from core.models import AuditEvent, ClinicSettings
from core.timeutil import clinic_today, local
from sessions.models import Attendance, AttendanceRevision, Participant, TherapySession
from sessions.services.alerts import missed_alerts_cancel, missed_alerts_create

Status = Attendance.Status

# Attendance can be taken from a little before the session starts (people
# arrive early), never for a session further in the future than that.
OPENS_BEFORE_START = datetime.timedelta(minutes=30)


def attendance_opens_at(session):
    return session.start - OPENS_BEFORE_START


def correction_deadline(session, clinic_settings):
    """The last local day on which staff (not only an administrator) may correct."""
    return local(session.end).date() + datetime.timedelta(
        days=clinic_settings.correction_window_days
    )


def correction_window_closed(session, clinic_settings, today=None):
    return (today or clinic_today()) > correction_deadline(session, clinic_settings)


def _minutes_for(*, session, status, minutes):
    """The minutes that go with a status, or a ValidationError keyed by field."""
    length = session.minutes
    if status == Status.PRESENT:
        if minutes not in (None, "") and int(minutes) != length:
            raise ValidationError(
                {
                    "minutes": f"Present means the whole session ({length} minutes). "
                    "Choose Late or Left early for fewer minutes."
                }
            )
        return length
    if status in Attendance.ABSENCES:
        if minutes not in (None, "") and int(minutes) != 0:
            raise ValidationError(
                {"minutes": "An absence counts 0 minutes; leave minutes empty."}
            )
        return 0
    # Late or left early: staff enter the minutes actually attended.
    if minutes in (None, ""):
        raise ValidationError(
            {
                "minutes": "Enter the minutes attended (0 to "
                f"{length}) for late or left early."
            }
        )
    minutes = int(minutes)
    if minutes < 0 or minutes > length:
        raise ValidationError(
            {
                "minutes": f"Minutes attended must be between 0 and {length}, "
                "the length of this session."
            }
        )
    return minutes


def _alerts_after_change(*, session, patient, old_status, new_status):
    """Tell the missed-session alerts about the change (issue 6 owns them).

    A new unexcused absence creates pending alerts (sent after commit); a mark
    moved away from unexcused, or a first mark that is not a no-show, cancels any
    alert not yet sent (the sweep may have queued one for an unmarked patient)."""
    if new_status == Status.UNEXCUSED and old_status != Status.UNEXCUSED:
        missed_alerts_create(session=session, patient=patient)
    elif new_status != Status.UNEXCUSED and old_status in (None, Status.UNEXCUSED):
        missed_alerts_cancel(session=session, patient=patient)


def _check_session_open(session, now):
    if session.status == TherapySession.Status.CANCELLED:
        raise ValidationError("This session was cancelled; it takes no attendance.")
    if now < attendance_opens_at(session):
        opens = local(attendance_opens_at(session))
        raise ValidationError(
            f"Attendance for this session opens at {opens:%-I:%M %p on %b %-d}."
        )


def attendance_record(
    *,
    session: TherapySession,
    patient,
    status: str,
    minutes: int | None = None,
    note: str = "",
    actor,
    reason: str = "",
) -> Attendance:
    """Record a patient's attendance at a session, or correct it.

    A first mark needs no reason. Changing a recorded mark is a correction: it needs
    a reason, keeps the earlier values as an AttendanceRevision, and after the
    clinic's correction window only an administrator may make it. Raises
    ValidationError (a message for the form) or PermissionDenied."""
    if status not in Status.values:
        raise ValidationError({"status": "Choose a status."})
    note = (note or "").strip()
    reason = (reason or "").strip()
    if len(note) > 300:
        raise ValidationError({"note": "Keep the note under 300 characters."})
    if len(reason) > 300:
        raise ValidationError({"reason": "Keep the reason under 300 characters."})
    try:
        minutes = _minutes_for(session=session, status=status, minutes=minutes)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"minutes": "Minutes must be a whole number."}) from exc
    now = timezone.now()

    with transaction.atomic():
        # Lock the session row so that two people marking the same roster
        # serialize, and read its current status.
        session = TherapySession.objects.select_for_update().get(pk=session.pk)
        _check_session_open(session, now)
        if not Participant.objects.filter(session=session, patient=patient).exists():
            raise ValidationError("This patient is not expected at this session.")
        current = (
            Attendance.objects.select_for_update()
            .filter(session=session, patient=patient)
            .first()
        )
        if current is None:
            try:
                with transaction.atomic():
                    attendance = Attendance.objects.create(
                        session=session,
                        patient=patient,
                        status=status,
                        minutes=minutes,
                        note=note,
                        recorded_by=actor,
                        recorded_at=now,
                    )
            except IntegrityError as exc:
                raise ValidationError(
                    "Someone else has just recorded this patient; reload the roster."
                ) from exc
            audit(
                user=actor,
                action=AuditEvent.Action.CREATE,
                obj=attendance,
                patient=patient,
                changed_fields=["status", "minutes", "note"],
                summary=f"Attendance {status}, {minutes} min, session {session.pk}",
            )
            _alerts_after_change(
                session=session, patient=patient, old_status=None, new_status=status
            )
            return attendance

        changed = [
            field
            for field, value in (
                ("status", status),
                ("minutes", minutes),
                ("note", note),
            )
            if getattr(current, field) != value
        ]
        if not changed:
            return current
        if not reason:
            raise ValidationError(
                {"reason": "Say why you are changing a recorded attendance."}
            )
        clinic_settings = ClinicSettings.load()
        if correction_window_closed(session, clinic_settings) and not has_role(
            actor, ADMIN
        ):
            raise PermissionDenied(
                f"Attendance older than {clinic_settings.correction_window_days} days "
                "can only be corrected by an administrator."
            )
        AttendanceRevision.objects.create(
            attendance=current,
            status=current.status,
            minutes=current.minutes,
            note=current.note,
            recorded_by_id=current.recorded_by_id,
            recorded_at=current.recorded_at,
            changed_by=actor,
            changed_at=now,
            reason=reason,
        )
        old_status = current.status
        current.status = status
        current.minutes = minutes
        current.note = note
        current.recorded_by = actor
        current.recorded_at = now
        current.save(
            update_fields=["status", "minutes", "note", "recorded_by", "recorded_at"]
        )
        audit(
            user=actor,
            action=AuditEvent.Action.UPDATE,
            obj=current,
            patient=patient,
            changed_fields=changed,
            summary=f"Attendance corrected {old_status} -> {status}: {reason}",
        )
        _alerts_after_change(
            session=session, patient=patient, old_status=old_status, new_status=status
        )
        return current


def attendance_mark_rest_present(*, session: TherapySession, actor) -> int:
    """Mark every expected patient not yet marked as present. Returns how many."""
    with transaction.atomic():
        locked = TherapySession.objects.select_for_update().get(pk=session.pk)
        _check_session_open(locked, timezone.now())
        marked = Attendance.objects.filter(session=locked).values("patient_id")
        unmarked = (
            Participant.objects.filter(session=locked)
            .exclude(patient_id__in=marked)
            .select_related("patient")
        )
        count = 0
        for participant in unmarked:
            attendance_record(
                session=locked,
                patient=participant.patient,
                status=Status.PRESENT,
                actor=actor,
            )
            count += 1
        return count


def attendance_export_log(*, actor, patient=None, summary: str) -> None:
    """Audit a letter or export of attendance (who took what, about whom)."""
    _access_log(
        actor=actor, action=AuditEvent.Action.EXPORT, patient=patient, summary=summary
    )


def attendance_view_log(*, actor, patient, summary: str) -> None:
    """Audit a look at one patient's attendance and hours."""
    _access_log(
        actor=actor, action=AuditEvent.Action.VIEW, patient=patient, summary=summary
    )


def _access_log(*, actor, action, patient, summary):
    with transaction.atomic():
        audit(user=actor, action=action, obj=patient, patient=patient, summary=summary)
