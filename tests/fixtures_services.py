"""Real services for tests: an SMTP server (aiosmtpd), an SMS provider stand-in (a
local HTTP server), a private redis-server, and a Celery worker process.

Use them from a test module with `from tests.fixtures_services import *`.
Everything a fixture starts, it stops.
"""

import contextlib
import email
import email.policy
import json
import os
import signal
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from core.bench.services import (
    PrivateRedis,
    free_port,
    start_celery_worker,
    stop_process_group,
    use_broker,
    wait_for,
)

__all__ = [
    "smtp_server",
    "smtp_sink",
    "sms_provider",
    "smtp_settings",
    "free_port",
    "wait_for",
    "SmtpSink",
    "SmsProvider",
    "PrivateRedis",
    "CeleryWorker",
    "use_broker",
    "worker_env",
    "purge_queue",
]


# ---------------------------------------------------------------------------
# SMTP
# ---------------------------------------------------------------------------


class SmtpSink:
    """An aiosmtpd handler that keeps every accepted message.

    refuse_next: refuse that many DATA commands with 451 (temporary) first.
    refuse_code: when set, refuse every DATA with this code (e.g. 451, 550).
    rcpt_delay: seconds to wait before answering each RCPT (to catch a worker
    in the middle of sending)."""

    def __init__(self):
        self.messages = []
        self.refuse_next = 0
        self.refuse_code = None
        self.rcpt_delay = 0.0
        self.rcpt_seen = 0
        self.refused = 0
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        import asyncio

        with self._lock:
            self.rcpt_seen += 1
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self.refuse_code:
                self.refused += 1
                return f"{self.refuse_code} mailbox unavailable, try again"
            if self.refuse_next > 0:
                self.refuse_next -= 1
                self.refused += 1
                return "451 4.3.0 temporarily unavailable, try again later"
            msg = email.message_from_bytes(
                envelope.content, policy=email.policy.default
            )
            msg.envelope_to = list(envelope.rcpt_tos)
            self.messages.append(msg)
        return "250 Message accepted for delivery"

    def reset(self):
        with self._lock:
            self.messages.clear()
            self.refuse_next = 0
            self.refuse_code = None
            self.rcpt_delay = 0.0
            self.rcpt_seen = 0
            self.refused = 0

    def alert_ids(self):
        return [int(m["X-IOP-Alert"]) for m in self.messages if m["X-IOP-Alert"]]

    @staticmethod
    def text_of(msg):
        return msg.get_body(preferencelist=("plain",)).get_content()

    @staticmethod
    def html_of(msg):
        return msg.get_body(preferencelist=("html",)).get_content()


@pytest.fixture(scope="session")
def smtp_server():
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.port = port
    yield sink
    controller.stop()


@pytest.fixture
def smtp_sink(smtp_server):
    """A real SMTP server (aiosmtpd) on 127.0.0.1:<smtp_sink.port>, emptied."""
    smtp_server.reset()
    yield smtp_server
    smtp_server.reset()


@pytest.fixture
def smtp_settings(settings, smtp_sink):
    """This process sends mail over SMTP to the sink."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_sink.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    return smtp_sink


# ---------------------------------------------------------------------------
# SMS provider (the one external HTTP service we stand in for)
# ---------------------------------------------------------------------------


class SmsProvider:
    """A local HTTP server that records requests. `statuses` is a list of HTTP
    statuses to answer in turn (then 200)."""

    def __init__(self):
        self.requests = []
        self.statuses = []
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                with provider._lock:
                    status = provider.statuses.pop(0) if provider.statuses else 200
                    if status == 200:
                        provider.requests.append(
                            {
                                "path": self.path,
                                "headers": dict(self.headers),
                                "json": json.loads(raw or b"{}"),
                            }
                        )
                body = json.dumps(
                    {"id": f"msg-{len(provider.requests)}"}
                    if status == 200
                    else {"error": "nope"}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def bodies(self):
        return [r["json"]["body"] for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sms_provider(settings):
    """SMS_BACKEND=http pointed at a local HTTP server."""
    provider = SmsProvider()
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_URL = provider.url
    settings.SMS_HTTP_TOKEN = "test-token"
    settings.SMS_FROM = "+15550100000"
    yield provider
    provider.close()


# ---------------------------------------------------------------------------
# Redis and Celery
# ---------------------------------------------------------------------------


def worker_env(*, broker_url=None, smtp_port=None, sms_url=None, **extra):
    """The environment of a worker process that uses the TEST database."""
    from django.conf import settings

    from core.bench.db import current_url

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="iop.settings.dev",
        DEBUG="false",
        DATABASE_URL=current_url(),
        REDIS_URL=broker_url or os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/6"),
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port or 25),
        SMS_BACKEND="http" if sms_url else "console",
        SMS_HTTP_URL=sms_url or "",
        SMS_HTTP_TOKEN="test-token",
        ALERT_RETRY_BACKOFF="1",
        ALERT_RETRY_BACKOFF_MAX="4",
        PYTHONUNBUFFERED="1",
        CELERY_TASK_DEFAULT_QUEUE=settings.CELERY_TASK_DEFAULT_QUEUE,
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


class CeleryWorker:
    """`celery -A iop worker` as a subprocess in its own process group."""

    def __init__(self, env, concurrency=4):
        self.env = env
        self.concurrency = concurrency
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open
            prefix="iop-worker-", suffix=".log", delete=False
        )
        self.log_path = self.log.name

    def start(self, timeout=40):
        offset = Path(self.log_path).stat().st_size
        self.proc = start_celery_worker(
            env=self.env,
            concurrency=self.concurrency,
            name=f"alerts-test-{os.getpid()}-{time.monotonic_ns()}@%h",
            log=self.log,
        )

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited:\n{self.output()}")
            return "ready." in self.output()[offset:]

        wait_for(ready, timeout=timeout, message="celery worker ready")
        return self

    def output(self):
        return Path(self.log_path).read_text(errors="replace")

    def kill(self):
        """SIGKILL the whole process group: the machine died."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self, keep_log=False):
        if self.proc:
            stop_process_group(self.proc, timeout=15)
        self.proc = None
        if not keep_log and not os.environ.get("IOP_KEEP_WORKER_LOGS"):
            self.log.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.log_path)


def purge_queue(broker_url):
    """Empty this run's own queue (see CELERY_TASK_DEFAULT_QUEUE in test settings);
    other queues in the same Redis database are left alone."""
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(broker_url)
    client.delete(settings.CELERY_TASK_DEFAULT_QUEUE)
    client.close()
