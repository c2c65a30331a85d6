"""Missed-session alerts and reminders, in this process: rows, consent at sending
time, content, retries, quiet hours, the sweep and the operator's command.

Mail goes over real SMTP to an aiosmtpd server; the SMS provider is a local HTTP
server. The worker-process guarantees are in tests/integration/."""

import datetime
import io

import pytest
import time_machine
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.models import ClinicSettings
from core.timeutil import clinic_today, make_local
from patients.models import PART2_NOTICE, Consent, Disclosure, Patient, Sponsor
from sessions.models import Alert, Attendance, Modality
from sessions.services import alerts as svc
from tests.factories import (
    AdmittedPatientFactory,
    ConsentFactory,
    SessionFactory,
    SponsorFactory,
    enrol,
    past_session,
    staff,
)
from tests.fixtures_services import *  # noqa: F403

pytestmark = pytest.mark.django_db

State = Alert.State


def consented(channel=Sponsor.Channel.EMAIL, patient=None, **consent_kw):
    sponsor_kw = {"preferred_channel": channel}
    if patient is not None:
        sponsor_kw["patient"] = patient
    sponsor = SponsorFactory(**sponsor_kw)
    return ConsentFactory(sponsor=sponsor, patient=sponsor.patient, **consent_kw)


def miss(patient, *, hours_ago=3, minutes=60, mark=True):
    session = past_session(hours_ago=hours_ago, minutes=minutes)
    enrol(session, patient)
    if mark:
        Attendance.objects.create(
            session=session,
            patient=patient,
            status=Attendance.Status.UNEXCUSED,
            minutes=0,
            recorded_by=staff(),
        )
    return session


def create(session, patient):
    with transaction.atomic():
        return svc.missed_alerts_create(session=session, patient=patient)


# --- rows ------------------------------------------------------------------


def test_create_writes_one_pending_alert_per_consented_sponsor_and_channel(
    django_capture_on_commit_callbacks,
):
    consent = consented()
    patient = consent.patient
    both = consented(channel=Sponsor.Channel.BOTH, patient=patient)
    revoked = consented(
        patient=patient,
        revoked_on=clinic_today() - datetime.timedelta(days=1),
        revoked_how="signed letter",
        revoked_recorded_by=staff(),
    )
    expired = consented(
        patient=patient,
        effective_on=clinic_today() - datetime.timedelta(days=60),
        expires_on=clinic_today() - datetime.timedelta(days=1),
    )
    enrollment_only = consented(patient=patient, scope=Consent.Scope.ENROLLMENT)
    other_patient_sponsor = consented()
    session = miss(patient)

    with django_capture_on_commit_callbacks() as callbacks:
        ids = create(session, patient)

    rows = set(
        Alert.objects.filter(pk__in=ids).values_list("sponsor_id", "channel", "state")
    )
    assert rows == {
        (consent.sponsor_id, "email", "pending"),
        (both.sponsor_id, "email", "pending"),
        (both.sponsor_id, "sms", "pending"),
    }
    for nobody in (revoked, expired, enrollment_only, other_patient_sponsor):
        assert not Alert.objects.filter(sponsor=nobody.sponsor).exists()
    assert len(callbacks) == 1  # delivery is queued only after the commit


def test_create_twice_keeps_one_row_per_recipient_and_channel():
    consent = consented()
    session = miss(consent.patient)
    first = create(session, consent.patient)
    second = create(session, consent.patient)
    assert first == second
    assert Alert.objects.count() == 1


def test_database_refuses_a_duplicate_alert():
    consent = consented()
    session = miss(consent.patient)
    create(session, consent.patient)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(
            session=session,
            patient=consent.patient,
            sponsor=consent.sponsor,
            channel="email",
        )


def test_cancel_marks_pending_alerts_not_sent_and_a_new_no_show_revives_them():
    consent = consented()
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)

    assert svc.missed_alerts_cancel(session=session, patient=consent.patient) == 1
    alert = Alert.objects.get(pk=alert_id)
    assert (alert.state, alert.reason) == (State.CANCELLED, "attendance corrected")

    assert create(session, consent.patient) == [alert_id]
    assert Alert.objects.get(pk=alert_id).state == State.PENDING


def test_cancel_leaves_a_sent_alert_sent(smtp_settings):
    consent = consented()
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)
    assert svc.alert_deliver(alert_id=alert_id) == "sent"
    assert svc.missed_alerts_cancel(session=session, patient=consent.patient) == 0
    assert Alert.objects.get(pk=alert_id).state == State.SENT


# --- delivery ----------------------------------------------------------------


def test_deliver_sends_minimum_necessary_email_with_notice_and_logs_disclosure(
    smtp_settings, settings
):
    settings.SITE_URL = "https://clinic.example"
    consent = consented()
    patient = consent.patient
    patient.first_name, patient.last_name = "Jordan", "Quixotic"
    patient.save()
    session = miss(patient)
    (alert_id,) = create(session, patient)

    assert svc.alert_deliver(alert_id=alert_id) == "sent"

    (msg,) = smtp_settings.messages
    text, html = smtp_settings.text_of(msg), smtp_settings.html_of(msg)
    assert msg["To"] == consent.sponsor.email
    assert "Jordan missed a scheduled session" in msg["Subject"]
    for body in (text, html):
        assert PART2_NOTICE in body
        assert consent.sponsor.full_name in body
        assert "Jordan" in body
        assert "Quixotic" not in body  # first name only
        assert session.topic.name not in body  # no clinical detail
        assert settings.CLINIC_PHONE in body
        assert "https://clinic.example/sponsor/" in body
    assert f"{session.start.astimezone(datetime.UTC):%Y}" in text

    alert = Alert.objects.get(pk=alert_id)
    assert alert.state == State.SENT and alert.sent_at and alert.attempts == 1
    disclosure = Disclosure.objects.get(reference=f"alert {alert_id}")
    assert disclosure.consent == consent
    assert disclosure.sponsor == consent.sponsor
    assert disclosure.channel == Disclosure.Channel.EMAIL


def test_delivering_twice_sends_one_email(smtp_settings):
    consent = consented()
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)
    assert svc.alert_deliver(alert_id=alert_id) == "sent"
    assert svc.alert_deliver(alert_id=alert_id) == "sent"
    assert len(smtp_settings.messages) == 1
    assert Disclosure.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("revoke", "consent revoked"),
        ("expire", "consent expired"),
        ("narrow", "consent does not cover attendance"),
        ("present", "attendance corrected"),
        ("excused", "attendance corrected"),
    ],
)
def test_consent_and_attendance_are_checked_again_at_sending_time(
    smtp_settings, change, reason
):
    consent = consented()
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)
    today = clinic_today()
    if change == "revoke":
        Consent.objects.filter(pk=consent.pk).update(
            revoked_on=today,
            revoked_how="phone call, then letter",
            revoked_recorded_by=staff(),
        )
    elif change == "expire":
        Consent.objects.filter(pk=consent.pk).update(
            expires_on=today - datetime.timedelta(days=1)
        )
    elif change == "narrow":
        Consent.objects.filter(pk=consent.pk).update(scope=Consent.Scope.ENROLLMENT)
    else:
        status = "present" if change == "present" else "excused"
        Attendance.objects.filter(session=session).update(
            status=status, minutes=session.minutes if status == "present" else 0
        )

    assert svc.alert_deliver(alert_id=alert_id) == "cancelled"
    alert = Alert.objects.get(pk=alert_id)
    assert (alert.state, alert.reason) == (State.CANCELLED, reason)
    assert smtp_settings.messages == []
    assert not Disclosure.objects.exists()


def test_discharge_ends_a_consent_that_expires_on_discharge(smtp_settings):
    consent = consented(expires_on=None, expires_on_discharge=True)
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)
    Patient.objects.filter(pk=consent.patient_id).update(
        status="discharged", discharged_on=clinic_today(), discharge_reason="other"
    )
    assert svc.alert_deliver(alert_id=alert_id) == "cancelled"
    assert Alert.objects.get(pk=alert_id).reason == "consent expired"


def test_smtp_refusing_for_a_while_records_attempts_then_sends(smtp_settings):
    smtp_settings.refuse_next = 2
    consent = consented()
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)

    for attempt in (1, 2):
        with pytest.raises(svc.RetryLater):
            svc.alert_deliver(alert_id=alert_id)
        alert = Alert.objects.get(pk=alert_id)
        assert alert.state == State.PENDING
        assert alert.attempts == attempt
        assert "451" in alert.last_error
        assert alert.next_attempt_at > timezone.now()
        # Not due yet: a duplicate task does nothing.
        assert svc.alert_deliver(alert_id=alert_id) == "not due"
        Alert.objects.filter(pk=alert_id).update(next_attempt_at=timezone.now())

    assert svc.alert_deliver(alert_id=alert_id) == "sent"
    assert len(smtp_settings.messages) == 1
    assert Alert.objects.get(pk=alert_id).attempts == 3


def test_smtp_refusing_for_good_ends_failed_after_the_capped_attempts(smtp_settings):
    ClinicSettings.objects.update_or_create(pk=1, defaults={"alert_max_attempts": 3})
    smtp_settings.refuse_code = 451
    consent = consented()
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)
    for _ in range(2):
        with pytest.raises(svc.RetryLater):
            svc.alert_deliver(alert_id=alert_id)
        Alert.objects.filter(pk=alert_id).update(next_attempt_at=timezone.now())
    assert svc.alert_deliver(alert_id=alert_id) == "failed"
    alert = Alert.objects.get(pk=alert_id)
    assert (alert.state, alert.attempts) == (State.FAILED, 3)
    assert "451" in alert.last_error
    assert smtp_settings.messages == []


def test_a_permanent_refusal_fails_at_once(smtp_settings):
    smtp_settings.refuse_code = 550
    consent = consented()
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)
    assert svc.alert_deliver(alert_id=alert_id) == "failed"
    alert = Alert.objects.get(pk=alert_id)
    assert alert.attempts == 1 and "550" in alert.last_error


def test_mail_server_down_is_a_temporary_error(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # noqa: F405
    consent = consented()
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)
    with pytest.raises(svc.RetryLater):
        svc.alert_deliver(alert_id=alert_id)
    assert "ConnectionRefusedError" in Alert.objects.get(pk=alert_id).last_error


def test_retry_service_requeues_a_failed_alert(
    smtp_settings, django_capture_on_commit_callbacks
):
    consent = consented()
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)
    Alert.objects.filter(pk=alert_id).update(
        state=State.FAILED, attempts=6, last_error="boom"
    )
    user = staff()
    with django_capture_on_commit_callbacks() as callbacks:
        svc.alert_retry(alert=Alert.objects.get(pk=alert_id), user=user)
    assert len(callbacks) == 1
    alert = Alert.objects.get(pk=alert_id)
    assert (alert.state, alert.attempts) == (State.PENDING, 0)
    assert svc.alert_deliver(alert_id=alert_id) == "sent"


def test_retry_refuses_an_alert_that_did_not_fail():
    from django.core.exceptions import ValidationError

    consent = consented()
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)
    with pytest.raises(ValidationError):
        svc.alert_retry(alert=Alert.objects.get(pk=alert_id), user=staff())


# --- SMS ---------------------------------------------------------------------


def _at_local(hour, minute=0, day=None):
    return make_local(day or clinic_today(), datetime.time(hour, minute))


def test_sms_is_held_in_quiet_hours_and_sent_when_they_end(sms_provider):
    consent = consented(channel=Sponsor.Channel.SMS)
    day = clinic_today()
    session = SessionFactory(start=_at_local(18, day=day), end=_at_local(19, day=day))
    enrol(session, consent.patient)
    with time_machine.travel(_at_local(22, day=day), tick=False):
        (alert_id,) = create(session, consent.patient)
        assert svc.alert_deliver(alert_id=alert_id) == "held"
    alert = Alert.objects.get(pk=alert_id)
    assert alert.state == State.PENDING
    assert alert.next_attempt_at == _at_local(8, day=day + datetime.timedelta(1))
    assert sms_provider.requests == []

    with time_machine.travel(_at_local(7, 59, day=day + datetime.timedelta(1))):
        assert svc.alert_deliver(alert_id=alert_id) == "not due"
    with time_machine.travel(_at_local(8, 1, day=day + datetime.timedelta(1))):
        assert svc.alert_deliver(alert_id=alert_id) == "sent"
    (request,) = sms_provider.requests
    assert consent.sponsor.phone == "(555) 300-1000"
    assert request["json"]["to"] == "+15553001000"  # E.164, as providers take it
    assert request["headers"]["Authorization"] == "Bearer test-token"
    assert request["headers"]["Idempotency-Key"] == f"alert-{alert_id}"
    body = request["json"]["body"]
    assert len(body) <= 160
    assert PART2_NOTICE in body
    assert Disclosure.objects.get(reference=f"alert {alert_id}").channel == "sms"


def test_quiet_hours_follow_the_clinic_setting(sms_provider):
    ClinicSettings.objects.update_or_create(
        pk=1,
        defaults={
            "sms_quiet_start": datetime.time(12, 0),
            "sms_quiet_end": datetime.time(14, 0),
        },
    )
    consent = consented(channel=Sponsor.Channel.SMS)
    session = miss(consent.patient)
    with time_machine.travel(_at_local(13), tick=False):
        (alert_id,) = create(session, consent.patient)
        assert svc.alert_deliver(alert_id=alert_id) == "held"
    with time_machine.travel(_at_local(22), tick=False):
        assert svc.alert_deliver(alert_id=alert_id) == "sent"


def test_sms_stays_under_160_characters_with_long_names(settings):
    settings.CLINIC_NAME = (
        "The Very Long Named Harbor Light Recovery and Wellness Center"
    )
    settings.SITE_URL = "https://a-rather-long-hostname.example-clinic.org"
    consent = consented(channel=Sponsor.Channel.SMS)
    patient = consent.patient
    patient.first_name = "Maximiliana-Alexandrina"
    patient.save()
    session = miss(patient)
    (alert_id,) = create(session, patient)
    body = svc.render_sms(Alert.objects.get(pk=alert_id))
    assert len(body) <= 160
    assert PART2_NOTICE in body
    assert settings.CLINIC_PHONE in body


def test_sms_provider_errors_are_recorded(sms_provider):
    sms_provider.statuses = [503, 400]
    consent = consented(channel=Sponsor.Channel.SMS)
    session = miss(consent.patient)
    with time_machine.travel(_at_local(12), tick=False):
        (alert_id,) = create(session, consent.patient)
        with pytest.raises(svc.RetryLater):
            svc.alert_deliver(alert_id=alert_id)
        assert "503" in Alert.objects.get(pk=alert_id).last_error
        Alert.objects.filter(pk=alert_id).update(next_attempt_at=timezone.now())
        assert svc.alert_deliver(alert_id=alert_id) == "failed"
    assert "400" in Alert.objects.get(pk=alert_id).last_error


# --- the sweep -----------------------------------------------------------------


def test_sweep_alerts_for_unmarked_patients_after_the_grace_period_only(
    smtp_settings,
):
    ClinicSettings.objects.update_or_create(pk=1, defaults={"alert_grace_minutes": 30})
    late = consented()
    recent = consented()
    marked_present = consented()
    long_ago = consented()
    s_late = miss(late.patient, hours_ago=2, minutes=60, mark=False)  # ended 1h ago
    miss(recent.patient, hours_ago=1.25, minutes=60, mark=False)  # ended 15 min ago
    s_present = miss(marked_present.patient, hours_ago=2, minutes=60, mark=False)
    Attendance.objects.create(
        session=s_present,
        patient=marked_present.patient,
        status="present",
        minutes=60,
        recorded_by=staff(),
    )
    miss(long_ago.patient, hours_ago=50, minutes=60, mark=False)

    result = svc.alerts_sweep(deliver_inline=True)
    assert result.missed_created == 1
    assert result.delivered == {"sent": 1}
    (alert,) = Alert.objects.all()
    assert (alert.session, alert.sponsor) == (s_late, late.sponsor)
    assert [m["To"] for m in smtp_settings.messages] == [late.sponsor.email]

    again = svc.alerts_sweep(deliver_inline=True)
    assert again.missed_created == 0 and again.delivered == {}
    assert len(smtp_settings.messages) == 1


def test_sweep_requeues_only_alerts_left_behind(django_capture_on_commit_callbacks):
    consent = consented()
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)
    now = timezone.now()
    # Just queued: left alone.
    assert svc.alerts_sweep(now=now, deliver_inline=True).delivered == {}
    # Due for longer than ALERT_REQUEUE_AFTER and still pending: its task was lost.
    later = now + datetime.timedelta(minutes=5)
    Alert.objects.filter(pk=alert_id).update(next_attempt_at=now)
    ids = []
    original = svc.alerts_enqueue
    svc.alerts_enqueue = lambda *, alert_ids: ids.extend(alert_ids) or len(alert_ids)
    try:
        assert svc.alerts_sweep(now=later).queued == 1
    finally:
        svc.alerts_enqueue = original
    assert ids == [alert_id]


def test_enqueue_with_the_broker_down_keeps_the_alert_pending(settings):
    from tests.fixtures_services import free_port, use_broker

    consent = consented()
    session = miss(consent.patient)
    with use_broker(f"redis://127.0.0.1:{free_port()}/0"):
        with transaction.atomic():
            (alert_id,) = svc.missed_alerts_create(
                session=session, patient=consent.patient
            )
        # Called directly as on_commit would: never raises.
        assert svc.alerts_enqueue(alert_ids=[alert_id]) == 0
    assert Alert.objects.get(pk=alert_id).state == State.PENDING


# --- reminders ---------------------------------------------------------------


def test_reminders_go_to_opted_in_patients_the_day_before(smtp_settings, settings):
    settings.ALERT_REMINDER_HOUR = 9
    today = clinic_today()
    opted = AdmittedPatientFactory(reminders_opt_in=True, email="pat@home.test")
    not_opted = AdmittedPatientFactory(reminders_opt_in=False, email="no@home.test")
    by_sms = AdmittedPatientFactory(reminders_opt_in=True, email="")
    tomorrow = SessionFactory(
        start=make_local(today + datetime.timedelta(1), datetime.time(18)),
        end=make_local(today + datetime.timedelta(1), datetime.time(21)),
        modality=Modality.TELEHEALTH,
        room=None,
        telehealth_url="https://video.example/room",
    )
    enrol(tomorrow, opted, not_opted, by_sms)

    with time_machine.travel(_at_local(8, day=today), tick=False):
        assert svc.alerts_sweep(deliver_inline=True).reminders_created == 0
    with time_machine.travel(_at_local(10, day=today), tick=False):
        result = svc.alerts_sweep(deliver_inline=True)
        assert result.reminders_created == 2
        assert svc.alerts_sweep(deliver_inline=True).reminders_created == 0

    rows = {a.patient_id: a for a in Alert.objects.filter(kind="reminder")}
    assert set(rows) == {opted.pk, by_sms.pk}
    assert rows[opted.pk].sponsor is None and rows[opted.pk].channel == "email"
    assert rows[by_sms.pk].channel == "sms"
    (msg,) = smtp_settings.messages
    assert msg["To"] == "pat@home.test"
    text = smtp_settings.text_of(msg)
    assert "tomorrow" in text and "telehealth" in text and "6:00 PM" in text
    assert tomorrow.topic.name not in text
    assert not Disclosure.objects.exists()  # a message to the patient is no disclosure


def test_reminder_is_cancelled_if_the_patient_opts_out_before_sending(smtp_settings):
    patient = AdmittedPatientFactory(reminders_opt_in=True, email="pat@home.test")
    session = SessionFactory()
    enrol(session, patient)
    alert = Alert.objects.create(
        kind="reminder", session=session, patient=patient, channel="email"
    )
    Patient.objects.filter(pk=patient.pk).update(reminders_opt_in=False)
    assert svc.alert_deliver(alert_id=alert.pk) == "cancelled"
    assert Alert.objects.get(pk=alert.pk).reason == "patient opted out of reminders"


# --- the operator's command ----------------------------------------------------


def test_send_missed_alerts_command_runs_one_sweep_and_prints_it(smtp_settings):
    consent = consented()
    miss(consent.patient, hours_ago=3, minutes=60, mark=False)
    out = io.StringIO()
    call_command("send_missed_alerts", stdout=out)
    assert "missed-session alerts created: 1" in out.getvalue()
    assert "sent 1" in out.getvalue()
    assert len(smtp_settings.messages) == 1
    out = io.StringIO()
    call_command("send_missed_alerts", stdout=out)
    assert "missed-session alerts created: 0" in out.getvalue()
    assert len(smtp_settings.messages) == 1


def test_send_missed_alerts_command_can_queue_instead(settings):
    consent = consented()
    miss(consent.patient, hours_ago=3, minutes=60, mark=False)
    sent = []
    original = svc.alerts_enqueue
    svc.alerts_enqueue = lambda *, alert_ids: sent.extend(alert_ids) or len(alert_ids)
    try:
        out = io.StringIO()
        call_command("send_missed_alerts", "--queue", stdout=out)
    finally:
        svc.alerts_enqueue = original
    assert "pending alerts queued: 1" in out.getvalue()
    assert sent == list(Alert.objects.values_list("pk", flat=True))


# --- wiring --------------------------------------------------------------------


def test_beat_runs_the_sweep_every_minute(settings):
    from iop.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["sweep-alerts"]
    assert entry["task"] == "therapy_sessions.sweep_alerts"
    assert entry["schedule"] == 60.0
    app.loader.import_default_modules()
    assert "therapy_sessions.sweep_alerts" in app.tasks
    assert "therapy_sessions.deliver_alert" in app.tasks


def test_delivery_task_acks_late_and_retries_temporary_errors_a_capped_number():
    from sessions.tasks import deliver_alert

    assert deliver_alert.name == "therapy_sessions.deliver_alert"
    assert deliver_alert.acks_late is True
    assert deliver_alert.reject_on_worker_lost is True
    assert svc.RetryLater in deliver_alert.autoretry_for
    assert deliver_alert.retry_backoff
    assert 0 < deliver_alert.max_retries <= 50


def test_sweep_task_returns_a_summary_without_patient_data(smtp_settings):
    from sessions.tasks import sweep_alerts

    consent = consented()
    miss(consent.patient, mark=False)
    original = svc.alerts_enqueue
    svc.alerts_enqueue = lambda *, alert_ids: len(alert_ids)
    try:
        summary = sweep_alerts.run()
    finally:
        svc.alerts_enqueue = original
    assert summary.startswith("missed-session alerts created: 1;")
    assert consent.patient.first_name not in summary


def test_reminder_sms_is_short_and_says_when_and_how(sms_provider):
    patient = AdmittedPatientFactory(
        reminders_opt_in=True, email="", first_name="Robin", phone="+15550102222"
    )
    today = clinic_today()
    session = SessionFactory(
        start=make_local(today + datetime.timedelta(1), datetime.time(9, 30)),
        end=make_local(today + datetime.timedelta(1), datetime.time(12, 30)),
    )
    enrol(session, patient)
    alert = Alert.objects.create(
        kind="reminder", session=session, patient=patient, channel="sms"
    )
    with time_machine.travel(_at_local(12), tick=False):
        assert svc.alert_deliver(alert_id=alert.pk) == "sent"
    (body,) = sms_provider.bodies()
    assert len(body) <= 160
    assert "tomorrow" in body and "9:30AM" in body and "in person" in body
    assert session.topic.name not in body


def test_sms_keeps_the_notice_whole_even_when_nothing_else_fits(settings):
    settings.CLINIC_PHONE = "(555) 010-4400 extension 12345, ask for the front desk"
    consent = consented(channel=Sponsor.Channel.SMS)
    session = miss(consent.patient)
    (alert_id,) = create(session, consent.patient)
    body = svc.render_sms(Alert.objects.get(pk=alert_id))
    assert len(body) <= 160
    assert body.endswith(PART2_NOTICE)
