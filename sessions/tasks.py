"""Celery tasks for alerts. Each takes ids only and calls a service."""

from celery import shared_task
from django.conf import settings

from sessions.services.alerts import RetryLater, alert_deliver, alerts_sweep


@shared_task(
    name="therapy_sessions.deliver_alert",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(RetryLater,),
    retry_backoff=settings.ALERT_RETRY_BACKOFF,
    retry_backoff_max=settings.ALERT_RETRY_BACKOFF_MAX,
    retry_jitter=False,
    max_retries=settings.ALERT_TASK_MAX_RETRIES,
    soft_time_limit=60,
    time_limit=90,
)
def deliver_alert(alert_id):
    """Deliver one alert; safe to run twice (see alert_deliver)."""
    return alert_deliver(alert_id=alert_id)


@shared_task(
    name="therapy_sessions.sweep_alerts",
    expires=55,
    soft_time_limit=50,
    time_limit=58,
)
def sweep_alerts():
    """Every minute (beat): create alerts for new misses and reminders, and queue
    pending alerts whose task was lost."""
    return alerts_sweep().summary()
