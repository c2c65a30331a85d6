"""Playwright: staff find a failed sponsor alert on the alerts page, read why it
failed, filter the list and press Retry."""

import pytest
from playwright.sync_api import expect

from sessions.models import Alert
from tests.conftest import browser_login
from tests.sessions.helpers import make_alert


@pytest.mark.browser
def test_staff_sees_a_failed_alert_first_filters_and_retries_it(page, staff_user):
    sent = make_alert("sent", sponsor_name="Sally Sent", attempts=1)
    failed = make_alert(
        "failed",
        sponsor_name="Fran Failed",
        attempts=6,
        last_error="SMTPRecipientsRefused: 451 mailbox full",
    )

    browser_login(page, staff_user.email)
    page.goto("/alerts/")
    rows = page.locator("#alerts-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Fran Failed")
    expect(rows.first).to_contain_text("451 mailbox full")

    page.get_by_label("Status", exact=True).select_option("sent")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Sally Sent")
    # The search is kept in the session: the address carries its key only.
    assert "/alerts/?s=" in page.url
    page.reload()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Sally Sent")

    page.get_by_label("Status", exact=True).select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_text(f"Alert {failed.pk} queued again.")).to_be_visible()

    failed.refresh_from_db()
    sent.refresh_from_db()
    assert failed.state == Alert.State.PENDING and failed.attempts == 0
    assert sent.state == Alert.State.SENT
