"""sessions_between builds its sessions from a prepared cursor (_tile_session):
the same instances TherapySession.objects.raw() built from _SESSIONS_SQL (the
same field values, the same deferred fields, the same tile extras)."""

import datetime

import pytest
from django.utils import timezone

from sessions.models import TherapySession
from sessions.selectors import scheduling
from tests.factories import (
    AdmittedPatientFactory,
    RoomFactory,
    SessionFactory,
    TopicFactory,
    enrol,
    facilitate,
    staff,
)

pytestmark = pytest.mark.django_db


def _raw(start, end, room_id=None, facilitator_id=None, patient_id=None):
    sql, params = scheduling._SESSIONS_SQL, [start, end]
    if room_id is not None:
        sql, params = sql + scheduling._IN_ROOM, [*params, room_id]
    if facilitator_id is not None:
        sql += scheduling._WITH_FACILITATOR
        params = [*params, facilitator_id, start, end]
    if patient_id is not None:
        sql, params = sql + scheduling._WITH_PATIENT, [*params, patient_id]
    return list(TherapySession.objects.raw(sql + scheduling._IN_ORDER, params))


def _seen(s):
    return (
        {
            f.attname: getattr(s, f.attname)
            for f in s._meta.concrete_fields
            if f.attname not in s.get_deferred_fields()
        },
        s.get_deferred_fields(),
        s.room_name,
        s.topic_name,
        s.facilitator_names,
        s.patient_count,
    )


def test_sessions_between_builds_what_raw_built():
    now = timezone.now().replace(microsecond=0)
    room, other, topic = RoomFactory(), RoomFactory(), TopicFactory()
    a, b = staff(full_name="Ana"), staff(full_name="")
    p = AdmittedPatientFactory()
    made = []
    for i in range(6):
        s = SessionFactory(
            start=now + datetime.timedelta(hours=4 * i),
            end=now + datetime.timedelta(hours=4 * i + 2),
            room=room if i % 2 else other,
            topic=topic if i % 3 else None,
        )
        if i % 2:
            facilitate(s, a)
        if i % 3 == 0:
            facilitate(s, b)
        if i < 4:
            enrol(s, p)
        made.append(s)
    start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=2)
    for filters in (
        {},
        {"room_id": room.pk},
        {"facilitator_id": a.pk},
        {"facilitator_id": b.pk},
        {"patient_id": p.pk},
        {"room_id": room.pk, "patient_id": p.pk},
    ):
        got = scheduling.sessions_between(start=start, end=end, **filters)
        want = _raw(start, end, **filters)
        assert [_seen(s) for s in got] == [_seen(s) for s in want], filters
        assert got, filters
        for g, w in zip(got, want, strict=True):
            assert (g.room and g.room.name) == (w.room_id and w.room_name)
            assert g._state.adding is False and g._state.db == "default"
