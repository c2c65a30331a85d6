"""The seconds of unmarked bookings per patient and clinic week
(WeeklyMinutes.unmarked_seconds, kept by triggers on participants: migration
0009) agree with the participants they summarise, after bookings, withdrawals,
marks, corrections, deletions and session moves; and the sessions still ahead
that the compliance list reads from them agree with the participants summed
here in Python."""

import datetime
import importlib
import random
from collections import defaultdict

import pytest
import time_machine
from django.db import connection

from core.timeutil import local, make_local, week_start
from patients.models import Patient
from sessions.models import Attendance, Participant, TherapySession, WeeklyMinutes
from sessions.selectors.attendance import STATUS_LITERALS, compliance
from sessions.summaries import sync_clinic_zone, write_clinic_zone
from tests.factories import AdmittedPatientFactory, doctor, enrol, mark, staff
from tests.sessions.helpers import session_on

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)
MIGRATION = importlib.import_module("sessions.migrations.0009_weekly_unmarked_seconds")
WEDNESDAY = datetime.date(2027, 3, 10)


def unmarked_from_participants():
    """{(patient id, Monday of the clinic week of the start): seconds} of the
    active participations without a mark."""
    marked = set(Attendance.objects.values_list("session_id", "patient_id"))
    out = defaultdict(int)
    for pt in Participant.objects.all():
        if pt.active and (pt.session_id, pt.patient_id) not in marked:
            week = week_start(local(pt.start).date())
            out[(pt.patient_id, week)] += (pt.end - pt.start).total_seconds()
    return {key: seconds for key, seconds in out.items() if seconds}


def booked(session):
    return Participant.objects.filter(session=session)


def unmarked_kept():
    return {
        (w.patient_id, w.week): float(w.unmarked_seconds)
        for w in WeeklyMinutes.objects.all()
        if w.unmarked_seconds
    }


def assert_unmarked_agree():
    assert unmarked_kept() == unmarked_from_participants()


def ahead_from_participants(now):
    """{patient id: minutes still ahead this week} of admitted patients: active,
    unmarked bookings of scheduled sessions starting this clinic week that have
    not ended."""
    this_monday = week_start(local(now).date())
    marked = set(Attendance.objects.values_list("session_id", "patient_id"))
    out = defaultdict(float)
    for pt in Participant.objects.select_related("session"):
        if (
            pt.active
            and (pt.session_id, pt.patient_id) not in marked
            and pt.session.status == TherapySession.Status.SCHEDULED
            and week_start(local(pt.start).date()) == this_monday
            and pt.end > now
        ):
            out[pt.patient_id] += (pt.end - pt.start).total_seconds() / 60
    return {
        p.pk: round(round(out.get(p.pk, 0)) / 60, 1)
        for p in Patient.objects.filter(status="admitted")
    }


def ahead_listed(**kw):
    return {
        r["patient"].pk: r["this_week_remaining_hours"]
        for r in compliance(below_only=False, **kw)["rows"]
    }


def a_week(seed=5, patients=6):
    """Admitted patients booked into sessions of last week, this week and next
    week (Monday to Saturday, some late in the evening), some marked, one
    cancelled session and one completed early."""
    rng = random.Random(seed)
    people = AdmittedPatientFactory.create_batch(patients)
    monday = week_start(WEDNESDAY) - 7 * DAY
    sessions = []
    for day in range(20):
        date = monday + day * DAY
        if date.weekday() == 6:
            continue
        for hour in rng.sample([8, 10, 14, 19, 22], 2):
            s = session_on(date, hour=hour, minutes=rng.choice([45, 60, 90, 120]))
            enrol(s, *rng.sample(people, rng.randint(1, 3)))
            sessions.append(s)
    recorder = staff()
    for s in sessions:
        if s.end <= make_local(WEDNESDAY, datetime.time(12)) and rng.random() < 0.8:
            for pt in booked(s)[:2]:
                mark(s, pt.patient, rng.choice(["present", "unexcused"]), by=recorder)
    later = [s for s in sessions if s.start.date() > WEDNESDAY]
    TherapySession.objects.filter(pk=later[0].pk).update(
        status="cancelled", cancel_reason="Snow."
    )
    TherapySession.objects.filter(pk=later[1].pk).update(status="completed")
    return people, sessions


def test_unmarked_seconds_follow_bookings_withdrawals_marks_and_moves():
    with time_machine.travel(make_local(WEDNESDAY, datetime.time(12)), tick=False):
        people, sessions = a_week()
        assert unmarked_from_participants()  # bookings to agree on
        assert_unmarked_agree()

        # a booking withdrawn, then back; many withdrawn in one statement
        pt = Participant.objects.filter(marked=False).first()
        pt.active = False
        pt.save()
        assert_unmarked_agree()
        pt.active = True
        pt.save()
        Participant.objects.filter(patient=people[0], marked=False).update(active=False)
        assert_unmarked_agree()

        # marks: one, then a correction, then deleted (unmarked again)
        s = next(s for s in sessions if booked(s).filter(marked=False))
        patient = booked(s).filter(marked=False).first().patient
        a = mark(s, patient, "present")
        assert_unmarked_agree()
        a.status, a.minutes = "late", 10
        a.save()
        assert_unmarked_agree()
        a.delete()
        assert_unmarked_agree()

        # a session moved to the Sunday night of the week before, then into the
        # first minutes of the following Monday
        moved = max(sessions, key=lambda s: booked(s).count())
        sunday = week_start(local(moved.start).date()) - DAY
        for start in (
            make_local(sunday, datetime.time(23, 10)),
            make_local(sunday + DAY, datetime.time(0, 5)),
        ):
            moved.start, moved.end = start, start + datetime.timedelta(minutes=50)
            moved.save()
            assert_unmarked_agree()

        # a booking moved to another patient, then deleted; a session deleted
        pt = Participant.objects.filter(marked=False, active=True).last()
        other = next(p for p in people if not booked(pt.session).filter(patient=p))
        Participant.objects.filter(pk=pt.pk).update(patient=other)
        assert_unmarked_agree()
        Participant.objects.filter(pk=pt.pk).delete()
        assert_unmarked_agree()
        gone = sessions[-1]
        Attendance.objects.filter(session=gone).delete()
        gone.delete()
        assert_unmarked_agree()


def test_the_migrations_backfill_gives_what_the_triggers_keep():
    with time_machine.travel(make_local(WEDNESDAY, datetime.time(12)), tick=False):
        a_week(seed=8)
    kept = unmarked_kept()
    assert kept
    with connection.cursor() as cursor:
        cursor.execute("UPDATE therapy_sessions_weeklyminutes SET unmarked_seconds = 1")
        cursor.execute(MIGRATION.BACKFILL)
    assert unmarked_kept() == kept


@pytest.mark.parametrize(
    "moment",
    [
        datetime.time(0, 30),  # before the day's first session
        datetime.time(12),  # the week's booked sessions partly ended, unmarked
        datetime.time(19, 30),  # a session in progress counts as ahead
        datetime.time(23, 59),
    ],
)
def test_sessions_still_ahead_agree_with_the_participants(moment):
    with time_machine.travel(make_local(WEDNESDAY, datetime.time(12)), tick=False):
        people, _ = a_week(seed=13)
        mine = doctor()
        Patient.objects.filter(pk__in=[p.pk for p in people[::2]]).update(
            attending_doctor=mine
        )
    for day in (WEDNESDAY - 2 * DAY, WEDNESDAY, WEDNESDAY + 3 * DAY):
        now = make_local(day, moment)
        with time_machine.travel(now, tick=False):
            expected = ahead_from_participants(now)
            assert any(expected.values()) or day > WEDNESDAY
            assert ahead_listed() == expected
            mine_only = {
                pk: v
                for pk, v in expected.items()
                if Patient.objects.get(pk=pk).attending_doctor_id == mine.pk
            }
            assert ahead_listed(doctor=mine) == mine_only


def test_sessions_still_ahead_are_right_while_kept_in_another_zone():
    now = make_local(WEDNESDAY, datetime.time(12))
    with time_machine.travel(now, tick=False):
        a_week(seed=17)
        expected = ahead_from_participants(now)
        assert ahead_listed() == expected
        with connection.cursor() as cursor:
            write_clinic_zone(cursor, "Asia/Tokyo")
        assert ahead_listed() == expected  # summed from the participants meanwhile
        sync_clinic_zone()
        assert_unmarked_agree()
        assert ahead_listed() == expected


def test_the_statuses_the_statements_write_as_literals_are_the_models_values():
    assert all(literal == value for literal, value in STATUS_LITERALS.items())
