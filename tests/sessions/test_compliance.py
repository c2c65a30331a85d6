"""Compliance (below target), attendance-rule flags, and the dashboards."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import ClinicSettings
from core.timeutil import clinic_today, make_local, week_start
from patients.models import Patient
from sessions.selectors.attendance import compliance, flagged_patients, patient_flags
from sessions.services.attendance import attendance_record
from tests.factories import (
    AdmittedPatientFactory,
    PatientFactory,
    enrol,
    mark,
    past_session,
)
from tests.sessions.helpers import session_on

from .reference import unmarked_sessions

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


def give_week(patient, monday, minutes_per_day, days=3):
    status = "late" if minutes_per_day < 180 else "present"
    for d in range(days):
        mark(session_on(monday + d * DAY), patient, status, minutes_per_day)


# --- compliance ------------------------------------------------------------------


def test_compliance_lists_admitted_patients_below_target_last_week():
    last_monday = week_start(clinic_today()) - 7 * DAY
    ok = AdmittedPatientFactory(last_name="Okay")
    low = AdmittedPatientFactory(last_name="Low")
    referred = PatientFactory(last_name="Referred")
    give_week(ok, last_monday, 180)  # 9 h
    give_week(low, last_monday, 120)  # 6 h
    give_week(referred, last_monday, 0, days=0)
    rows = {r["patient"].last_name: r for r in compliance()["rows"]}
    assert "Referred" not in rows
    assert rows["Low"]["last_week_hours"] == 6.0
    assert rows["Low"]["last_week_below"] is True
    # Okay met last week, but this week (so far) is below: still listed for this week.
    assert rows["Okay"]["last_week_below"] is False
    assert rows["Okay"]["this_week_below"] is True


def test_under_18_at_six_hours_meets_target_while_adult_does_not():
    last_monday = week_start(clinic_today()) - 7 * DAY
    minor = AdmittedPatientFactory(
        last_name="Young", date_of_birth=last_monday.replace(year=last_monday.year - 16)
    )
    adult = AdmittedPatientFactory(last_name="Grown")
    give_week(minor, last_monday, 120)
    give_week(adult, last_monday, 120)
    rows = {r["patient"].last_name: r for r in compliance()["rows"]}
    assert rows["Young"]["last_week_below"] is False
    assert rows["Young"]["last_week_target_hours"] == 6.0
    assert rows["Young"]["minor"] is True
    assert rows["Grown"]["last_week_below"] is True
    assert rows["Grown"]["last_week_target_hours"] == 9.0


def test_this_week_lists_only_patients_whose_schedule_cannot_reach_the_target():
    import time_machine

    wednesday = datetime.date(2027, 3, 10)
    monday = week_start(wednesday)
    with time_machine.travel(make_local(wednesday, datetime.time(8)), tick=False):
        on_track = AdmittedPatientFactory(last_name="Track")
        short = AdmittedPatientFactory(last_name="Short")
        give_week(on_track, monday - 7 * DAY, 180)
        give_week(short, monday - 7 * DAY, 180)
        for i in range(3):  # Wed, Thu, Fri 10:00-13:00, all still ahead
            s = session_on(wednesday + i * DAY, hour=10)
            enrol(s, on_track)
            if i == 0:
                enrol(s, short)
        rows = {r["patient"].last_name: r for r in compliance()["rows"]}
    assert "Track" not in rows
    assert rows["Short"]["this_week_below"] is True
    assert rows["Short"]["this_week_remaining_hours"] == 3.0
    assert rows["Short"]["last_week_below"] is False


@pytest.mark.parametrize(
    "role,expected",
    {None: 302, "sponsor": 403, "staff": 200, "doctor": 200, "admin": 200}.items(),
)
def test_compliance_page_roles(client_for, users, role, expected):
    response = client_for(users.get(role)).get(reverse("therapy_sessions:compliance"))
    assert response.status_code == expected


def test_compliance_page_same_query_count_for_5_and_60_patients(client_for, staff_user):
    client = client_for(staff_user)
    last_monday = week_start(clinic_today()) - 7 * DAY
    counts = []
    made = 0
    for n in (5, 60):
        for i in range(n - made):
            p = AdmittedPatientFactory()
            s = session_on(last_monday + (i % 5) * DAY, hour=6 + (i % 4) * 3)
            mark(s, p, "unexcused" if i % 3 == 0 else "late", 0 if i % 3 == 0 else 60)
        made = n
        url = reverse("therapy_sessions:compliance")
        client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        # every patient is counted; a page shows 50 of them
        assert f"{n} patients below target" in body
        assert body.count('badge bad">below') == min(n, 50)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    second = client.get(url, {"page": 2}).content.decode()
    assert second.count('badge bad">below') == 10


# --- rule flags ------------------------------------------------------------------


def test_two_no_shows_in_a_row_flag_the_patient_and_a_correction_clears_it(admin_user):
    p = AdmittedPatientFactory()
    first = past_session(hours_ago=72)
    second = past_session(hours_ago=48)
    mark(first, p, "present")
    assert patient_flags(patient=p) == []
    mark(second, p, "unexcused")
    assert patient_flags(patient=p) == []  # one no-show only
    third = past_session(hours_ago=24)
    mark(third, p, "unexcused")
    assert patient_flags(patient=p) == ["2 no-shows in a row"]
    assert [r["patient"] for r in flagged_patients()] == [p]
    attendance_record(
        session=third,
        patient=p,
        status="excused",
        actor=admin_user,
        reason="Hospital visit, note received",
    )
    assert patient_flags(patient=p) == []
    assert flagged_patients() == []


def test_attending_again_breaks_the_run_of_no_shows():
    p = AdmittedPatientFactory()
    mark(past_session(hours_ago=96), p, "unexcused")
    mark(past_session(hours_ago=72), p, "unexcused")
    assert patient_flags(patient=p) == ["2 no-shows in a row"]
    mark(past_session(hours_ago=24), p, "present")
    assert patient_flags(patient=p) == []


def test_three_unexcused_within_thirty_days_flag_even_when_not_in_a_row():
    p = AdmittedPatientFactory()
    for days_ago, status in [(25, "unexcused"), (20, "present"), (15, "unexcused")]:
        mark(past_session(hours_ago=24 * days_ago), p, status)
    mark(past_session(hours_ago=24 * 10), p, "present")
    assert patient_flags(patient=p) == []
    mark(past_session(hours_ago=24 * 5), p, "unexcused")
    mark(past_session(hours_ago=24 * 2), p, "present")
    assert patient_flags(patient=p) == ["3 unexcused absences in the last 30 days"]


def test_unexcused_absences_older_than_the_window_do_not_count():
    p = AdmittedPatientFactory()
    mark(past_session(hours_ago=24 * 40), p, "unexcused")
    mark(past_session(hours_ago=24 * 35), p, "present")
    mark(past_session(hours_ago=24 * 20), p, "unexcused")
    mark(past_session(hours_ago=24 * 15), p, "present")
    mark(past_session(hours_ago=24 * 5), p, "unexcused")
    mark(past_session(hours_ago=24 * 2), p, "present")
    assert patient_flags(patient=p) == []


def test_rule_thresholds_come_from_the_clinic_settings():
    ClinicSettings.objects.update_or_create(
        pk=1, defaults={"consecutive_noshow_rule": 1, "absence_rule_count": 5}
    )
    p = AdmittedPatientFactory()
    mark(past_session(hours_ago=24), p, "unexcused")
    assert patient_flags(patient=p) == ["1 no-shows in a row"]


def test_discharged_patients_are_not_flagged():
    p = AdmittedPatientFactory()
    mark(past_session(hours_ago=72), p, "unexcused")
    mark(past_session(hours_ago=48), p, "unexcused")
    Patient.objects.filter(pk=p.pk).update(
        status="discharged",
        discharged_on=clinic_today(),
        discharge_reason="dropped_out",
    )
    assert flagged_patients() == []


# --- dashboards --------------------------------------------------------------------


def test_doctor_dashboard_lists_own_flagged_and_below_target_patients(
    client_for, doctor_user
):
    from tests.factories import doctor

    mine = AdmittedPatientFactory(last_name="Mine", attending_doctor=doctor_user)
    other = AdmittedPatientFactory(last_name="Theirs", attending_doctor=doctor())
    for p in (mine, other):
        mark(past_session(hours_ago=72), p, "unexcused")
        mark(past_session(hours_ago=48), p, "unexcused")
    response = client_for(doctor_user).get(reverse("core:doctor_dashboard"))
    body = response.content.decode()
    flagged = body.split('id="flagged-patients"')[1].split("</section>")[0]
    below = body.split('id="below-target"')[1].split("</section>")[0]
    assert "Mine" in flagged and "2 no-shows in a row" in flagged
    assert "Theirs" not in flagged
    assert "Mine" in below and "Theirs" not in below


def test_staff_dashboard_lists_ended_sessions_with_unmarked_patients(
    client_for, staff_user
):
    ended = past_session(hours_ago=5, title="Tuesday relapse group")
    a, b = AdmittedPatientFactory(), AdmittedPatientFactory()
    enrol(ended, a, b)
    mark(ended, a, "present")
    running = past_session(hours_ago=1, title="Running now")
    enrol(running, AdmittedPatientFactory())
    assert [s.pk for s in unmarked_sessions()] == [ended.pk]
    assert unmarked_sessions()[0].unmarked_count == 1
    body = client_for(staff_user).get(reverse("core:staff_dashboard")).content.decode()
    todo = body.split('id="unmarked-sessions"')[1].split("</section>")[0]
    assert "Tuesday relapse group" in todo and "1 unmarked" in todo
    assert "Running now" not in todo
    mark(ended, b, "excused")
    assert unmarked_sessions() == []


def test_staff_dashboard_to_do_costs_the_same_queries_for_few_and_many_sessions(
    client_for, staff_user
):
    client = client_for(staff_user)
    counts = []
    for n in (2, 15):
        for i in range(n):
            s = past_session(hours_ago=5 + 4 * (i + 100 * n))
            enrol(s, AdmittedPatientFactory())
        client.get(reverse("core:staff_dashboard"))
        with CaptureQueriesContext(connection) as ctx:
            client.get(reverse("core:staff_dashboard"))
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_doctor_dashboard_costs_the_same_queries_for_few_and_many_patients(
    client_for, doctor_user
):
    client = client_for(doctor_user)
    counts = []
    total = 0
    for n in (3, 30):
        total += n
        for i in range(n):
            p = AdmittedPatientFactory(attending_doctor=doctor_user)
            mark(past_session(hours_ago=48 + 7 * i + 1000 * n), p, "unexcused")
            mark(past_session(hours_ago=24 + 7 * i + 1000 * n), p, "unexcused")
        client.get(reverse("core:doctor_dashboard"))
        with CaptureQueriesContext(connection) as ctx:
            body = client.get(reverse("core:doctor_dashboard")).content.decode()
        flagged = body.split('id="flagged-patients"')[1].split("</section>")[0]
        # the ten most urgent, and a link to all of them
        assert flagged.count("no-shows in a row") == min(total, 10)
        assert f"See all {total} flagged patients" in flagged
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


# --- pages, sorts and the doctor's short lists ---------------------------------------


def below_target_patients(count, **kw):
    """Admitted patients with no hours at all: below target both weeks."""
    return [
        AdmittedPatientFactory(last_name=f"Pat{i:03d}", first_name="A", **kw)
        for i in range(count)
    ]


def test_compliance_pages_keep_the_filter_and_the_sort(client_for, doctor_user):
    below_target_patients(55, attending_doctor=doctor_user)
    below_target_patients(3)  # another doctor's
    client = client_for(doctor_user)
    url = reverse("therapy_sessions:compliance")
    body = client.get(url, {"mine": "1", "sort": "shortfall"}).content.decode()
    assert "55 patients below target</strong>, 1–50 shown" in body
    assert body.count('badge bad">below') == 50
    nav = body.split('aria-label="Pages of patients below target"')[1].split("</nav>")
    assert "Page 1 of 2" in nav[0]
    next_link = nav[0].split('rel="next"')[0].rsplit('href="', 1)[1]
    assert "mine=1" in next_link and "sort=shortfall" in next_link
    assert "page=2" in next_link
    second = client.get(url + next_link.split("#")[0].replace("&amp;", "&"))
    body = second.content.decode()
    assert "55 patients below target</strong>, 51–55 shown" in body
    assert body.count('badge bad">below') == 5
    assert "selected>most hours short first" in body


@pytest.mark.parametrize(
    "page,shown",
    [
        ("abc", "1–50"),
        ("0", "1–50"),
        ("-3", "1–50"),
        ("99999", "51–55"),
        ("9" * 30, "51–55"),
    ],
)
def test_compliance_bad_page_numbers_show_a_sensible_page(
    client_for, staff_user, page, shown
):
    below_target_patients(55)
    response = client_for(staff_user).get(
        reverse("therapy_sessions:compliance"), {"page": page, "flagged_page": page}
    )
    assert response.status_code == 200
    assert (
        f"55 patients below target</strong>, {shown} shown" in response.content.decode()
    )


def test_compliance_sorted_by_shortfall_lists_the_furthest_below_first():
    last_monday = week_start(clinic_today()) - 7 * DAY
    able = AdmittedPatientFactory(last_name="Able")
    baker = AdmittedPatientFactory(last_name="Baker")
    give_week(able, last_monday, 120)  # 6 of 9 h last week
    by_name = [r["patient"] for r in compliance(page=1)["rows"]]
    by_shortfall = [r["patient"] for r in compliance(page=1, order="shortfall")["rows"]]
    assert by_name == [able, baker]
    assert by_shortfall == [baker, able]


def test_flagged_patients_come_in_pages_longest_run_of_no_shows_first():
    from sessions.selectors.attendance import flagged_page

    runs = {"Two": 2, "Four": 4, "Three": 3}
    for name, run in runs.items():
        p = AdmittedPatientFactory(last_name=name)
        for k in range(run):
            mark(past_session(hours_ago=24 * (k + 1) + run), p, "unexcused")
    first = flagged_page(order="urgency", page=1, per_page=2)
    assert first["count"] == 3
    assert [r["patient"].last_name for r in first["rows"]] == ["Four", "Three"]
    assert first["rows"][0]["reasons"][-1] == "4 no-shows in a row"
    second = flagged_page(order="urgency", page="2", per_page=2)
    assert [r["patient"].last_name for r in second["rows"]] == ["Two"]
    # a page past the end shows the last one, with the count
    past = flagged_page(order="urgency", page=99, per_page=2)
    assert [r["patient"].last_name for r in past["rows"]] == ["Two"]
    assert (past["count"], past["page_obj"].number) == (3, 2)
    by_name = flagged_page(page=1)
    assert [r["patient"].last_name for r in by_name["rows"]] == ["Four", "Three", "Two"]


def test_a_run_of_no_shows_older_than_two_weeks_still_flags():
    p = AdmittedPatientFactory()
    mark(past_session(hours_ago=24 * 40), p, "present")
    mark(past_session(hours_ago=24 * 30), p, "unexcused")
    mark(past_session(hours_ago=24 * 20), p, "unexcused")
    assert patient_flags(patient=p) == ["2 no-shows in a row"]


def test_hours_follow_a_session_moved_to_another_week():
    last_monday = week_start(clinic_today()) - 7 * DAY
    p = AdmittedPatientFactory()
    session = session_on(last_monday)
    mark(session, p, "present", 180)
    row = {r["patient"]: r for r in compliance()["rows"]}[p]
    assert row["last_week_hours"] == 3.0
    moved = make_local(last_monday - 7 * DAY, datetime.time(9))
    session.start, session.end = moved, moved + datetime.timedelta(minutes=180)
    session.save()
    row = {r["patient"]: r for r in compliance()["rows"]}[p]
    assert row["last_week_hours"] == 0.0


def test_doctor_dashboard_shows_the_ten_furthest_below_target_and_links_to_all(
    client_for, doctor_user
):
    last_monday = week_start(clinic_today()) - 7 * DAY
    patients = below_target_patients(12, attending_doctor=doctor_user)
    for p in patients[:2]:
        give_week(p, last_monday, 120)  # the two least short
    body = (
        client_for(doctor_user).get(reverse("core:doctor_dashboard")).content.decode()
    )
    below = body.split('id="below-target"')[1].split("</section>")[0]
    assert "Below the weekly hours target (12)" in below
    assert below.count("<li>") == 10
    assert "Pat000" not in below and "Pat001" not in below
    assert "See all 12 patients below target" in below
    assert "?mine=1&amp;sort=shortfall" in below
