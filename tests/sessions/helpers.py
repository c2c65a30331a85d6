"""Builders shared by the session tests."""

import datetime

from django.utils import timezone

from core.timeutil import make_local
from sessions.models import Alert
from tests.factories import (
    ConsentFactory,
    RoomFactory,
    SessionFactory,
    enrol,
    past_session,
)


def session_on(day, hour=9, minutes=180, **kw):
    """A session on a clinic day at a local hour, in a room of its own."""
    start = make_local(day, datetime.time(hour))
    kw.setdefault("room", RoomFactory())
    return SessionFactory(
        start=start, end=start + datetime.timedelta(minutes=minutes), **kw
    )


def make_alert(state="pending", *, hours_ago=3, sponsor_name=None, **kw):
    """A sponsor alert for a consenting sponsor's patient, booked in a session
    that ended a while ago."""
    consent = ConsentFactory(
        **({"sponsor__full_name": sponsor_name} if sponsor_name else {})
    )
    session = past_session(hours_ago=hours_ago, minutes=60)
    enrol(session, consent.patient)
    extra = {"sent_at": timezone.now()} if state == "sent" else {}
    return Alert.objects.create(
        session=session,
        patient=consent.patient,
        sponsor=consent.sponsor,
        channel="email",
        state=state,
        **extra,
        **kw,
    )
