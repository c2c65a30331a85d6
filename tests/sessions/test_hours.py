"""Hours per day and per week in the clinic's zone, against the targets."""

import datetime

import pytest
from django.urls import reverse

from core.timeutil import clinic_today, make_local, week_start
from sessions.selectors.attendance import daily_minutes, patient_hours, weekly_target
from tests.factories import AdmittedPatientFactory, RoomFactory, SessionFactory, mark

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def session_at(day, hour, minute=0, minutes=180):
    start = make_local(day, datetime.time(hour, minute))
    return SessionFactory(
        start=start,
        end=start + datetime.timedelta(minutes=minutes),
        room=RoomFactory(),
    )


def test_session_across_midnight_counts_on_the_local_day_it_starts():
    """Sunday 22:30-01:30 in New York is Monday 03:30 UTC: it belongs to Sunday
    and to the week that began the Monday before."""
    this_monday = week_start(clinic_today())
    last_sunday = this_monday - DAY
    p = AdmittedPatientFactory()
    late_group = session_at(last_sunday, 22, 30)
    assert late_group.start.astimezone(datetime.UTC).date() == this_monday
    mark(late_group, p, "present")
    minutes = daily_minutes(
        start_day=last_sunday - 6 * DAY, end_day=this_monday + 6 * DAY
    )
    assert minutes == {(p.pk, last_sunday): 180}
    data = patient_hours(patient=p, weeks=2)
    last, this = data["weeks"]
    assert (last["monday"], last["minutes"], last["days"][6]["minutes"]) == (
        this_monday - 7 * DAY,
        180,
        180,
    )
    assert this["minutes"] == 0


def test_evening_session_after_utc_midnight_stays_on_its_local_day():
    """Monday 20:00-23:00 local is Tuesday 00:00-03:00 UTC (EST/EDT): Monday."""
    monday = week_start(clinic_today()) - 14 * DAY
    p = AdmittedPatientFactory()
    evening = session_at(monday, 20)
    assert evening.end.astimezone(datetime.UTC).date() == monday + DAY
    mark(evening, p, "late", 120)
    assert daily_minutes(start_day=monday, end_day=monday + 6 * DAY) == {
        (p.pk, monday): 120
    }


def test_week_boundary_sunday_night_and_monday_morning_fall_in_different_weeks():
    this_monday = week_start(clinic_today())
    p = AdmittedPatientFactory()
    mark(session_at(this_monday - 8 * DAY, 9), p, "present")  # Sunday two weeks ago
    mark(session_at(this_monday - 7 * DAY, 0, 30, minutes=60), p, "present")  # Mon
    weeks = patient_hours(patient=p, weeks=3)["weeks"]
    assert [w["minutes"] for w in weeks] == [180, 60, 0]


def test_daily_minutes_add_up_several_sessions_on_one_day_and_exclude_absences():
    day = clinic_today() - 3 * DAY
    p = AdmittedPatientFactory()
    mark(session_at(day, 9), p, "present")
    mark(session_at(day, 13, minutes=60), p, "left_early", 45)
    mark(session_at(day, 15, minutes=60), p, "unexcused")
    assert daily_minutes(start_day=day, end_day=day) == {(p.pk, day): 225}


def test_adult_weekly_target_is_nine_hours_and_under_18_is_six():
    from core.models import ClinicSettings

    cs = ClinicSettings.load()
    monday = week_start(clinic_today())
    adult = AdmittedPatientFactory(date_of_birth=datetime.date(1990, 1, 1))
    minor = AdmittedPatientFactory(date_of_birth=monday.replace(year=monday.year - 16))
    assert weekly_target(adult, monday, cs) == 540
    assert weekly_target(minor, monday, cs) == 360
    assert patient_hours(patient=minor, weeks=1)["this_week"]["target_hours"] == 6.0
    assert patient_hours(patient=adult, weeks=1)["this_week"]["target_hours"] == 9.0


def test_patient_turning_18_gets_the_adult_target_from_the_week_of_the_birthday():
    from core.models import ClinicSettings

    cs = ClinicSettings.load()
    monday = week_start(clinic_today())
    p = AdmittedPatientFactory(date_of_birth=monday.replace(year=monday.year - 18))
    assert weekly_target(p, monday, cs) == 540
    assert weekly_target(p, monday - DAY * 7, cs) == 360


def test_targets_follow_the_clinics_settings():
    from core.models import ClinicSettings

    ClinicSettings.objects.update_or_create(
        pk=1, defaults={"weekly_target_minutes_adult": 600, "daily_target_minutes": 120}
    )
    p = AdmittedPatientFactory()
    day = clinic_today() - 2 * DAY
    mark(session_at(day, 9, minutes=120), p, "present")
    data = patient_hours(patient=p, weeks=2)
    week = next(w for w in data["weeks"] if w["monday"] == week_start(day))
    assert week["target_hours"] == 10.0
    assert week["days_met"] == 1
    assert data["daily_target_hours"] == 2.0


def test_patient_hours_page_shows_chart_and_table(client_for, staff_user):
    p = AdmittedPatientFactory(first_name="Rosa", last_name="Diaz")
    day = clinic_today() - 7 * DAY
    mark(session_at(day, 9), p, "present")
    response = client_for(staff_user).get(
        reverse("therapy_sessions:patient_hours", args=[p.pk])
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in body and 'role="img"' in body and "<rect" in body
    assert f'data-week="{week_start(day):%Y-%m-%d}"' in body
    assert "<strong>3.0</strong>" in body
    assert 'name="start"' in body and 'name="end"' in body


@pytest.mark.parametrize(
    "role,expected",
    {None: 302, "sponsor": 403, "staff": 200, "doctor": 200, "admin": 200}.items(),
)
def test_patient_hours_page_roles(client_for, users, role, expected):
    p = AdmittedPatientFactory()
    response = client_for(users.get(role)).get(
        reverse("therapy_sessions:patient_hours", args=[p.pk])
    )
    assert response.status_code == expected


def test_patient_hours_page_query_count_does_not_grow_with_attendance(
    client_for, staff_user
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(staff_user)
    counts = []
    for n in (2, 30):
        p = AdmittedPatientFactory()
        for i in range(n):
            mark(session_at(clinic_today() - (i + 1) * DAY, 9 + (i % 3) * 4), p)
        url = reverse("therapy_sessions:patient_hours", args=[p.pk])
        client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_viewing_a_patients_hours_writes_an_audit_row(client_for, doctor_user):
    from core.models import AuditEvent

    p = AdmittedPatientFactory()
    client_for(doctor_user).get(reverse("therapy_sessions:patient_hours", args=[p.pk]))
    event = AuditEvent.objects.get(action="view", patient=p)
    assert event.user == doctor_user


def test_weeks_before_admission_are_not_counted_as_below_target():
    p = AdmittedPatientFactory(admitted_on=week_start(clinic_today()) - 7 * DAY)
    weeks = patient_hours(patient=p, weeks=3)["weeks"]
    assert [w["outside"] for w in weeks] == [True, False, False]
