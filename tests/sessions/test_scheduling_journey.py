"""Playwright: staff create a weekly group series and enrol two patients."""

import datetime

import pytest
from playwright.sync_api import expect

from core.timeutil import clinic_today, local
from sessions.models import Participant, SessionSeries
from tests.conftest import browser_login
from tests.factories import AdmittedPatientFactory, RoomFactory, TopicFactory


@pytest.mark.browser
def test_staff_creates_a_weekly_group_series_and_enrols_two_patients(page, staff_user):
    RoomFactory(name="Harbor Room", capacity=12)
    TopicFactory(name="Relapse prevention")
    ann = AdmittedPatientFactory(first_name="Ann", last_name="Lee")
    bo = AdmittedPatientFactory(first_name="Bo", last_name="Ray")
    first_day = clinic_today() + datetime.timedelta(days=1)

    browser_login(page, staff_user.email)
    page.goto("/sessions/")
    page.get_by_role("link", name="New weekly series").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New weekly series")
    page.get_by_label("Title").fill("Evening relapse group")
    page.get_by_label("Topic").select_option(label="Relapse prevention")
    for day in ("Mon", "Wed", "Thu"):
        page.get_by_label(day, exact=True).check()
    page.get_by_label("Starts at").fill("18:00")
    page.get_by_label("Duration (minutes)").fill("180")
    page.get_by_label("First day").fill(first_day.isoformat())
    page.get_by_label("or number of sessions").fill("9")
    page.get_by_label("Room").select_option(label="Harbor Room")
    page.get_by_label("Sam Staff").check()
    page.get_by_role("button", name="Create series").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Evening relapse group")
    expect(page.get_by_text("Scheduled 9 sessions")).to_be_visible()
    series = SessionSeries.objects.get(title="Evening relapse group")

    for patient in (ann, bo):
        form = page.locator("#series-patient")
        form.get_by_label("Add from this date").check()
        form.get_by_label("Patient").select_option(value=str(patient.pk))
        form.get_by_label("Starting on").fill(first_day.isoformat())
        form.get_by_role("button", name="Apply to the series").click()
        expect(
            page.get_by_text(f"{patient.full_name} added to 9 sessions")
        ).to_be_visible()

    enrolled = page.get_by_role("region", name="Patients enrolled in upcoming sessions")
    expect(enrolled).to_contain_text("Ann Lee")
    expect(enrolled).to_contain_text("Bo Ray")

    sessions = list(series.sessions.order_by("start"))
    assert len(sessions) == 9
    assert {local(s.start).weekday() for s in sessions} == {0, 2, 3}
    assert all(local(s.start).time() == datetime.time(18) for s in sessions)
    for patient in (ann, bo):
        assert Participant.objects.filter(patient=patient).count() == 9

    # The first occurrence's page lists both as expected participants.
    first_label = local(sessions[0].start).strftime("%a %b %-d, %Y")
    page.get_by_role("link", name=first_label).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Evening relapse group")
    roster = page.locator("#roster")
    expect(roster).to_contain_text("Ann Lee")
    expect(roster).to_contain_text("Bo Ray")
