"""What the alert worker tests build: a consented sponsor and a missed session."""

import time

from sessions.models import Alert
from sessions.services.attendance import attendance_record
from tests.factories import ConsentFactory, enrol, past_session, staff


def consented(patient=None, **kw):
    """An active consent (and its sponsor), for `patient` or a new one."""
    if patient is None:
        return ConsentFactory(**kw)
    return ConsentFactory(sponsor__patient=patient, patient=patient, **kw)


def record_miss(consent):
    """`consent.patient` marked unexcused in a session that ended an hour ago."""
    session = past_session(hours_ago=1, minutes=60)
    enrol(session, consent.patient)
    attendance_record(
        session=session, patient=consent.patient, status="unexcused", actor=staff()
    )
    return session


def all_sent(ids):
    return lambda: (
        Alert.objects.filter(pk__in=ids, state=Alert.State.SENT).count() == len(ids)
    )


def settle(seconds=1.5):
    """Give a duplicate a chance to show up before asserting there is none."""
    time.sleep(seconds)
