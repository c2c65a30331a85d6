"""Alerts when things break: a worker SIGKILLed, Redis stopped, and 1,000 misses at
once. Each test starts (and stops) its own worker process."""

import datetime
import os
import time

import pytest
from django.db import transaction
from django.utils import timezone

from core.models import ClinicSettings
from core.timeutil import clinic_today
from patients.models import PART2_NOTICE, Consent, Disclosure, Patient, Sponsor
from sessions.models import Alert, Attendance, Modality, Participant, TherapySession
from sessions.services import alerts as svc
from sessions.services.attendance import attendance_record
from tests.factories import enrol, past_session, staff
from tests.fixtures_services import use_broker, wait_for
from tests.integration.helpers import all_sent, consented, record_miss, settle

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

State = Alert.State


def test_worker_killed_while_holding_alerts_each_is_sent_once(
    worker_factory, smtp_sink, settings
):
    worker = worker_factory(concurrency=4)
    smtp_sink.rcpt_delay = 6.0  # keep the workers in the middle of sending
    ids = []
    for _ in range(12):
        consent = consented()
        session = past_session(hours_ago=1, minutes=60)
        enrol(session, consent.patient)
        with transaction.atomic():
            Attendance.objects.create(
                session=session,
                patient=consent.patient,
                status="unexcused",
                recorded_by=consent.witnessed_by,
            )
            ids += svc.missed_alerts_create(session=session, patient=consent.patient)
    assert len(ids) == 12
    wait_for(lambda: smtp_sink.rcpt_seen >= 4, timeout=15, message="sends under way")

    worker.kill()  # SIGKILL, the whole process group

    # Killed mid-send: those alerts are still pending (their transactions were
    # rolled back by PostgreSQL when the connections died).
    before = len(smtp_sink.messages)
    assert Alert.objects.filter(pk__in=ids, state=State.SENT).count() == before
    assert Alert.objects.filter(pk__in=ids, state=State.PENDING).count() == 12 - before
    assert before < 12  # the kill came while alerts were held
    smtp_sink.rcpt_delay = 0
    worker_factory(concurrency=4, purge=False)
    # The tasks the dead worker held are lost (unacked in Redis until the
    # visibility timeout); beat's sweep queues what stayed pending.
    settings.ALERT_REQUEUE_AFTER = 0
    svc.alerts_sweep()
    wait_for(all_sent(ids), timeout=60, message="all 12 sent after restart")
    settle(2)
    assert sorted(smtp_sink.alert_ids()) == sorted(ids)  # each exactly once
    assert Disclosure.objects.count() == 12


def test_redis_down_while_marking_absences_then_sweep_delivers_all(
    worker_factory, private_redis, smtp_sink, settings
):
    worker_factory(broker_url=private_redis.url)
    user = staff()
    patients = []
    for _ in range(5):
        consent = consented()
        session = past_session(hours_ago=1, minutes=60)
        enrol(session, consent.patient)
        patients.append((session, consent.patient))

    private_redis.stop()
    with use_broker(private_redis.url):
        started = time.monotonic()
        for session, patient in patients:
            attendance_record(
                session=session, patient=patient, status="unexcused", actor=user
            )
        marking_took = time.monotonic() - started
        assert Attendance.objects.filter(status="unexcused").count() == 5
        ids = list(Alert.objects.values_list("pk", flat=True))
        assert len(ids) == 5
        assert set(Alert.objects.values_list("state", flat=True)) == {State.PENDING}
        assert marking_took < 30, f"marking with Redis down took {marking_took:.1f}s"
        print(f"\nfive no-shows marked with Redis down in {marking_took:.2f}s")

        private_redis.start()  # Redis is back, empty
        settings.ALERT_REQUEUE_AFTER = 0
        assert svc.alerts_sweep().queued == 5
    wait_for(all_sent(ids), timeout=60, message="all sent once Redis is back")
    settle()
    assert sorted(smtp_sink.alert_ids()) == sorted(ids)


def test_sms_alert_goes_to_the_provider(worker_factory, sms_provider, settings):
    # Quiet hours off for this test, whatever the time of day.
    ClinicSettings.objects.update_or_create(
        pk=1,
        defaults={
            "sms_quiet_start": datetime.time(0, 0),
            "sms_quiet_end": datetime.time(0, 0),
        },
    )
    worker_factory(sms_url=sms_provider.url)
    consent = consented(
        sponsor__preferred_channel=Sponsor.Channel.SMS, sponsor__phone="+15550109999"
    )
    record_miss(consent)
    (alert_id,) = Alert.objects.values_list("pk", flat=True)
    wait_for(all_sent([alert_id]), timeout=15, message="sms sent")
    (request,) = sms_provider.requests
    assert request["json"]["to"] == "+15550109999"
    assert len(request["json"]["body"]) <= 160
    assert PART2_NOTICE in request["json"]["body"]


def _thousand_misses():
    """1,000 patients, each with a consented sponsor and an unmarked telehealth
    session that ended an hour ago."""
    now = timezone.now()
    user = staff()
    today = clinic_today()
    patients = Patient.objects.bulk_create(
        Patient(
            record_number=f"K{i:06d}",
            first_name=f"Pat{i}",
            last_name="Load",
            date_of_birth=datetime.date(1990, 1, 1),
            status=Patient.Status.ADMITTED,
            admitted_on=today - datetime.timedelta(days=10),
        )
        for i in range(1000)
    )
    sponsors = Sponsor.objects.bulk_create(
        Sponsor(
            patient=p,
            full_name=f"Sponsor {i}",
            relationship=Sponsor.Relationship.FAMILY,
            email=f"load{i}@family.test",
            preferred_channel=Sponsor.Channel.EMAIL,
        )
        for i, p in enumerate(patients)
    )
    Consent.objects.bulk_create(
        Consent(
            patient=s.patient,
            sponsor=s,
            purpose="attendance",
            effective_on=today - datetime.timedelta(days=10),
            expires_on=today + datetime.timedelta(days=300),
            signed_name=s.patient.full_name,
            signed_on=today - datetime.timedelta(days=10),
            witnessed_by=user,
        )
        for s in sponsors
    )
    sessions = TherapySession.objects.bulk_create(
        TherapySession(
            kind="individual",
            start=now - datetime.timedelta(hours=2),
            end=now - datetime.timedelta(hours=1),
            modality=Modality.TELEHEALTH,
            telehealth_url="https://video.example/room",
            capacity=1,
            created_by=user,
        )
        for _ in patients
    )
    Participant.objects.bulk_create(
        Participant(session=s, patient=p)
        for s, p in zip(sessions, patients, strict=True)
    )


def test_a_thousand_missed_sessions_all_sent_none_twice(
    worker_factory, smtp_sink, capsys
):
    concurrency = int(os.environ.get("IOP_BENCH_WORKERS", "8"))
    worker_factory(concurrency=concurrency)
    _thousand_misses()

    started = time.monotonic()
    result = svc.alerts_sweep()
    swept = time.monotonic() - started
    assert result.missed_created == 1000
    assert result.queued == 1000
    ids = list(Alert.objects.values_list("pk", flat=True))
    wait_for(all_sent(ids), timeout=300, interval=0.5, message="1,000 alerts sent")
    took = time.monotonic() - started
    settle(2)
    sent_ids = smtp_sink.alert_ids()
    assert len(sent_ids) == 1000
    assert sorted(sent_ids) == sorted(ids)  # all sent, none twice
    assert Disclosure.objects.count() == 1000
    with capsys.disabled():
        print(
            f"\n1,000 missed sessions: sweep {swept:.1f}s, "
            f"all delivered {took:.1f}s after the sweep started "
            f"({concurrency} worker processes, load average {os.getloadavg()[0]:.1f})"
        )
