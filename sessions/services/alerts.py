"""Missed-session alerts to sponsors and session reminders to patients.

The rows come first: an Alert is written in the same transaction as the attendance
mark (or by the sweep), unique per kind + session + patient + sponsor + channel, so
a miss alerts each sponsor once per channel. Celery only delivers rows: the task
takes an alert id, locks the row with SELECT ... FOR UPDATE SKIP LOCKED, returns if
it is no longer pending, checks the consent *at sending time*, sends, marks it sent
and writes the Disclosure row, all in one transaction. Running it twice sends once.

Nothing is lost when Redis or a worker goes away: a pending alert that is due and
was not delivered within ALERT_REQUEUE_AFTER seconds is queued again by the sweep
(Celery beat, every minute).

The one window left is a crash between the mail server accepting a message and
our COMMIT (milliseconds); the message then goes out a second time on retry. Each
message carries a fixed Message-ID (email) or Idempotency-Key (SMS provider) built
from the alert id so that the receiving side can drop such a duplicate.
"""

import datetime
import logging
import smtplib
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from core.audit import audit
from core.models import AuditEvent, ClinicSettings
from core.timeutil import clinic_today, day_bounds, local, make_local
from patients.models import (
    PART2_NOTICE,
    Consent,
    Disclosure,
    Patient,
    Sponsor,
    active_consent_q,
)
from sessions import sms
from sessions.models import Alert, Attendance, Participant, TherapySession

log = logging.getLogger(__name__)

State = Alert.State
REASON_CORRECTED = "attendance corrected"
SWEEP_LOCK_KEY = 640_061  # pg advisory lock: one sweep at a time

CHANNELS_FOR = {
    Sponsor.Channel.EMAIL: (Alert.Channel.EMAIL,),
    Sponsor.Channel.SMS: (Alert.Channel.SMS,),
    Sponsor.Channel.BOTH: (Alert.Channel.EMAIL, Alert.Channel.SMS),
}


class RetryLater(Exception):  # noqa: N818 - a signal to Celery's autoretry
    """A temporary delivery error; the attempt is recorded, try again later."""

    def __init__(self, alert_id, countdown, error):
        super().__init__(f"alert {alert_id}: {error}")
        self.alert_id = alert_id
        self.countdown = countdown


class PermanentDeliveryError(Exception):
    """The recipient's server refused for good (5xx): no point in retrying."""


# ---------------------------------------------------------------------------
# Creating alert rows
# ---------------------------------------------------------------------------


def _consented_sponsors(patient_ids, day):
    """{patient_id: [(sponsor_id, preferred_channel, email, phone), ...]} for
    sponsors whose consent is active on `day` and covers attendance."""
    rows = Consent.objects.filter(
        active_consent_q(day),
        patient_id__in=list(patient_ids),
        sponsor__patient_id=F("patient_id"),
        scope__in=Consent.ATTENDANCE_SCOPES,
    )
    out = {}
    seen = set()
    for pid, sid, channel, email, phone in rows.values_list(
        "patient_id",
        "sponsor_id",
        "sponsor__preferred_channel",
        "sponsor__email",
        "sponsor__phone",
    ).order_by("patient_id", "sponsor_id"):
        if (pid, sid) in seen:
            continue
        seen.add((pid, sid))
        out.setdefault(pid, []).append((sid, channel, email, phone))
    return out


def _alert_rows(pairs, sponsors_by_patient, now):
    rows = []
    for session_id, patient_id in pairs:
        for sponsor_id, preferred, email, phone in sponsors_by_patient.get(
            patient_id, ()
        ):
            for channel in CHANNELS_FOR.get(preferred, (Alert.Channel.EMAIL,)):
                if channel == Alert.Channel.EMAIL and not email:
                    continue
                if channel == Alert.Channel.SMS and not phone:
                    continue
                rows.append(
                    Alert(
                        kind=Alert.Kind.MISSED,
                        session_id=session_id,
                        patient_id=patient_id,
                        sponsor_id=sponsor_id,
                        channel=channel,
                        next_attempt_at=now,
                    )
                )
    return rows


def _enqueue_after_commit(ids):
    ids = list(ids)
    if ids:
        transaction.on_commit(lambda: alerts_enqueue(alert_ids=ids))


def missed_alerts_create(*, session: TherapySession, patient: Patient) -> list[int]:
    """Inside the caller's transaction: one pending alert per consented sponsor per
    channel for this miss (a row that exists already is left alone), queued for
    delivery once the transaction commits. Returns the pending alert ids."""
    now = timezone.now()
    with transaction.atomic():
        sponsors = _consented_sponsors([patient.pk], clinic_today())
        rows = _alert_rows([(session.pk, patient.pk)], sponsors, now)
        Alert.objects.bulk_create(rows, ignore_conflicts=True)
        miss = Alert.objects.filter(
            kind=Alert.Kind.MISSED, session=session, patient=patient
        )
        # Marked unexcused again after a correction: the cancelled rows come back.
        miss.filter(state=State.CANCELLED, reason=REASON_CORRECTED).update(
            state=State.PENDING, reason="", next_attempt_at=now
        )
        ids = list(miss.filter(state=State.PENDING).values_list("pk", flat=True))
        if ids:
            audit(
                user=None,
                action=AuditEvent.Action.CREATE,
                obj=session,
                patient=patient,
                summary=f"Missed-session alert queued for {len(ids)} recipient(s)",
            )
        _enqueue_after_commit(ids)
    return ids


def missed_alerts_cancel(*, session: TherapySession, patient: Patient) -> int:
    """Pending alerts for this miss become "not sent: attendance corrected".
    An alert being sent right now is waited for (row lock): if it went out, it
    stays sent. Returns how many were cancelled."""
    with transaction.atomic():
        n = Alert.objects.filter(
            kind=Alert.Kind.MISSED,
            session=session,
            patient=patient,
            state=State.PENDING,
        ).update(state=State.CANCELLED, reason=REASON_CORRECTED)
        if n:
            audit(
                user=None,
                action=AuditEvent.Action.UPDATE,
                obj=session,
                patient=patient,
                changed_fields=["state"],
                summary=f"{n} missed-session alert(s) cancelled: {REASON_CORRECTED}",
            )
    return n


def alert_retry(*, alert: Alert, user) -> Alert:
    """Staff ask for a failed alert to be tried again."""
    with transaction.atomic():
        alert = Alert.objects.select_for_update().get(pk=alert.pk)
        if alert.state != State.FAILED:
            raise ValidationError("Only a failed alert can be retried.")
        alert.state = State.PENDING
        alert.attempts = 0
        alert.next_attempt_at = timezone.now()
        alert.save(update_fields=["state", "attempts", "next_attempt_at"])
        audit(
            user=user,
            action=AuditEvent.Action.UPDATE,
            obj=alert,
            patient=alert.patient,
            changed_fields=["state", "attempts"],
            summary="Failed alert queued again",
        )
        _enqueue_after_commit([alert.pk])
    return alert


def alerts_enqueue(*, alert_ids) -> int:
    """Queue delivery tasks. Never raises: if the broker is down the rows stay
    pending in PostgreSQL and the sweep queues them once it is back."""
    from sessions.tasks import deliver_alert

    queued = 0
    for alert_id in alert_ids:
        try:
            deliver_alert.apply_async(
                args=[alert_id],
                retry=True,
                retry_policy={
                    "max_retries": 1,
                    "interval_start": 0,
                    "interval_step": 0.2,
                    "interval_max": 0.2,
                },
            )
        except Exception:  # broker down: the sweep will queue them again
            log.warning(
                "could not queue alert %s (broker unavailable); the sweep will "
                "queue the %d remaining",
                alert_id,
                len(alert_ids) - queued,
                exc_info=True,
            )
            break
        queued += 1
    return queued


# ---------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------


@dataclass
class SweepResult:
    missed_created: int = 0
    reminders_created: int = 0
    queued: int = 0
    delivered: dict = field(default_factory=dict)

    def summary(self):
        text = (
            f"missed-session alerts created: {self.missed_created}; "
            f"reminders created: {self.reminders_created}; "
            f"pending alerts queued: {self.queued}"
        )
        if self.delivered:
            text += "; delivered now: " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.delivered.items())
            )
        return text


def _missed_pairs(now, clinic):
    grace = datetime.timedelta(minutes=clinic.alert_grace_minutes)
    since = now - datetime.timedelta(hours=settings.ALERT_SWEEP_LOOKBACK_HOURS)
    attendance = Attendance.objects.filter(
        session_id=OuterRef("session_id"), patient_id=OuterRef("patient_id")
    )
    already = Alert.objects.filter(
        kind=Alert.Kind.MISSED,
        session_id=OuterRef("session_id"),
        patient_id=OuterRef("patient_id"),
    )
    base = (
        Participant.objects.filter(active=True, end__gt=since)
        .exclude(session__status=TherapySession.Status.CANCELLED)
        .exclude(patient__status=Patient.Status.DISCHARGED)
        .filter(~Exists(already))
    )
    # Participant.marked is kept by triggers: whether an attendance row exists.
    unmarked = base.filter(end__lte=now - grace, marked=False)
    # A safety net: a no-show mark whose alerts were never written.
    no_show = base.filter(Exists(attendance.filter(status=Attendance.Status.UNEXCUSED)))
    return set(unmarked.values_list("session_id", "patient_id")) | set(
        no_show.values_list("session_id", "patient_id")
    )


def _create_missed_for(pairs, now):
    if not pairs:
        return 0
    sponsors = _consented_sponsors({p for _, p in pairs}, clinic_today())
    rows = _alert_rows(sorted(pairs), sponsors, now)
    created = Alert.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    patients_with_alerts = {r.patient_id for r in rows}
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                action=AuditEvent.Action.CREATE,
                model="therapy_sessions.TherapySession",
                object_id=str(session_id),
                patient_id=patient_id,
                summary="Missed-session alert created by the sweep",
            )
            for session_id, patient_id in sorted(pairs)
            if patient_id in patients_with_alerts
        ],
        batch_size=500,
    )
    return len(created)


def _reminder_rows(now):
    local_now = local(now)
    if local_now.hour < settings.ALERT_REMINDER_HOUR:
        return []
    start, end = day_bounds(local_now.date() + datetime.timedelta(days=1))
    already = Alert.objects.filter(
        kind=Alert.Kind.REMINDER,
        session_id=OuterRef("session_id"),
        patient_id=OuterRef("patient_id"),
    )
    qs = (
        Participant.objects.filter(
            active=True,
            start__gte=start,
            start__lt=end,
            patient__reminders_opt_in=True,
        )
        .exclude(session__status=TherapySession.Status.CANCELLED)
        .exclude(patient__status=Patient.Status.DISCHARGED)
        .filter(~Exists(already))
        .values_list("session_id", "patient_id", "patient__email", "patient__phone")
    )
    rows = []
    for session_id, patient_id, email, phone in qs:
        if not (email or phone):
            continue
        rows.append(
            Alert(
                kind=Alert.Kind.REMINDER,
                session_id=session_id,
                patient_id=patient_id,
                sponsor=None,
                channel=Alert.Channel.EMAIL if email else Alert.Channel.SMS,
                next_attempt_at=now,
            )
        )
    return rows


def _due_for_queue(now):
    """Pending alerts due for a while that no task has settled: their task was
    lost (Redis restarted empty, a worker killed) or never queued (broker down),
    or an SMS held for quiet hours is now due."""
    stale = now - datetime.timedelta(seconds=settings.ALERT_REQUEUE_AFTER)
    return Alert.objects.filter(state=State.PENDING, next_attempt_at__lte=stale)


def alerts_sweep(*, now=None, deliver_inline=False) -> SweepResult:
    """Create alerts for newly missed sessions and tomorrow's reminders, then queue
    (or, for the operator's command, deliver right here) every pending alert that
    is due and was left behind. Safe to run any number of times, concurrently."""
    now = now or timezone.now()
    result = SweepResult()
    clinic = ClinicSettings.load()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SWEEP_LOCK_KEY])
            (got_lock,) = cursor.fetchone()
        if got_lock:
            result.missed_created = _create_missed_for(_missed_pairs(now, clinic), now)
            reminders = _reminder_rows(now)
            result.reminders_created = len(
                Alert.objects.bulk_create(
                    reminders, ignore_conflicts=True, batch_size=500
                )
            )
        # New rows have next_attempt_at = now: take them along with the stale ones.
        due = Alert.objects.filter(state=State.PENDING).filter(
            Q(pk__in=_due_for_queue(now).values("pk"))
            | Q(next_attempt_at=now, attempts=0)
        )
        ids = list(
            due.select_for_update(skip_locked=True)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)
        )
        if ids:
            # "Queued now": the next sweep leaves them alone for a while.
            Alert.objects.filter(pk__in=ids).update(next_attempt_at=now)
    if deliver_inline:
        for alert_id in ids:
            try:
                outcome = alert_deliver(alert_id=alert_id)
            except RetryLater:
                outcome = "retry later"
            result.delivered[outcome] = result.delivered.get(outcome, 0) + 1
    else:
        result.queued = alerts_enqueue(alert_ids=ids)
    return result


# ---------------------------------------------------------------------------
# Delivery
# ---------------------------------------------------------------------------


def sponsor_page_url():
    try:
        path = reverse("sponsor:home")
    except NoReverseMatch:
        path = "/sponsor/"
    return settings.SITE_URL + path


def in_quiet_hours(moment, clinic):
    t = local(moment).time()
    start, end = clinic.sms_quiet_start, clinic.sms_quiet_end
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end


def quiet_hours_end(moment, clinic):
    """The first end of quiet hours after `moment` (clinic local time)."""
    here = local(moment)
    end = make_local(here.date(), clinic.sms_quiet_end)
    if end <= here:
        end = make_local(here.date() + datetime.timedelta(days=1), clinic.sms_quiet_end)
    return end


def backoff_seconds(attempts):
    """Seconds before attempt number attempts + 1 (Celery's retry_backoff)."""
    base = settings.ALERT_RETRY_BACKOFF
    return min(settings.ALERT_RETRY_BACKOFF_MAX, base * 2 ** max(attempts - 1, 0))


def _message_context(alert):
    session = alert.session
    start = local(session.start)
    return {
        "sponsor_name": alert.sponsor.full_name if alert.sponsor_id else "",
        "patient_first_name": alert.patient.preferred_name or alert.patient.first_name,
        "session_start": start,
        "session_date": f"{start:%A, %B} {start.day}, {start:%Y}",
        "session_time": f"{start:%-I:%M %p}",
        "modality": session.get_modality_display().lower(),
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": settings.CLINIC_PHONE,
        "sponsor_url": sponsor_page_url(),
        "notice": PART2_NOTICE,
    }


def _template_base(alert):
    return "missed_session" if alert.kind == Alert.Kind.MISSED else "reminder"


def render_email(alert):
    ctx = _message_context(alert)
    name = _template_base(alert)
    subject = " ".join(
        render_to_string(f"email/{name}_subject.txt", ctx).split()
    ).strip()
    text = render_to_string(f"email/{name}_message.txt", ctx)
    html = render_to_string(f"email/{name}_message.html", ctx)
    return subject, text, html


def render_sms(alert):
    """The SMS text, at most 160 characters: the details that do not fit are left
    out, shortest message last (the notice always stays)."""
    ctx = _message_context(alert)
    start = ctx["session_start"]
    ctx["short_when"] = f"{start:%a} {start.month}/{start.day} {start:%-I:%M%p}"
    ctx["patient_first_name"] = ctx["patient_first_name"][:20]
    name = _template_base(alert)
    for variant in ("full", "short", "shortest"):
        ctx["variant"] = variant
        body = " ".join(render_to_string(f"email/{name}_sms.txt", ctx).split())
        if len(body) <= sms.MAX_LENGTH:
            return body
    # Still too long (a very long clinic phone setting): cut the text, keep the
    # notice whole.
    if alert.kind == Alert.Kind.MISSED and body.endswith(PART2_NOTICE):
        head = body[: -len(PART2_NOTICE)].rstrip()
        return head[: sms.MAX_LENGTH - len(PART2_NOTICE) - 1] + " " + PART2_NOTICE
    return body[: sms.MAX_LENGTH]


def _recipient_address(alert):
    person = alert.sponsor if alert.sponsor_id else alert.patient
    return person.email if alert.channel == Alert.Channel.EMAIL else person.phone


def _send(alert):
    to = _recipient_address(alert)
    if alert.channel == Alert.Channel.EMAIL:
        subject, text, html = render_email(alert)
        domain = settings.SITE_URL.split("://", 1)[-1].split("/")[0].split(":")[0]
        msg = EmailMultiAlternatives(
            subject=subject,
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[to],
            headers={
                "Message-ID": f"<iop-alert-{alert.pk}@{domain or 'localhost'}>",
                "X-IOP-Alert": str(alert.pk),
            },
        )
        msg.attach_alternative(html, "text/html")
        try:
            msg.send(fail_silently=False)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            if codes and all(code >= 500 for code in codes):
                raise PermanentDeliveryError(f"recipient refused: {exc}") from exc
            raise
        except smtplib.SMTPResponseException as exc:
            if exc.smtp_code >= 500 and exc.smtp_code != 554:
                raise PermanentDeliveryError(f"mail server refused: {exc}") from exc
            raise
    else:
        try:
            sms.send_sms(to=to, body=render_sms(alert), reference=f"alert-{alert.pk}")
        except sms.PermanentSmsError as exc:
            raise PermanentDeliveryError(str(exc)) from exc


def _why_not_missed(alert, today):
    """None if the alert may go out now, else the reason it must not."""
    if alert.session.status == TherapySession.Status.CANCELLED:
        return "session cancelled"
    mark = (
        Attendance.objects.filter(session_id=alert.session_id, patient=alert.patient)
        .values_list("status", flat=True)
        .first()
    )
    if mark is not None and mark != Attendance.Status.UNEXCUSED:
        return REASON_CORRECTED
    consents = list(
        Consent.objects.filter(
            patient_id=alert.patient_id, sponsor_id=alert.sponsor_id
        ).order_by("-effective_on", "-id")
    )
    discharged = alert.patient.status == Patient.Status.DISCHARGED
    statuses = [(c, c.status_on(today, discharged)) for c in consents]
    for consent, status in statuses:
        if status == Consent.Status.ACTIVE and consent.covers_attendance:
            alert._consent = consent
            return None
    if not consents:
        return "no consent on file"
    if any(s == Consent.Status.ACTIVE for _, s in statuses):
        return "consent does not cover attendance"
    latest = statuses[0][1]
    return {
        Consent.Status.REVOKED: "consent revoked",
        Consent.Status.EXPIRED: "consent expired",
        Consent.Status.PENDING: "consent not yet in effect",
    }.get(latest, "no active consent")


def _why_not_reminder(alert, now):
    if alert.session.status == TherapySession.Status.CANCELLED:
        return "session cancelled"
    if not alert.patient.reminders_opt_in:
        return "patient opted out of reminders"
    if alert.session.start <= now:
        return "session already started"
    if not Participant.objects.filter(
        session_id=alert.session_id, patient_id=alert.patient_id, active=True
    ).exists():
        return "no longer booked for this session"
    return None


def alert_deliver(*, alert_id: int) -> str:
    """Deliver one alert, at most once. Returns what happened: "sent", "held"
    (SMS quiet hours), "cancelled", "failed", "busy" (another worker holds it),
    "not due", or the state it was already in. Raises RetryLater after
    recording a temporary failure (the caller, a Celery task, retries)."""
    now = timezone.now()
    clinic = ClinicSettings.load()
    retry = None
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("session", "patient", "sponsor")
            .filter(pk=alert_id)
            .first()
        )
        if alert is None:
            return "busy" if Alert.objects.filter(pk=alert_id).exists() else "missing"
        if alert.state != State.PENDING:
            return alert.state
        if alert.next_attempt_at > now + datetime.timedelta(seconds=5):
            return "not due"
        if alert.kind == Alert.Kind.MISSED:
            reason = _why_not_missed(alert, clinic_today())
        else:
            reason = _why_not_reminder(alert, now)
        if reason:
            alert.state = State.CANCELLED
            alert.reason = reason
            alert.save(update_fields=["state", "reason"])
            return "cancelled"
        if alert.channel == Alert.Channel.SMS and in_quiet_hours(now, clinic):
            alert.next_attempt_at = quiet_hours_end(now, clinic)
            alert.reason = Alert.REASON_QUIET_HOURS
            alert.save(update_fields=["next_attempt_at", "reason"])
            return "held"
        try:
            _send(alert)
        except Exception as exc:  # every failure is recorded on the row
            alert.attempts += 1
            alert.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            permanent = isinstance(exc, PermanentDeliveryError)
            if permanent or alert.attempts >= clinic.alert_max_attempts:
                alert.state = State.FAILED
                alert.save(update_fields=["attempts", "last_error", "state"])
                log.warning("alert %s failed for good: %s", alert.pk, alert.last_error)
                return "failed"
            countdown = backoff_seconds(alert.attempts)
            alert.next_attempt_at = now + datetime.timedelta(seconds=countdown)
            alert.save(update_fields=["attempts", "last_error", "next_attempt_at"])
            retry = RetryLater(alert.pk, countdown, alert.last_error)
        else:
            alert.state = State.SENT
            alert.sent_at = timezone.now()
            alert.attempts += 1
            alert.reason = ""
            alert.save(update_fields=["state", "sent_at", "attempts", "reason"])
            if alert.kind == Alert.Kind.MISSED:
                _disclose(alert)
            audit(
                user=None,
                action=AuditEvent.Action.EXPORT,
                obj=alert,
                patient=alert.patient,
                summary=f"{alert.get_kind_display()} sent by {alert.channel}",
            )
            return "sent"
    raise retry


def _disclose(alert):
    start = local(alert.session.start)
    Disclosure.objects.create(
        patient=alert.patient,
        sponsor=alert.sponsor,
        consent=getattr(alert, "_consent", None),
        recipient=f"{alert.sponsor.full_name} ({_recipient_address(alert)})",
        what=(
            "Missed-session alert: the patient missed a scheduled session on "
            f"{start:%Y-%m-%d %H:%M}"
        ),
        channel=(
            Disclosure.Channel.EMAIL
            if alert.channel == Alert.Channel.EMAIL
            else Disclosure.Channel.SMS
        ),
        reference=f"alert {alert.pk}",
    )


__all__ = [
    "missed_alerts_create",
    "missed_alerts_cancel",
    "alert_retry",
    "alert_deliver",
    "alerts_sweep",
    "alerts_enqueue",
    "RetryLater",
]
