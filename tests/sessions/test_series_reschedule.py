"""Moving the rest of a series to other weekdays or another time, from a date."""

import datetime

import pytest
from django.urls import reverse

from core.models import AuditEvent
from core.timeutil import clinic_today, local, make_local
from sessions.models import Kind, Participant, SessionSeries, TherapySession
from sessions.services import scheduling as svc
from sessions.services.scheduling import SchedulingError
from tests.factories import (
    AdmittedPatientFactory,
    RoomFactory,
    SessionFactory,
    TopicFactory,
    doctor,
    mark,
    staff,
)

pytestmark = pytest.mark.django_db

EVENING = datetime.time(18)
AFTERNOON = datetime.time(16, 30)
MON_WED_FRI = (0, 2, 4)
TUE_THU = (1, 3)


def _day(offset):
    return clinic_today() + datetime.timedelta(days=offset)


def _series(actor, *, starts_on, ends_on=None, count=None, patients=(), room=None):
    return svc.series_create(
        kind=Kind.GROUP,
        weekdays=MON_WED_FRI,
        start_time=EVENING,
        duration_minutes=120,
        starts_on=starts_on,
        ends_on=ends_on,
        occurrences=count,
        facilitators=[actor],
        actor=actor,
        room=room or RoomFactory(),
        topic=TopicFactory(),
        patients=patients,
    )


def _move(series, actor, *, from_date=None, start_time=EVENING, minutes=120):
    """Move the series to Tuesdays and Thursdays from from_date (tomorrow)."""
    return svc.series_reschedule(
        series=series,
        from_date=from_date or _day(1),
        weekdays=TUE_THU,
        start_time=start_time,
        duration_minutes=minutes,
        actor=actor,
    )


def _dates(series, patient=None):
    sessions = series.sessions.filter(status=TherapySession.Status.SCHEDULED)
    if patient is not None:
        sessions = sessions.filter(participants__patient=patient)
    return [local(s.start).date() for s in sessions.order_by("start")]


def test_moving_a_running_series_keeps_the_past_and_each_patients_span():
    actor = staff()
    amy, ben = AdmittedPatientFactory(), AdmittedPatientFactory()
    series = _series(actor, starts_on=_day(-14), ends_on=_day(35), patients=[amy, ben])
    past_before = list(
        series.sessions.filter(start__lt=make_local(_day(1), datetime.time.min))
        .order_by("start")
        .values_list("pk", flat=True)
    )
    # Ben leaves the group three weeks from now.
    svc.series_patient_remove(
        series=series, patient=ben, from_date=_day(21), actor=actor
    )
    ben_last_old = _dates(series, ben)[-1]

    new, sessions = _move(series, actor, start_time=AFTERNOON, minutes=90)

    series.refresh_from_db()
    assert new != series and series.continued_as == new
    assert series.ends_on == _day(0)
    # The past stays on the old series, untouched.
    assert (
        list(series.sessions.order_by("start").values_list("pk", flat=True))
        == past_before
    )
    # The new pattern: Tue/Thu 16:30-18:00 from tomorrow to the old end date.
    expected = [_day(n) for n in range(1, 36) if _day(n).weekday() in TUE_THU]
    assert _dates(new) == expected == [local(s.start).date() for s in sessions]
    assert all(local(s.start).time() == AFTERNOON for s in sessions)
    assert all(s.minutes == 90 for s in sessions)
    assert all(s.facilitator_links.get().user == actor for s in sessions)
    # Amy stays to the end; Ben until his last old session, as before.
    assert _dates(new, amy) == expected
    assert _dates(new, ben) == [d for d in expected if d <= ben_last_old]
    event = AuditEvent.objects.get(action="series_reschedule")
    assert "Mon/Wed/Fri to Tue/Thu at 16:30" in event.summary


def test_a_series_that_has_not_started_takes_the_new_days_itself():
    actor = staff()
    amy = AdmittedPatientFactory()
    series = _series(actor, starts_on=_day(3), count=6, patients=[amy])

    new, sessions = _move(series, actor, from_date=_day(3))

    assert new == series
    series.refresh_from_db()
    assert series.weekdays == list(TUE_THU) and series.occurrences == 6
    assert len(_dates(series)) == 6
    assert {d.weekday() for d in _dates(series)} <= set(TUE_THU)
    assert _dates(series, amy) == _dates(series)
    assert SessionSeries.objects.count() == 1


def test_a_clash_on_the_new_days_changes_nothing_and_names_the_session():
    actor, room = staff(), RoomFactory(name="Harbor Room")
    series = _series(actor, starts_on=_day(1), ends_on=_day(20), room=room)
    tuesday = next(_day(n) for n in range(1, 8) if _day(n).weekday() == 1)
    start = make_local(tuesday, EVENING)
    blocker = SessionFactory(
        room=room, start=start, end=start + datetime.timedelta(hours=1)
    )
    before = _dates(series)

    with pytest.raises(SchedulingError) as exc:
        _move(series, actor)

    assert f"session {blocker.pk}" in exc.value.messages[0]
    series.refresh_from_db()
    assert _dates(series) == before and series.weekdays == list(MON_WED_FRI)
    assert SessionSeries.objects.count() == 1


def test_an_occurrence_with_a_mark_is_cancelled_not_removed():
    actor = staff()
    amy = AdmittedPatientFactory()
    series = _series(actor, starts_on=_day(1), ends_on=_day(20), patients=[amy])
    excused_ahead = series.sessions.order_by("start")[1]
    mark(excused_ahead, amy, status="excused")

    _move(series, actor)

    excused_ahead.refresh_from_db()
    assert excused_ahead.status == TherapySession.Status.CANCELLED
    assert "Series moved to Tue/Thu" in excused_ahead.cancel_reason
    assert excused_ahead.attendance.get().status == "excused"


def test_from_a_past_date_or_with_no_day_is_refused():
    actor = staff()
    series = _series(actor, starts_on=_day(1), count=3)
    common = {"series": series, "start_time": EVENING, "duration_minutes": 60}
    with pytest.raises(SchedulingError, match="today or a later date"):
        svc.series_reschedule(
            from_date=_day(-1), weekdays=TUE_THU, actor=actor, **common
        )
    with pytest.raises(SchedulingError, match="at least one weekday"):
        svc.series_reschedule(from_date=_day(1), weekdays=[], actor=actor, **common)
    assert len(_dates(series)) == 3


def test_the_form_moves_the_series_and_the_page_links_both_halves(client_for):
    actor = staff()
    amy = AdmittedPatientFactory()
    series = _series(actor, starts_on=_day(-7), ends_on=_day(28), patients=[amy])
    client = client_for(actor)
    page = client.get(reverse("therapy_sessions:series", args=[series.pk]))
    url = reverse("therapy_sessions:series_reschedule", args=[series.pk])
    assert url in page.content.decode()

    form = client.get(url)
    assert form.status_code == 200
    assert 'value="18:00"' in form.content.decode()

    response = client.post(
        url,
        {
            "from_date": _day(2).isoformat(),
            "weekdays": ["1", "3"],
            "start_time": "17:00",
            "duration_minutes": "120",
        },
        follow=True,
    )

    series.refresh_from_db()
    new = series.continued_as
    assert response.redirect_chain[-1][0] == reverse(
        "therapy_sessions:series", args=[new.pk]
    )
    html = response.content.decode()
    assert "sessions scheduled from" in html
    assert reverse("therapy_sessions:series", args=[series.pk]) in html
    assert Participant.objects.filter(session__series=new, patient=amy).exists()


def test_the_form_shows_a_clear_message_for_a_date_in_the_past(client_for):
    actor = staff()
    series = _series(actor, starts_on=_day(1), count=3)
    response = client_for(actor).post(
        reverse("therapy_sessions:series_reschedule", args=[series.pk]),
        {
            "from_date": _day(-3).isoformat(),
            "weekdays": ["1"],
            "start_time": "17:00",
            "duration_minutes": "60",
        },
    )
    assert response.status_code == 200
    assert "from today or a later date" in response.content.decode()
    assert len(_dates(series)) == 3


def test_a_doctor_may_see_the_series_but_not_move_it(client_for):
    series = _series(staff(), starts_on=_day(1), count=3)
    client = client_for(doctor())
    page = client.get(reverse("therapy_sessions:series", args=[series.pk]))
    url = reverse("therapy_sessions:series_reschedule", args=[series.pk])
    assert page.status_code == 200 and url not in page.content.decode()
    assert client.get(url).status_code == 403
    assert (
        client.post(
            url,
            {
                "from_date": _day(1).isoformat(),
                "weekdays": ["1"],
                "start_time": "17:00",
                "duration_minutes": "60",
            },
        ).status_code
        == 403
    )
    assert len(_dates(series)) == 3


@pytest.mark.parametrize("weekdays", ["{}", "{1,7}", "{-1}"])
def test_the_database_refuses_a_series_without_valid_weekdays(weekdays):
    from django.db import IntegrityError, connection, transaction

    series = _series(staff(), starts_on=_day(1), count=2)
    with (
        pytest.raises(IntegrityError, match="series_weekdays_valid"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE therapy_sessions_sessionseries SET weekdays = %s WHERE id = %s",
            [weekdays, series.pk],
        )
