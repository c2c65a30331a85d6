"""Playwright: staff take a group's attendance on the session page (htmx, in place,
partly by keyboard) and the patient's weekly hours follow."""

import pytest
from playwright.sync_api import expect

from core.timeutil import local, week_start
from sessions.models import Attendance
from tests.conftest import browser_login
from tests.factories import (
    AdmittedPatientFactory,
    RoomFactory,
    SessionFactory,
    enrol,
    facilitate,
)


@pytest.mark.browser
def test_staff_marks_late_absent_and_everyone_else_present_then_hours_update(
    page, staff_user
):
    import datetime

    from django.utils import timezone

    start = timezone.now() - datetime.timedelta(hours=2)
    session = SessionFactory(
        title="Evening relapse group",
        start=start,
        end=start + datetime.timedelta(hours=3),
        room=RoomFactory(name="Harbor Room"),
    )
    facilitate(session, staff_user)
    ann = AdmittedPatientFactory(first_name="Ann", last_name="Lee")
    bo = AdmittedPatientFactory(first_name="Bo", last_name="Ray")
    others = [
        AdmittedPatientFactory(first_name=name, last_name="Doe")
        for name in ["Cy", "Di", "Ed"]
    ]
    enrol(session, ann, bo, *others)

    browser_login(page, staff_user.email)
    page.goto(f"/sessions/{session.pk}/")
    roster = page.locator("#roster")
    expect(roster).to_contain_text("0 of 5 marked")
    # A marker on the window survives only if the page is never reloaded.
    page.evaluate("window.__stayed = true")

    page.locator(f"#minutes-{ann.pk}").fill("150")
    page.locator(f"#mark-{ann.pk}-late").click()
    ann_row = page.locator(f"#roster-row-{ann.pk}")
    expect(ann_row).to_contain_text("Late")
    expect(ann_row).to_contain_text("150 min")

    # Bo by keyboard: focus his No-show button and press Enter.
    page.locator(f"#mark-{bo.pk}-unexcused").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#roster-row-{bo.pk}")).to_contain_text(
        "Unexcused absence (no-show)"
    )

    page.get_by_role("button", name="Mark everyone else present (3)").click()
    expect(roster).to_contain_text("5 of 5 marked")
    for p in others:
        expect(page.locator(f"#roster-row-{p.pk}")).to_contain_text("Present")
    assert page.evaluate("window.__stayed === true")
    assert page.url.endswith(f"/sessions/{session.pk}/")

    marks = dict(Attendance.objects.values_list("patient_id", "status"))
    assert marks == {
        ann.pk: "late",
        bo.pk: "unexcused",
        **{p.pk: "present" for p in others},
    }
    assert Attendance.objects.get(patient=ann).minutes == 150

    # Ann's patient page: the week of the session shows 2.5 hours.
    monday = week_start(local(session.start).date())
    page.goto(f"/patients/{ann.pk}/")
    week = page.locator(f'#hours tr[data-week="{monday:%Y-%m-%d}"]')
    expect(week.locator(".week-total")).to_have_text("2.5")
    expect(page.locator("#hours svg[role=img]")).to_be_visible()

    # A correction asks for a reason and shows the history in place.
    page.goto(f"/sessions/{session.pk}/")
    bo_row = page.locator(f"#roster-row-{bo.pk}")
    bo_row.locator("summary", has_text="Correct").click()
    bo_row.get_by_label("Status").select_option("excused")
    bo_row.get_by_label("Reason for the correction (required)").fill(
        "Called in sick before the group"
    )
    bo_row.get_by_role("button", name="Save correction").click()
    expect(page.locator(f"#roster-row-{bo.pk}")).to_contain_text("Excused absence")
    expect(page.locator(f"#roster-row-{bo.pk}")).to_contain_text(
        "History (1 correction)"
    )
