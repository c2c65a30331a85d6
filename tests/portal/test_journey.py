"""The sponsor's journey in a real Chromium, with real emails through a real SMTP
server (aiosmtpd): staff invite from the patient page, the sponsor sets a password
from the invitation email, a missed session sends the alert email, the sponsor
follows its link on a phone, sees the missed session and downloads the letter."""

import datetime
import io
import re
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from pypdf import PdfReader

from core.timeutil import clinic_today
from patients.models import Disclosure
from sessions.models import Alert, Attendance
from sessions.services.alerts import alerts_sweep
from tests.conftest import browser_login
from tests.factories import ConsentFactory, SponsorFactory, enrol, past_session
from tests.fixtures_services import *  # noqa: F403 - the SMTP sink fixtures
from tests.fixtures_services import wait_for
from tests.portal.conftest import attended

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
PASSWORD = "lantern-harbor-meadow-42"


def _link_in(text, path_pattern):
    match = re.search(r"https?://[^\s\"<>]+" + path_pattern, text)
    assert match, text
    return match.group(0)


def _no_sideways_scroll(tab):
    return tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_sponsor_journey_from_emails_to_the_letter(
    page, browser, live_server, smtp_settings, settings, staff_user
):
    settings.SITE_URL = live_server.url
    consent = ConsentFactory(
        sponsor=SponsorFactory(full_name="Rita Recovery", email="rita@family.test")
    )
    patient = consent.patient
    attended(patient, hours_ago=50)
    missed = past_session(hours_ago=4, minutes=180)  # ended an hour ago, unmarked
    enrol(missed, patient)

    # Staff invite Rita from the sponsor's entry on the patient page.
    browser_login(page, staff_user.email)
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("button", name="Invite to sponsor portal").click()
    page.get_by_text("Invitation sent to rita@family.test").wait_for()
    invitation_mail = wait_for(lambda: smtp_settings.messages, message="invite")[0]
    assert invitation_mail["To"] == "rita@family.test"
    link = _link_in(smtp_settings.text_of(invitation_mail), r"/sponsor/invitation/\S+/")
    assert patient.last_name not in smtp_settings.text_of(invitation_mail)

    # Rita opens it on her phone and sets a password.
    phone = browser.new_context(
        base_url=live_server.url, viewport=PHONE, accept_downloads=True
    )
    phone.set_default_timeout(15_000)
    tab = phone.new_page()
    tab.goto(urlsplit(link).path)
    tab.get_by_label("Choose a password").fill(PASSWORD)
    tab.get_by_label("Type it again").fill(PASSWORD)
    tab.get_by_role("button", name="Set password and continue").click()
    tab.wait_for_url("**/sponsor/")
    assert tab.get_by_role("heading", name=patient.full_name).is_visible()
    tab.get_by_role("button", name="Log out").click()
    tab.wait_for_load_state("networkidle")

    # The missed session: the sweep writes the alert and sends it through SMTP.
    smtp_settings.reset()
    result = alerts_sweep(deliver_inline=True)
    assert result.delivered.get("sent") == 1, result.delivered
    alert_mail = wait_for(lambda: smtp_settings.messages, message="alert")[0]
    assert alert_mail["To"] == "rita@family.test"
    alert_text = smtp_settings.text_of(alert_mail)
    assert patient.last_name not in alert_text
    portal_link = _link_in(alert_text, r"/sponsor/")

    # Rita follows the alert's link, logs in, and sees the missed session.
    tab.goto(urlsplit(portal_link).path)
    tab.get_by_label("Email").fill("rita@family.test")
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_url("**/sponsor/")
    start = timezone.localtime(missed.start)
    last_missed = tab.locator(".last-missed")
    assert f"{start:%b %-d, %Y}" in last_missed.inner_text()
    assert tab.get_by_text("42 CFR part 2 prohibits").is_visible()
    assert _no_sideways_scroll(tab)

    # Her patient's page: the alert she got, and the letter for the consent's dates.
    tab.get_by_role("link", name="Details and letter").click()
    tab.wait_for_url(f"**/sponsor/patients/{patient.pk}/")
    assert tab.get_by_text("missed session on").is_visible()
    assert _no_sideways_scroll(tab)
    tab.get_by_label("From", exact=True).fill(f"{consent.effective_on:%Y-%m-%d}")
    tab.get_by_label("To", exact=True).fill(f"{clinic_today():%Y-%m-%d}")
    with tab.expect_download() as download:
        tab.get_by_role("button", name="Download letter (PDF)").click()
    pdf = download.value
    assert pdf.suggested_filename.startswith("attendance-letter-")
    with open(pdf.path(), "rb") as fh:
        data = fh.read()
    assert data.startswith(b"%PDF")
    text = " ".join(
        " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split()
    )
    assert patient.last_name in text
    assert "42 CFR part 2" in text
    phone.close()

    # Everything Rita saw is in the disclosure log, under her consent.
    channels = list(
        Disclosure.objects.filter(consent=consent).values_list("channel", flat=True)
    )
    assert channels.count("pdf") == 1
    assert channels.count("portal") >= 3  # set-password landing, home, details
    assert Alert.objects.get(patient=patient).state == Alert.State.SENT
    assert not Attendance.objects.filter(session=missed).exists()
    assert consent.effective_on <= clinic_today() - datetime.timedelta(days=1)


def test_a_caseload_on_a_phone_pages_through_its_patients(browser, live_server):
    """A probation officer with twelve patients: ten a page, page two a tap away,
    each patient's page a tap away, nothing wider than the phone."""
    from patients.models import Patient
    from tests.portal.conftest import consented_patient, sponsor_login

    officer = sponsor_login("officer@court.test", full_name="Olive Officer")
    for i in range(12):
        consent = consented_patient(officer, first_name="Pat", last_name=f"Case{i:02d}")
        attended(consent.patient, hours_ago=30 + i)
    phone = browser.new_context(base_url=live_server.url, viewport=PHONE)
    phone.set_default_timeout(15_000)
    tab = phone.new_page()
    browser_login(tab, officer.email)
    tab.goto("/sponsor/")
    cards = tab.locator("article.sponsor-card")
    assert cards.count() == 10
    assert tab.get_by_role("heading", name="Pat Case00").is_visible()
    assert tab.get_by_text("Page 1 of 2").is_visible()
    assert _no_sideways_scroll(tab)

    tab.get_by_role("link", name="Next").click()
    tab.wait_for_url("**/sponsor/?page=2")
    assert cards.count() == 2
    assert tab.get_by_role("heading", name="Pat Case11").is_visible()
    assert _no_sideways_scroll(tab)

    cards.filter(has_text="Pat Case11").get_by_role(
        "link", name="Details and letter"
    ).click()
    last = Patient.objects.get(last_name="Case11")
    tab.wait_for_url(f"**/sponsor/patients/{last.pk}/")
    assert tab.get_by_role("heading", name="Attendance letter").is_visible()
    assert _no_sideways_scroll(tab)
    phone.close()
