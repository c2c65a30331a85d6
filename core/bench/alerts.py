"""The alert pipeline, end to end: N missed sessions -> the sweep -> a real Celery
worker -> a local SMTP sink (aiosmtpd).

Everything it starts it stops: a private redis-server on a free port (so that no
other worker on the machine can take the bench's tasks), the SMTP sink in a
thread, and `celery -A iop worker` as a subprocess pointed at the same database."""

import contextlib
import datetime
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import roles
from accounts.models import User
from core.models import ClinicSettings
from core.timeutil import clinic_today
from patients.models import Consent, Patient, Sponsor
from sessions.models import Alert, Participant, TherapySession

from . import db
from .seed import DOMAIN, copy_rows, record_numbers, reserve_ids
from .services import (
    PrivateRedis,
    free_port,
    start_celery_worker,
    stop_process_group,
    use_broker,
    wait_for,
)

logging.getLogger("mail.log").setLevel(logging.WARNING)


class CountingSink:
    """An aiosmtpd handler that counts accepted messages (and keeps recipients)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.recipients = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd
        with self.lock:
            self.recipients.extend(envelope.rcpt_tos)
        return "250 Message accepted for delivery"

    def count(self, prefix=""):
        with self.lock:
            return sum(1 for r in self.recipients if r.startswith(prefix))


class Worker:
    def __init__(self, *, broker_url, smtp_port, concurrency):
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix="iop-bench-worker-", suffix=".log", delete=False
        )
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="iop.settings.dev",
            DEBUG="false",
            DATABASE_URL=db.current_url(),
            REDIS_URL=broker_url,
            EMAIL_HOST="127.0.0.1",
            EMAIL_PORT=str(smtp_port),
            SMS_BACKEND="console",
            # The queue this process sends to (the test settings use their own).
            CELERY_TASK_DEFAULT_QUEUE=settings.CELERY_TASK_DEFAULT_QUEUE,
            PYTHONUNBUFFERED="1",
        )
        self.proc = start_celery_worker(
            env=env,
            concurrency=concurrency,
            name=f"bench-{os.getpid()}@%h",
            log=self.log,
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
        )

        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the Celery worker exited:\n{self.output()[-3000:]}"
                )
            return "ready." in self.output()

        wait_for(ready, 60, "the Celery worker")

    def output(self):
        return Path(self.log.name).read_text(errors="replace")

    def stop(self):
        stop_process_group(self.proc, timeout=20)
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


def missed_sessions(count):
    """`count` admitted patients, each with one sponsor (email, active consent) and
    one telehealth session that ended an hour ago, unmarked. Returns session ids."""
    clinic = ClinicSettings.load()
    now = timezone.now()
    end = now - datetime.timedelta(minutes=clinic.alert_grace_minutes + 30)
    start = end - datetime.timedelta(minutes=50)
    today = clinic_today()
    admin = User.objects.filter(groups__name=roles.STAFF).order_by("id").first()
    if admin is None:
        raise RuntimeError("no staff user in the database")
    stamp = f"bench{time.monotonic_ns()}"
    with transaction.atomic():
        pids = list(reserve_ids(Patient, count))
        sids = list(reserve_ids(Sponsor, count))
        session_ids = list(reserve_ids(TherapySession, count))
        numbers = record_numbers(count)
        since = today - datetime.timedelta(days=20)
        copy_rows(
            Patient,
            ["id", "record_number", "first_name", "last_name", "date_of_birth"]
            + ["status", "admitted_on", "referred_on", "primary_counselor"],
            [
                (pid, num, "Alex", f"Benchmark{i}", datetime.date(1985, 5, 5))
                + ("admitted", since, since, admin.pk)
                for i, (pid, num) in enumerate(zip(pids, numbers, strict=True))
            ],
        )
        copy_rows(
            Sponsor,
            [
                "id",
                "patient",
                "full_name",
                "relationship",
                "email",
                "preferred_channel",
            ],
            [
                (sid, pid, "Sam Sponsor", "family", f"{stamp}-{sid}@{DOMAIN}", "email")
                for sid, pid in zip(sids, pids, strict=True)
            ],
        )
        copy_rows(
            Consent,
            ["patient", "sponsor", "purpose", "effective_on", "expires_on"]
            + ["signed_name", "signed_on", "witnessed_by"],
            [
                (pid, sid, "Call me if I miss a session.", since)
                + (today + datetime.timedelta(days=90), "Alex", since, admin.pk)
                for sid, pid in zip(sids, pids, strict=True)
            ],
        )
        copy_rows(
            TherapySession,
            ["id", "kind", "start", "end", "modality", "telehealth_url"]
            + ["capacity", "status", "created_by"],
            [
                (sid, "individual", start, end, "telehealth")
                + (f"https://meet.{DOMAIN}/a/{sid}", 1, "scheduled", admin.pk)
                for sid in session_ids
            ],
        )
        copy_rows(
            Participant,
            ["session", "patient", "start", "end", "active"],
            [
                (sid, pid, start, end, True)
                for sid, pid in zip(session_ids, pids, strict=True)
            ],
        )
    return session_ids, stamp


def run_pipeline(count, *, concurrency=4, timeout=None):
    """Time `count` missed sessions through the sweep to the SMTP sink."""
    from sessions.services.alerts import alerts_sweep

    timeout = timeout or max(120, count * 0.6)
    session_ids, stamp = missed_sessions(count)
    sink = CountingSink()
    smtp = Controller(sink, hostname="127.0.0.1", port=free_port())
    smtp.start()
    redis_server = PrivateRedis(prefix="iop-bench-redis-").start()
    worker = None
    try:
        with use_broker(redis_server.url):
            worker = Worker(
                broker_url=redis_server.url,
                smtp_port=smtp.port,
                concurrency=concurrency,
            )
            mine = Alert.objects.filter(session_id__in=session_ids)
            t0 = time.perf_counter()
            alerts_sweep()
            expected = mine.count()
            if expected != count:
                raise RuntimeError(
                    f"the sweep created {expected} alerts for {count} missed sessions"
                )

            def all_sent():
                if worker.proc.poll() is not None:
                    raise RuntimeError(f"the worker died:\n{worker.output()[-3000:]}")
                return mine.filter(state=Alert.State.SENT).count() >= count

            try:
                wait_for(all_sent, timeout, f"{count} alerts to be sent")
            except TimeoutError as exc:
                log = worker.output()[-3000:]
                raise RuntimeError(f"{exc}; worker log:\n{log}") from exc
            seconds = time.perf_counter() - t0
            # Only the bench's sponsors: the database may hold other misses.
            wait_for(lambda: sink.count(stamp) >= count, 30, "the SMTP sink")
            if sink.count(stamp) != count:
                raise RuntimeError(f"{sink.count(stamp)} emails for {count} alerts")
    finally:
        if worker is not None:
            worker.stop()
        redis_server.stop()
        smtp.stop()
    return {
        "count": count,
        "seconds": round(seconds, 2),
        "per_second": round(count / seconds, 1),
    }
