"""Alerts through a real Celery worker process, real Redis and a real SMTP server.

Each test says what must hold: one email per consented sponsor per miss, whatever
runs twice, whoever crashes, and whether Redis or the mail server is away."""

import datetime
import time

import pytest
from django.db import transaction
from django.test import Client

from accounts import roles
from core.models import ClinicSettings
from core.timeutil import clinic_today
from patients.models import PART2_NOTICE, Consent, Disclosure
from sessions.models import Alert
from sessions.services import alerts as svc
from sessions.services.attendance import attendance_record
from sessions.tasks import deliver_alert
from tests.factories import UserFactory, enrol, past_session, staff
from tests.fixtures_services import wait_for
from tests.integration.helpers import all_sent, consented, record_miss, settle

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

State = Alert.State


def test_unexcused_absence_emails_each_consented_sponsor_once_within_seconds(
    worker, smtp_sink
):
    first = consented()
    patient = first.patient
    second = consented(patient=patient)
    revoked = consented(
        patient=patient,
        revoked_on=clinic_today() - datetime.timedelta(days=2),
        revoked_how="signed letter",
        revoked_recorded_by=staff(),
    )
    session = past_session(hours_ago=1, minutes=60)
    enrol(session, patient)
    started = time.monotonic()

    attendance_record(
        session=session, patient=patient, status="unexcused", actor=staff()
    )

    ids = list(Alert.objects.values_list("pk", flat=True))
    assert len(ids) == 2
    wait_for(lambda: len(smtp_sink.messages) >= 2, timeout=15, message="2 emails")
    elapsed = time.monotonic() - started
    settle()
    assert sorted(m["To"] for m in smtp_sink.messages) == sorted(
        [first.sponsor.email, second.sponsor.email]
    )
    assert revoked.sponsor.email not in {m["To"] for m in smtp_sink.messages}
    for msg in smtp_sink.messages:
        assert PART2_NOTICE in smtp_sink.text_of(msg)
        assert PART2_NOTICE in smtp_sink.html_of(msg)
    wait_for(all_sent(ids), timeout=5, message="alerts marked sent")
    assert Disclosure.objects.count() == 2
    assert elapsed < 10, f"took {elapsed:.1f}s"


def test_sweep_twice_and_task_twice_send_one_email(worker, smtp_sink, settings):
    consent = consented()
    session = past_session(hours_ago=3, minutes=60)  # unmarked, ended 2 h ago
    enrol(session, consent.patient)

    first = svc.alerts_sweep()
    second = svc.alerts_sweep()
    assert (first.missed_created, second.missed_created) == (1, 0)
    (alert_id,) = Alert.objects.values_list("pk", flat=True)
    deliver_alert.delay(alert_id)
    deliver_alert.delay(alert_id)
    settings.ALERT_REQUEUE_AFTER = 0  # and the sweep queues it a third time
    svc.alerts_sweep()

    wait_for(all_sent([alert_id]), timeout=15, message="alert sent")
    settle(2)
    assert smtp_sink.alert_ids() == [alert_id]
    assert Disclosure.objects.count() == 1


def test_corrected_to_present_before_sending_sends_nothing(worker, smtp_sink):
    consent = consented()
    session = past_session(hours_ago=1, minutes=60)
    enrol(session, consent.patient)
    user = staff()
    smtp_sink.rcpt_delay = 0
    with transaction.atomic():
        attendance_record(
            session=session, patient=consent.patient, status="unexcused", actor=user
        )
        # Corrected in the same breath, before any worker sees the alert.
        attendance_record(
            session=session,
            patient=consent.patient,
            status="present",
            actor=user,
            reason="She was in the waiting room",
        )
    (alert,) = Alert.objects.all()
    assert (alert.state, alert.reason) == (State.CANCELLED, "attendance corrected")
    svc.alerts_sweep()
    settle(2)
    assert smtp_sink.messages == []


def test_out_of_scope_or_expired_consent_sends_nothing(worker, smtp_sink):
    narrow = consented(scope=Consent.Scope.ENROLLMENT)
    expired = consented(
        effective_on=clinic_today() - datetime.timedelta(days=90),
        expires_on=clinic_today() - datetime.timedelta(days=1),
    )
    for consent in (narrow, expired):
        record_miss(consent)
    assert not Alert.objects.exists()
    settle(1)
    assert smtp_sink.messages == []


def test_smtp_refusing_for_a_while_retries_then_sends(worker, smtp_sink):
    smtp_sink.refuse_next = 2
    consent = consented()
    record_miss(consent)
    (alert_id,) = Alert.objects.values_list("pk", flat=True)
    wait_for(all_sent([alert_id]), timeout=30, message="sent after retries")
    alert = Alert.objects.get(pk=alert_id)
    assert alert.attempts == 3
    assert "451" in alert.last_error  # the history of the trouble stays visible
    assert smtp_sink.refused == 2
    assert smtp_sink.alert_ids() == [alert_id]


def test_smtp_refusing_for_good_ends_failed_and_visible_to_staff(worker, smtp_sink):
    ClinicSettings.objects.update_or_create(pk=1, defaults={"alert_max_attempts": 3})
    smtp_sink.refuse_code = 451
    consent = consented()
    record_miss(consent)
    (alert_id,) = Alert.objects.values_list("pk", flat=True)
    wait_for(
        lambda: Alert.objects.filter(pk=alert_id, state=State.FAILED).exists(),
        timeout=30,
        message="alert failed",
    )
    assert Alert.objects.get(pk=alert_id).attempts == 3
    assert smtp_sink.messages == []

    client = Client()
    client.force_login(UserFactory(role=roles.STAFF))
    html = client.get("/alerts/").content.decode()
    assert "451" in html and ">Retry</button>" in html

    # The mail server is fixed; staff press Retry.
    smtp_sink.refuse_code = None
    response = client.post(f"/alerts/{alert_id}/retry/")
    assert response.status_code == 302
    wait_for(all_sent([alert_id]), timeout=15, message="sent after retry button")
    assert smtp_sink.alert_ids() == [alert_id]
