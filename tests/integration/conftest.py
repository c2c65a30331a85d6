"""Integration fixtures: a real Celery worker process on the test database.

Tests that use a worker must use `transactional_db` (the worker is another
process: it sees only committed rows)."""

import os

import pytest

from tests.fixtures_services import (
    CeleryWorker,
    PrivateRedis,
    purge_queue,
    sms_provider,  # noqa: F401 - fixtures for the tests below
    smtp_server,  # noqa: F401
    smtp_sink,  # noqa: F401
    worker_env,
)

BROKER_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/6")


def _factory(smtp_port):
    started = []

    def start(*, concurrency=4, broker_url=BROKER_URL, purge=True, **extra):
        env = worker_env(broker_url=broker_url, smtp_port=smtp_port, **extra)
        if purge:
            purge_queue(broker_url)
        worker = CeleryWorker(env, concurrency=concurrency)
        started.append(worker)
        return worker.start()

    return start, started


@pytest.fixture
def worker_factory(django_db_setup, smtp_server):  # noqa: F811
    """start(**options) -> a running CeleryWorker on the test database, sending
    mail to the SMTP server. Every worker it started is stopped after the test."""
    start, started = _factory(smtp_server.port)
    yield start
    for worker in started:
        worker.stop()
    purge_queue(BROKER_URL)


@pytest.fixture(scope="module")
def worker(django_db_setup, smtp_server):  # noqa: F811
    """One worker shared by a module's tests (stopped after the module)."""
    start, started = _factory(smtp_server.port)
    yield start()
    for one in started:
        one.stop()
    purge_queue(BROKER_URL)


@pytest.fixture
def private_redis():
    redis = PrivateRedis()
    redis.start()
    yield redis
    redis.stop()
