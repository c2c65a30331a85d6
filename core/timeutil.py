"""The clinic's clock: which day it is, and local wall-clock conversions."""

import datetime
import zoneinfo

from django.conf import settings
from django.utils import timezone


def clinic_zone():
    return zoneinfo.ZoneInfo(settings.CLINIC_TIME_ZONE)


def clinic_now():
    return timezone.localtime(timezone.now(), clinic_zone())


def clinic_today():
    return clinic_now().date()


def local(dt):
    return timezone.localtime(dt, clinic_zone())


def make_local(day, time):
    """An aware datetime for a wall-clock `time` on `day` in the clinic's zone."""
    return datetime.datetime.combine(day, time, tzinfo=clinic_zone())


def day_bounds(day):
    """The aware [start, end) of a local day (23 or 25 hours long across DST)."""
    return make_local(day, datetime.time.min), make_local(
        day + datetime.timedelta(days=1), datetime.time.min
    )


def span_bounds(first_day, last_day):
    """The aware [start, end) of the local days first_day..last_day."""
    return day_bounds(first_day)[0], day_bounds(last_day)[1]


def week_start(day):
    return day - datetime.timedelta(days=day.weekday())


def years_before(day, years):
    """The same date `years` earlier (28 February for 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)
