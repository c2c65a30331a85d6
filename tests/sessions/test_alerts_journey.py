"""Playwright: staff find a failed sponsor alert on the alerts page, read why it
failed, filter the list and press Retry."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from sessions.models import Alert
from tests.conftest import browser_login
from tests.factories import ConsentFactory, enrol, past_session


def _alert(state, sponsor_name, **kw):
    consent = ConsentFactory(sponsor__full_name=sponsor_name)
    session = past_session(hours_ago=3, minutes=60)
    enrol(session, consent.patient)
    if state == "sent":
        kw["sent_at"] = timezone.now()
    return Alert.objects.create(
        session=session,
        patient=consent.patient,
        sponsor=consent.sponsor,
        channel="email",
        state=state,
        **kw,
    )


@pytest.mark.browser
def test_staff_sees_a_failed_alert_first_filters_and_retries_it(page, staff_user):
    sent = _alert("sent", "Sally Sent", attempts=1)
    failed = _alert(
        "failed",
        "Fran Failed",
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
