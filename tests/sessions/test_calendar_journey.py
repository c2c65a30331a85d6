"""Playwright: a counselor's calendar opens on their own week, widens to the whole
clinic, keeps the view while moving between weeks (htmx) and remembers it."""

import datetime

import pytest
from playwright.sync_api import expect

from core.timeutil import clinic_today, make_local, week_start
from sessions.selectors.scheduling import iso_week
from tests.conftest import browser_login, csp_violations
from tests.factories import (
    AdmittedPatientFactory,
    RoomFactory,
    SessionFactory,
    enrol,
    facilitate,
    staff,
)


def _session(day, hour, title, user, **kw):
    start = make_local(day, datetime.time(hour))
    session = SessionFactory(
        start=start, end=start + datetime.timedelta(hours=1), title=title, **kw
    )
    return facilitate(session, user)


@pytest.mark.browser
def test_counselor_opens_on_own_week_widens_and_is_remembered(page, staff_user):
    monday = week_start(clinic_today())
    tuesday = monday + datetime.timedelta(days=1)
    harbor = RoomFactory(name="Harbor Room")
    ann = AdmittedPatientFactory(first_name="Ann", last_name="Lee")
    enrol(_session(tuesday, 9, "Morning check-in", staff_user), ann)
    _session(tuesday, 18, "Evening relapse group", staff(), room=harbor)
    _session(monday + datetime.timedelta(days=7), 10, "Next week group", staff())
    violations = csp_violations(page)

    browser_login(page, staff_user.email)
    page.goto("/sessions/")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("Schedule: my sessions")
    tabs = page.get_by_role("navigation", name="Whose sessions")
    expect(tabs.get_by_role("link", name="My sessions")).to_have_attribute(
        "aria-current", "page"
    )
    week = page.locator("#week-view")
    expect(week).to_contain_text("Morning check-in")
    expect(week).not_to_contain_text("Evening relapse group")

    # Widen to the whole clinic.
    tabs.get_by_role("link", name="Whole clinic").click()
    expect(heading).to_have_text("Schedule: whole clinic")
    expect(week).to_contain_text("Morning check-in")
    expect(week).to_contain_text("Evening relapse group")

    # Next week in place (htmx): the page is not reloaded and the view is kept.
    page.evaluate("window.calendarMarker = 1")
    week.get_by_role("link", name="Next week").click()
    next_week = iso_week(monday + datetime.timedelta(days=7))
    expect(week).to_contain_text(f"Week {next_week}")
    expect(week).to_contain_text("Next week group")
    assert page.evaluate("window.calendarMarker") == 1
    assert f"week={next_week}" in page.url and "show=all" in page.url

    # Opening the calendar again gives the view chosen last.
    page.goto("/sessions/")
    expect(heading).to_have_text("Schedule: whole clinic")

    # One room (the selects are a link away); then one patient found by name.
    page.get_by_role("link", name="Choose a room or a facilitator").click()
    page.get_by_label("Room", exact=True).select_option(label="Harbor Room")
    page.get_by_role("button", name="Show").click()
    expect(heading).to_have_text("Schedule: Harbor Room")
    expect(week).to_contain_text("Evening relapse group")
    expect(week).not_to_contain_text("Morning check-in")
    # A patient found by name shows their whole week, whatever room was chosen.
    page.get_by_label("Patient", exact=True).fill("Lee")
    page.get_by_role("button", name="Find").click()
    expect(heading).to_have_text("Schedule: Ann Lee")
    assert "Lee" not in page.url  # the name was POSTed, not put in the address
    expect(week).to_contain_text("Morning check-in")
    expect(week).not_to_contain_text("Evening relapse group")

    # Back to "My sessions" in one click.
    tabs.get_by_role("link", name="My sessions").click()
    expect(heading).to_have_text("Schedule: my sessions")
    assert violations == []


@pytest.mark.browser
def test_a_full_clinic_week_is_read_one_day_at_a_time(page, staff_user, monkeypatch):
    from sessions.selectors import scheduling as selectors

    monkeypatch.setattr(selectors, "WHOLE_CLINIC_WEEK_LIMIT", 2)
    monday = datetime.date.fromisocalendar(2027, 10, 1)
    tuesday = monday + datetime.timedelta(days=1)
    other = staff()
    _session(monday, 9, "Monday intake", other)
    _session(monday, 13, "Monday group", other)
    _session(tuesday, 9, "Tuesday group", other)

    browser_login(page, staff_user.email)
    page.goto("/sessions/?show=all&week=2027-W10")
    week = page.locator("#week-view")
    days = page.get_by_role("navigation", name="Days of the week")
    expect(days.get_by_role("link", name="Mon Mar 8 (2 sessions)")).to_have_attribute(
        "aria-current", "page"
    )
    expect(week).to_contain_text("Monday intake")
    expect(week).not_to_contain_text("Tuesday group")
    page.evaluate("window.calendarMarker = 1")
    days.get_by_role("link", name="Tue Mar 9 (1 session)").click()
    expect(week).to_contain_text("Tuesday group")
    expect(week).not_to_contain_text("Monday intake")
    assert page.evaluate("window.calendarMarker") == 1
    assert "day=2027-03-09" in page.url
