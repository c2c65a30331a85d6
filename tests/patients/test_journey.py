import re

import pytest
from playwright.sync_api import expect

from patients.models import Consent, DoctorDecision, Patient
from tests.conftest import PASSWORD, browser_login


@pytest.mark.browser
def test_staff_registers_and_the_doctor_admits(page, staff_user, doctor_user):
    browser_login(page, staff_user.email)

    # Staff register a patient who needs a sponsor.
    page.goto("/patients/")
    page.get_by_role("link", name="Register a patient").click()
    page.get_by_label("First name").fill("Jordan")
    page.get_by_label("Last name").fill("Avila")
    page.get_by_label("Date of birth").fill("1992-08-30")
    page.get_by_label("Phone").fill("555 201 4455")
    page.get_by_label("Alcohol").check()
    page.get_by_label("A sponsor is required").check()
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Jordan Avila")
    patient = Patient.objects.get(last_name="Avila")
    expect(page.locator(".patient-id")).to_contain_text(patient.record_number)

    # Admission cannot be requested before a sponsor consents.
    page.get_by_role("link", name="Request admission").click()
    page.get_by_label("Clinical summary").fill("Alcohol use disorder, moderate.")
    page.get_by_role("button", name="Send to a doctor").click()
    expect(page.get_by_role("alert")).to_contain_text("requires a sponsor")

    # Add the sponsor, then record the patient's signed consent.
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("link", name="Add a sponsor").click()
    page.get_by_label("Full name").fill("Rita Avila")
    page.get_by_label("Relationship").select_option("family")
    page.get_by_label("Email").fill("rita@family.test")
    page.get_by_role("button", name="Add sponsor").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Record a consent to disclose"
    )
    page.get_by_label("Patient's signature").fill("Jordan Avila")
    page.get_by_label("I witnessed the patient sign this consent").check()
    page.get_by_role("button", name="Record consent").click()
    expect(page.get_by_text("consent active")).to_be_visible()
    assert Consent.objects.get(patient=patient).is_active

    # Now the request goes through.
    page.get_by_role("link", name="Request admission").click()
    page.get_by_label("Clinical summary").fill("Alcohol use disorder, moderate.")
    page.get_by_role("button", name="Send to a doctor").click()
    expect(page.locator(".patient-id")).to_contain_text("Awaiting approval")

    # The doctor signs an approval from the queue at /approvals/.
    page.context.clear_cookies()
    browser_login(page, doctor_user.email)
    page.goto("/approvals/")
    page.get_by_role("link", name="Review Jordan").click()
    page.get_by_label("Approved", exact=True).check()
    page.get_by_label("Your password").fill("wrong password")
    page.get_by_role("button", name="Sign decision").click()
    expect(page.get_by_text("password is not correct")).to_be_visible()
    page.get_by_label("Approved", exact=True).check()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign decision").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Approved")
    expect(page.get_by_text(re.compile("Signed by"))).to_be_visible()

    # The patient shows as admitted.
    page.get_by_role("link", name="Jordan Avila").click()
    expect(page.locator(".patient-id")).to_contain_text("Admitted")
    decision = DoctorDecision.objects.get(patient=patient)
    assert decision.signed_by == doctor_user
    assert Patient.objects.get(pk=patient.pk).status == "admitted"


@pytest.mark.browser
def test_patient_search_updates_the_list_as_staff_type(page, staff_user):
    from tests.factories import PatientFactory

    PatientFactory(first_name="Avery", last_name="Stone")
    PatientFactory(first_name="Blake", last_name="Rivers")
    browser_login(page, staff_user.email)
    page.goto("/patients/")
    rows = page.locator("#patient-results tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Search").fill("rivers")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Rivers, Blake")
    # Issue 8: the URL carries only the session key of the search, never the name.
    expect(page).to_have_url(re.compile(r"/patients/\?s=[A-Za-z0-9_-]+$"))
    assert "rivers" not in page.url.lower()
    page.reload()
    expect(rows).to_have_count(1)
    expect(page.get_by_label("Search")).to_have_value("rivers")
    page.get_by_label("Status").select_option("admitted")
    expect(page.get_by_text("No patient matches.")).to_be_visible()
