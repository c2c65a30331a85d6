"""The staff dashboard's one statement (core.selectors.STAFF_DASHBOARD_SQL) against
the ORM reads it replaces: today's sessions, the sessions with attendance to take,
and each session's label as TherapySession.label words it."""

import datetime

import pytest
import time_machine
from django.db.models import Count

from core.selectors import TODAY_ON_DASHBOARD, UNMARKED_ON_DASHBOARD, staff_dashboard
from core.timeutil import day_bounds, make_local
from sessions.models import Kind, Modality, TherapySession
from tests.factories import (
    AdmittedPatientFactory,
    RoomFactory,
    SessionFactory,
    enrol,
    mark,
    staff,
)
from tests.sessions.reference import unmarked_sessions

pytestmark = pytest.mark.django_db

DAY = datetime.date(2027, 3, 10)  # a Wednesday


def _varied_sessions(day, first_hour):
    """Sessions of every wording: a title, a group with and without a topic, an
    individual and a family session, in person and by video."""
    made = []
    kinds = [
        {"title": "Relapse prevention, week 3"},
        {},  # a group with its topic
        {"topic": None},
        {"kind": Kind.INDIVIDUAL, "topic": None, "capacity": 1},
        {"kind": Kind.FAMILY, "topic": None},
        {
            "kind": Kind.INDIVIDUAL,
            "topic": None,
            "capacity": 1,
            "modality": Modality.TELEHEALTH,
            "room": None,
            "telehealth_url": "https://video.example/a",
        },
    ]
    for i, kw in enumerate(kinds):
        start = make_local(day, datetime.time(first_hour + i))
        kw.setdefault("room", RoomFactory())
        made.append(
            SessionFactory(
                start=start, end=start + datetime.timedelta(minutes=50), **kw
            )
        )
    return made


def _as_orm(session, count):
    return (
        session.pk,
        session.start,
        session.end,
        session.label,
        session.get_modality_display(),
        session.room.name if session.room else None,
        count,
    )


def test_staff_dashboard_statement_agrees_with_the_orm():
    user = staff()
    patients = [AdmittedPatientFactory() for _ in range(14)]
    _varied_sessions(DAY, 6)  # ended by noon
    later = _varied_sessions(DAY, 13)
    for i, session in enumerate(later):
        enrol(session, *patients[: min(i % 3, session.capacity)])
    for i, session in enumerate(_varied_sessions(DAY - datetime.timedelta(days=2), 8)):
        enrol(session, patients[i])
        if session.capacity > 1:  # one marked, one not
            enrol(session, patients[i + 6])
            mark(session, patients[i], "present")
    more = [
        SessionFactory(
            start=make_local(DAY - datetime.timedelta(days=3), datetime.time(h)),
            end=make_local(DAY - datetime.timedelta(days=3), datetime.time(h, 30)),
            title=f"Extra {h}",
        )
        for h in range(8, 14)
    ]
    for session in more:
        enrol(session, patients[12])
    cancelled = later[2]
    TherapySession.objects.filter(pk=cancelled.pk).update(
        status="cancelled", cancel_reason="Ill"
    )

    with time_machine.travel(make_local(DAY, datetime.time(12)), tick=False):
        data = staff_dashboard(user=user)
        now = make_local(DAY, datetime.time(12))
        start, end = day_bounds(DAY)
        day = TherapySession.objects.filter(start__gte=start, start__lt=end).exclude(
            status="cancelled"
        )
        upcoming = (
            day.filter(end__gt=now)
            .select_related("room", "topic")
            .annotate(n=Count("participants"))
            .order_by("start", "id")[:TODAY_ON_DASHBOARD]
        )
        todo = unmarked_sessions(limit=UNMARKED_ON_DASHBOARD)

    assert data["sessions_today"]["total"] == day.count() == 11
    assert data["sessions_today"]["to_come"] == 5
    assert [tuple(s) for s in data["sessions_today"]["sessions"]] == [
        _as_orm(s, s.n) for s in upcoming
    ]
    assert [tuple(s) for s in data["unmarked_sessions"]] == [
        _as_orm(s, s.unmarked_count) for s in todo
    ]
    assert len(todo) == UNMARKED_ON_DASHBOARD
    assert data["unmarked_total"] == todo[0].total == 6 + 6
    labels = {s.label for s in data["unmarked_sessions"]}
    assert {"Relapse prevention, week 3", "Individual session"} <= labels
