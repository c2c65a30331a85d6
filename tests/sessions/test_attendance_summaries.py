"""The attendance summaries kept by PostgreSQL triggers (WeeklyMinutes,
NoShowRun: migration 0008) agree with the marks they summarise, after inserts,
bulk inserts, corrections, deletions and session moves; and the compliance and
flagged lists built on them agree with the rules computed here in Python from
the marks themselves."""

import datetime
import importlib
import random
import threading
from collections import defaultdict

import pytest
from django.db import connection, connections
from django.utils import timezone

from core.models import ClinicSettings
from core.timeutil import clinic_today, local, make_local, week_start
from patients.models import Patient
from sessions.models import Attendance, FlagReview, NoShowRun, WeeklyMinutes
from sessions.selectors.attendance import (
    RUN_LOOKBACK,
    compliance,
    flagged_page,
    patient_flags,
)
from sessions.services.attendance import attendance_mark_rest_present
from sessions.summaries import sync_clinic_zone, write_clinic_zone
from tests.factories import (
    AdmittedPatientFactory,
    PatientFactory,
    UserFactory,
    doctor,
    enrol,
    mark,
    staff,
)
from tests.sessions.helpers import session_on

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)
MIGRATION = importlib.import_module(
    "sessions.migrations.0008_weekly_minutes_noshow_runs"
)


# --- the rules, from the marks ---------------------------------------------------


def _marks():
    return list(Attendance.objects.select_related("session"))


def weekly_from_marks():
    """{(patient id, Monday of the clinic week of the session's start): minutes}."""
    out = defaultdict(int)
    for a in _marks():
        out[(a.patient_id, week_start(local(a.session.start).date()))] += a.minutes
    return {key: minutes for key, minutes in out.items() if minutes}


def weekly_kept():
    return {
        (w.patient_id, w.week): w.minutes
        for w in WeeklyMinutes.objects.all()
        if w.minutes
    }


def runs_from_marks():
    """{patient id: their latest marks that are no-shows, back to one that is not}."""
    by_patient = defaultdict(list)
    for a in _marks():
        by_patient[a.patient_id].append(a)
    out = {}
    for pk, marks in by_patient.items():
        marks.sort(key=lambda a: (a.session.start, a.pk), reverse=True)
        run = 0
        for a in marks:
            if a.status != "unexcused":
                break
            run += 1
        if run:
            out[pk] = run
    return out


def runs_kept():
    return {r.patient_id: r.run for r in NoShowRun.objects.all() if r.run}


def assert_summaries_agree():
    assert weekly_kept() == weekly_from_marks()
    assert runs_kept() == runs_from_marks()


def flags_from_marks(*, now, doctor_user=None, include_reviewed=False):
    """{patient: (reasons, id of the latest standing review or None)} by the rules,
    computed from the marks and reviews without SQL."""
    rules = ClinicSettings.read()
    window_start = now - datetime.timedelta(days=rules.absence_rule_days)
    cap = rules.consecutive_noshow_rule + RUN_LOOKBACK
    runs = runs_from_marks()
    noshows = defaultdict(list)
    for a in _marks():
        if a.status == "unexcused":
            noshows[a.patient_id].append((a.session.start, a.recorded_at))
    out = {}
    for p in Patient.objects.filter(status__in=["admitted", "on_hold"]):
        if doctor_user is not None and p.attending_doctor_id != doctor_user.pk:
            continue
        absences = sum(1 for s, _ in noshows[p.pk] if window_start <= s <= now)
        absences = absences if absences >= rules.absence_rule_count else 0
        run = min(runs.get(p.pk, 0), cap)
        run = run if run >= rules.consecutive_noshow_rule else 0
        if not (absences or run):
            continue
        standing = [
            r
            for r in FlagReview.objects.filter(patient=p)
            # no no-show for a later session, none recorded after the review
            if not any(
                s > r.reviewed_at or at > r.reviewed_at for s, at in noshows[p.pk]
            )
        ]
        if standing and not include_reviewed:
            continue
        latest = max(standing, key=lambda r: (r.reviewed_at, r.pk), default=None)
        reasons = []
        if absences:
            reasons.append(
                f"{absences} unexcused absences in the last "
                f"{rules.absence_rule_days} days"
            )
        if run:
            more = " or more" if run >= cap else ""
            reasons.append(f"{run}{more} no-shows in a row")
        out[p] = (reasons, latest.pk if latest else None)
    return out


def flags_listed(**kw):
    return {
        r["patient"]: (r["reasons"], r["review"].pk if r["review"] else None)
        for r in flagged_page(**kw)["rows"]
    }


def hours_from_marks(today):
    """{patient id: (minutes last week, minutes this week)} of admitted patients."""
    this_monday = week_start(today)
    weekly = weekly_from_marks()
    return {
        p.pk: (
            weekly.get((p.pk, this_monday - 7 * DAY), 0),
            weekly.get((p.pk, this_monday), 0),
        )
        for p in Patient.objects.filter(status="admitted")
    }


def hours_listed(**kw):
    return {
        r["patient"].pk: (
            round(r["last_week_hours"] * 60),
            round(r["this_week_hours"] * 60),
        )
        for r in compliance(below_only=False, **kw)["rows"]
    }


def assert_hours_agree(today):
    expected = {
        pk: (round(last / 60, 1) * 60, round(this / 60, 1) * 60)
        for pk, (last, this) in hours_from_marks(today).items()
    }
    assert hours_listed() == {
        pk: tuple(round(m) for m in v) for pk, v in expected.items()
    }


# --- a clinic with marks of every kind -------------------------------------------

STATUSES = ["present", "present", "late", "left_early", "excused", "unexcused"]


def a_clinic(seed=7, patients=8, weeks=5):
    """Admitted patients (and one on hold, one discharged) with marks over the
    last weeks, some at hours when the UTC date is the next day's (late
    evening), two sessions a day."""
    rng = random.Random(seed)
    recorder = staff()
    people = AdmittedPatientFactory.create_batch(patients)
    people.append(AdmittedPatientFactory(status="on_hold"))
    people.append(
        PatientFactory(
            status="discharged",
            admitted_on=clinic_today() - 60 * DAY,
            discharged_on=clinic_today() - DAY,
            discharge_reason="dropped_out",
        )
    )
    monday = week_start(clinic_today()) - (weeks - 1) * 7 * DAY
    sessions = []
    for day in range(weeks * 7):
        date = monday + day * DAY
        if date > clinic_today() - DAY:
            break
        for hour in rng.sample([1, 9, 13, 18, 21], 2):
            s = session_on(date, hour=hour, minutes=rng.choice([60, 90, 120]))
            sessions.append(s)
            for p in rng.sample(people, rng.randint(1, 4)):
                status = rng.choice(STATUSES)
                minutes = (
                    0 if status in Attendance.ABSENCES else rng.randint(1, s.minutes)
                )
                mark(s, p, status, minutes, by=recorder)
    return people, sessions


# --- the summaries -----------------------------------------------------------------


def test_weekly_minutes_and_runs_follow_inserts_corrections_deletes_and_moves():
    people, sessions = a_clinic()
    assert weekly_from_marks()  # the clinic has hours to agree on
    assert_summaries_agree()

    # corrections: one row at a time, then many in one statement
    a = Attendance.objects.filter(status="present").first()
    a.status, a.minutes = "unexcused", 0
    a.save()
    assert_summaries_agree()
    Attendance.objects.filter(status="late").update(status="present", minutes=30)
    assert_summaries_agree()
    Attendance.objects.filter(patient=people[0]).update(status="unexcused", minutes=0)
    assert_summaries_agree()

    # deletions: one patient's marks, then one mark
    Attendance.objects.filter(patient=people[1]).delete()
    Attendance.objects.filter(pk=Attendance.objects.first().pk).delete()
    assert_summaries_agree()

    # a session moved to a Sunday night of the week before (Monday in UTC),
    # then to the first minutes of that Monday
    moved = max(sessions, key=lambda s: s.attendance.count())
    sunday = week_start(local(moved.start).date()) - DAY
    start = make_local(sunday, datetime.time(23, 10))
    moved.start, moved.end = start, start + datetime.timedelta(minutes=45)
    moved.save()
    assert_summaries_agree()
    start = make_local(sunday + DAY, datetime.time(0, 5))
    moved.start, moved.end = start, start + datetime.timedelta(minutes=45)
    moved.save()
    assert_summaries_agree()

    # several marks inserted by one statement (bulk create)
    fresh = session_on(clinic_today() - 2 * DAY, hour=19)
    enrol(fresh, *people[2:6])
    attendance_mark_rest_present(session=fresh, actor=staff())
    assert Attendance.objects.filter(session=fresh).count() == 4
    assert_summaries_agree()


def test_a_run_longer_than_the_lookback_is_kept_whole():
    p = AdmittedPatientFactory()
    mark(session_on(clinic_today() - 40 * DAY), p, "present")
    for k in range(14):
        mark(session_on(clinic_today() - (30 - 2 * k) * DAY), p, "unexcused")
    assert runs_kept() == {p.pk: 14}
    assert (
        patient_flags(patient=p)[-1] == f"{2 + RUN_LOOKBACK} or more no-shows in a row"
    )
    # an older mark recorded late does not break a newer run
    mark(session_on(clinic_today() - 45 * DAY), p, "present")
    assert runs_kept() == {p.pk: 14}
    # a newer one does
    mark(session_on(clinic_today() - DAY), p, "late", 30)
    assert runs_kept() == {}
    assert_summaries_agree()


def test_the_migrations_backfill_gives_what_the_triggers_keep():
    a_clinic(seed=3)
    kept = (weekly_kept(), runs_kept())
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM therapy_sessions_weeklyminutes")
        cursor.execute("DELETE FROM therapy_sessions_noshowrun")
        cursor.execute(MIGRATION.BACKFILL)
    assert (weekly_kept(), runs_kept()) == kept
    assert_summaries_agree()


def test_hours_are_right_while_the_weekly_minutes_are_kept_in_another_zone():
    people, _ = a_clinic(seed=11, weeks=2)
    today = clinic_today()
    assert_hours_agree(today)
    with connection.cursor() as cursor:
        write_clinic_zone(cursor, "Asia/Tokyo")
    # a mark written meanwhile lands in the other zone's week: the late evening of
    # a Sunday is Monday in Tokyo
    sunday = week_start(today) - DAY
    mark(session_on(sunday, hour=22, minutes=60), people[0], "present", 60)
    assert weekly_kept() != weekly_from_marks()
    assert_hours_agree(today)  # read from the marks meanwhile
    sync_clinic_zone()  # what `migrate` does after any migration
    with connection.cursor() as cursor:
        cursor.execute("SELECT therapy_sessions_clinic_zone()")
        assert cursor.fetchone()[0] == "America/New_York"
    assert_summaries_agree()
    assert_hours_agree(today)


# --- the lists built on them --------------------------------------------------------


def test_compliance_hours_agree_with_the_marks():
    a_clinic(seed=5, weeks=2)
    assert_hours_agree(clinic_today())
    everyone = compliance(below_only=False)
    below = compliance()
    assert everyone["count"] == Patient.objects.filter(status="admitted").count()
    assert below["count"] == sum(
        1 for r in everyone["rows"] if r["last_week_below"] or r["this_week_below"]
    )


def test_flagged_lists_agree_with_the_rules_computed_from_the_marks():
    people, sessions = a_clinic(seed=21, patients=12)
    now = timezone.now()
    mine = doctor()
    Patient.objects.filter(pk__in=[p.pk for p in people[::2]]).update(
        attending_doctor=mine
    )
    flagged = flags_from_marks(now=now, include_reviewed=True)
    assert len(flagged) >= 3  # enough to compare
    # a review that stands, one that a later no-show undid, and one made before
    # the marks were entered (their sessions are older than it)
    first, second, third = list(flagged)[:3]
    reviewer = UserFactory(full_name="Rita Reviewer")
    FlagReview.objects.create(
        patient=first, reviewed_by=reviewer, note="Seen.", reviewed_at=now
    )
    FlagReview.objects.create(
        patient=second,
        reviewed_by=reviewer,
        note="Seen long ago.",
        reviewed_at=now - 60 * DAY,
    )
    mark(session_on(clinic_today() - DAY, hour=6), second, "unexcused")
    noshows = Attendance.objects.filter(patient=third, status="unexcused")
    reviewed_at = min(a.recorded_at for a in noshows) - datetime.timedelta(minutes=1)
    assert all(a.session_start < reviewed_at for a in noshows)
    FlagReview.objects.create(
        patient=third, reviewed_by=reviewer, note="Before.", reviewed_at=reviewed_at
    )
    for kw in (
        {},
        {"include_reviewed": True},
        {"doctor_user": mine},
        {"doctor_user": mine, "include_reviewed": True},
    ):
        expected = flags_from_marks(now=now, **kw)
        listed = flags_listed(
            now=now,
            doctor=kw.get("doctor_user"),
            include_reviewed=kw.get("include_reviewed", False),
        )
        assert listed == expected, kw
    assert first not in flags_listed(now=now)
    assert second in flags_listed(now=now)
    assert third in flags_listed(now=now)
    rows = flagged_page(now=now, include_reviewed=True)["rows"]
    review = next(r["review"] for r in rows if r["patient"] == first)
    assert review.reviewed_by.full_name == "Rita Reviewer"
    assert review.note == "Seen."
    # the orders and the pages
    urgent = [r["patient"] for r in flagged_page(now=now, order="urgency")["rows"]]
    paged = []
    for number in range(1, 5):
        paged += [
            r["patient"]
            for r in flagged_page(now=now, order="urgency", page=number, per_page=2)[
                "rows"
            ]
        ]
    assert paged[: len(urgent)] == urgent
    by_name = [r["patient"] for r in flagged_page(now=now)["rows"]]
    assert by_name == sorted(by_name, key=lambda p: (p.last_name, p.first_name, p.pk))


@pytest.mark.django_db(transaction=True)
def test_two_no_shows_of_one_patient_recorded_at_once_both_count():
    """Each writer locks the patient's run before counting it again, so that one
    does not count without the other's mark."""
    p = AdmittedPatientFactory()
    recorder = staff()
    mark(session_on(clinic_today() - 10 * DAY), p, "present", by=recorder)
    for attempt in range(3):
        first = session_on(clinic_today() - (8 - 2 * attempt) * DAY, hour=9)
        second = session_on(clinic_today() - (8 - 2 * attempt) * DAY, hour=13)
        enrol(first, p)
        enrol(second, p)
        barrier = threading.Barrier(2)
        errors = []

        def record(session):
            try:
                barrier.wait(timeout=10)
                Attendance.objects.create(
                    session=session,
                    patient=p,
                    status="unexcused",
                    minutes=0,
                    recorded_by=recorder,
                )
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                connections.close_all()  # this thread's own connection

        threads = [threading.Thread(target=record, args=(s,)) for s in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert errors == []
        assert runs_kept() == {p.pk: 2 * (attempt + 1)}
    assert_summaries_agree()


def test_sessions_still_ahead_leave_out_marked_cancelled_and_completed_ones():
    import time_machine

    from sessions.models import TherapySession

    wednesday = datetime.date(2027, 3, 10)
    with time_machine.travel(make_local(wednesday, datetime.time(8)), tick=False):
        p = AdmittedPatientFactory()
        ahead = {}
        for day, (hour, state) in enumerate(
            [(10, "scheduled"), (10, "cancelled"), (13, "completed"), (15, "marked")]
        ):
            s = session_on(wednesday + (day % 3) * DAY, hour=hour, minutes=60 + day)
            enrol(s, p)
            ahead[state] = s
        mark(ahead["marked"], p, "present", 30)
        TherapySession.objects.filter(pk=ahead["cancelled"].pk).update(
            status="cancelled", cancel_reason="Snow."
        )
        TherapySession.objects.filter(pk=ahead["completed"].pk).update(
            status="completed"
        )
        # a session that already ended this week, still unmarked: not ahead
        enrol(session_on(wednesday - 2 * DAY, hour=10), p)
        row = {r["patient"]: r for r in compliance(below_only=False)["rows"]}[p]
    assert row["this_week_remaining_hours"] == round(60 / 60, 1)
    assert row["this_week_hours"] == 0.5
