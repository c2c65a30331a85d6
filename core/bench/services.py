"""Local services of our own for the bench and the tests: a free port, a private
redis-server (never the machine's shared Redis, so that no other worker can take
our tasks), this process's Celery app pointed at it, and a Celery worker in a
process group of its own."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=30.0, message="condition", *, interval=0.05):
    """Poll `predicate` until it returns a truthy value, and return that value;
    TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {message}")
        time.sleep(interval)


@contextlib.contextmanager
def use_broker(url):
    """Point this process's Celery app (the web side) at another broker for the
    duration."""
    from kombu import pools

    from iop.celery import app

    def repoint(new):
        pools.reset()  # close and forget every pooled broker connection
        app._pool = None
        app.amqp._producer_pool = None
        app.conf.broker_url = new

    old = app.conf.broker_url
    repoint(url)
    try:
        yield app
    finally:
        repoint(old)


def start_celery_worker(*, env, concurrency, name, log, queue=None):
    """`celery -A iop worker` (the one beside this Python) in a process group of its
    own, writing to `log`. Stop it with stop_process_group."""
    from django.conf import settings

    command = [
        str(Path(sys.executable).with_name("celery")),
        "-A",
        "iop",
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        name,
    ]
    if queue:
        command.append(f"--queues={queue}")
    return subprocess.Popen(
        command,
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_process_group(proc, *, timeout):
    """SIGTERM the process group that `proc` leads (started with
    `start_new_session=True`), SIGKILL it if it is still there after `timeout`
    seconds."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class PrivateRedis:
    """A redis-server on a free port, without persistence, which may be stopped
    and started again on the same port."""

    def __init__(self, *, prefix="iop-redis-"):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def answers():
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2),
            ):
                return True
            return False

        wait_for(answers, 10, "the private redis-server")
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
