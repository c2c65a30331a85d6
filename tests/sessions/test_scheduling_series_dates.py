"""Property tests of the weekly pattern: every date is on a chosen weekday, in
order, within the range, and the local wall clock holds on every one of them."""

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from core.timeutil import local, make_local
from sessions.services.scheduling import MAX_SERIES_DAYS, series_dates

weekday_sets = st.sets(st.integers(min_value=0, max_value=6), min_size=1)
days = st.dates(
    min_value=datetime.date(2026, 1, 1), max_value=datetime.date(2029, 1, 1)
)
times = st.times().map(lambda t: t.replace(second=0, microsecond=0))


@settings(max_examples=150, deadline=None)
@given(weekdays=weekday_sets, start=days, count=st.integers(1, 60))
def test_counted_series_has_exactly_count_dates_on_chosen_weekdays(
    weekdays, start, count
):
    dates = series_dates(weekdays=weekdays, starts_on=start, occurrences=count)
    # A count that does not fit in a year stops at the year (series_create
    # refuses such a count with a message).
    year_end = start + datetime.timedelta(days=MAX_SERIES_DAYS)
    assert len(dates) == count or dates[-1] > year_end - datetime.timedelta(days=7)
    assert dates == sorted(set(dates))
    assert all(d.weekday() in weekdays for d in dates)
    assert dates[0] >= start
    # No chosen weekday is skipped between the first and the last date.
    expected = [
        start + datetime.timedelta(days=i)
        for i in range((dates[-1] - start).days + 1)
        if (start + datetime.timedelta(days=i)).weekday() in weekdays
    ]
    assert dates == expected


@settings(max_examples=150, deadline=None)
@given(weekdays=weekday_sets, start=days, length=st.integers(0, 120))
def test_dated_series_stays_within_its_dates(weekdays, start, length):
    end = start + datetime.timedelta(days=length)
    dates = series_dates(weekdays=weekdays, starts_on=start, ends_on=end)
    assert all(start <= d <= end for d in dates)
    assert len(dates) == sum(
        1
        for i in range(length + 1)
        if (start + datetime.timedelta(days=i)).weekday() in weekdays
    )


@settings(max_examples=200, deadline=None)
@given(day=days, at=times)
def test_local_wall_clock_holds_on_any_day_outside_the_skipped_hour(day, at):
    start = make_local(day, at)
    if local(start).replace(tzinfo=None) != datetime.datetime.combine(day, at):
        # 02:00-02:59 on the spring-forward day does not exist on the clock.
        assert day.month == 3 and at.hour == 2
        return
    assert local(start).date() == day and local(start).time() == at


def test_series_never_runs_past_a_year():
    start = datetime.date(2027, 1, 4)
    dates = series_dates(weekdays=range(7), starts_on=start, occurrences=10_000)
    assert dates[-1] <= start + datetime.timedelta(days=MAX_SERIES_DAYS)
