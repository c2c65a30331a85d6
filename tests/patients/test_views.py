import datetime

import pytest
from django.urls import reverse

from core.models import AuditEvent
from core.timeutil import clinic_today
from patients.models import (
    AdmissionRequest,
    Consent,
    Disclosure,
    DoctorDecision,
    Patient,
    Sponsor,
)
from tests.conftest import PASSWORD
from tests.factories import ConsentFactory

from .conftest import approve, register, request_admission

TODAY = clinic_today


@pytest.fixture
def world(staff_user, doctor_user):
    """An admitted patient with a sponsor, an active consent and a decision, and a
    patient whose admission request is pending."""
    admitted = register(staff_user, first_name="Avery", last_name="Stone")
    req = request_admission(admitted, staff_user)
    decision = approve(req, doctor_user)
    admitted.refresh_from_db()
    consent = ConsentFactory(
        sponsor__patient=admitted, sponsor__full_name="Carol Bennett"
    )
    waiting = register(staff_user, first_name="Blake", last_name="Rivers")
    pending = request_admission(waiting, staff_user)
    return {
        "patient": admitted,
        "decision": decision,
        "consent": consent,
        "sponsor": consent.sponsor,
        "pending": pending,
        "waiting": waiting,
    }


FRONT = {"staff", "admin"}
CLIN = {"staff", "admin", "doctor"}
DOC = {"doctor"}

# (url name, which object's pk, roles that may open it)
PAGES = [
    ("list", None, CLIN),
    ("create", None, FRONT),
    ("detail", "patient", CLIN),
    ("edit", "patient", FRONT),
    ("hold", "patient", FRONT),
    ("resume", "patient", FRONT),
    ("discharge", "patient", FRONT),
    ("request_admission", "waiting", FRONT),
    ("request_withdraw", "pending", FRONT),
    ("sponsor_create", "patient", FRONT),
    ("sponsor_edit", "sponsor", FRONT),
    ("consent_create", "sponsor", FRONT),
    ("consent_blank_pdf", "sponsor", FRONT),
    ("consent_revoke", "consent", FRONT),
    ("consent_pdf", "consent", FRONT),
    ("approvals", None, DOC),
    ("decide", "pending", DOC),
    ("decision", "decision", CLIN),
    ("decision_supersede", "decision", DOC),
    ("decision_letter", "decision", CLIN),
]


@pytest.mark.parametrize("name, obj, allowed", PAGES)
@pytest.mark.parametrize("role", ["anonymous", "sponsor", "staff", "doctor", "admin"])
def test_every_page_answers_each_role(
    client_for, users, world, name, obj, allowed, role
):
    url = reverse(f"patients:{name}", kwargs={"pk": world[obj].pk} if obj else None)
    response = client_for(users.get(role)).get(url)
    if role == "anonymous":
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")
    elif role in allowed:
        assert response.status_code == 200, (name, role)
    else:
        assert response.status_code == 403, (name, role)


def test_the_doctors_queue_lives_at_approvals():
    assert reverse("patients:approvals") == "/approvals/"
    assert reverse("patients:list") == "/patients/"


@pytest.mark.parametrize("role", ["staff", "admin", "sponsor"])
def test_only_a_doctor_may_post_a_decision(client_for, users, world, role):
    response = client_for(users[role]).post(
        reverse("patients:decide", kwargs={"pk": world["pending"].pk}),
        {"decision": "approved", "password": PASSWORD},
    )
    assert response.status_code == 403
    assert not DoctorDecision.objects.filter(request=world["pending"]).exists()


@pytest.mark.parametrize("role", ["staff", "admin", "doctor"])
def test_each_role_sees_only_the_controls_it_may_use(client_for, users, world, role):
    client = client_for(users[role])
    front_desk, doctor = role in FRONT, role in DOC
    html = client.get(reverse("patients:list")).content.decode()
    assert ("Register a patient" in html) == front_desk
    html = client.get(
        reverse("patients:detail", kwargs={"pk": world["waiting"].pk})
    ).content.decode()
    assert ("Review and decide" in html) == doctor
    assert ("Withdraw this request" in html) == front_desk
    html = client.get(
        reverse("patients:decision", kwargs={"pk": world["decision"].pk})
    ).content.decode()
    assert ("Sign a new decision" in html) == doctor
    assert ("Give the letter to a sponsor" in html) == front_desk


@pytest.mark.parametrize("role", ["doctor", "sponsor"])
def test_doctors_and_sponsors_cannot_register_patients(client_for, users, role):
    response = client_for(users[role]).post(
        reverse("patients:create"),
        {"first_name": "X", "last_name": "Y", "date_of_birth": "1990-01-01"},
    )
    assert response.status_code == 403
    assert not Patient.objects.exists()


def _patient_post(**over):
    data = {
        "first_name": "Jamie",
        "last_name": "Cruz",
        "date_of_birth": "1985-03-02",
        "phone": "555 201 9876",
        "preferred_language": "English",
        "referral_source": "self",
        "presenting_problems": ["alcohol", "gambling"],
    }
    data.update(over)
    return data


def test_staff_registers_a_patient(client_for, staff_user):
    client = client_for(staff_user)
    response = client.post(reverse("patients:create"), _patient_post())
    patient = Patient.objects.get()
    assert response.url == reverse("patients:detail", kwargs={"pk": patient.pk})
    assert patient.phone == "(555) 201-9876"
    assert patient.presenting_problems == ["alcohol", "gambling"]
    page = client.get(response.url).content.decode()
    assert patient.record_number in page and "Jamie Cruz" in page


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("date_of_birth", "2999-01-01", "cannot be in the future"),
        ("phone", "123", "10-digit"),
        ("phone", "(055) 201-3344", "cannot exist"),
        ("phone", "call me", "only digits"),
        ("presenting_problems", [], "at least one"),
        ("referral_source", "court", "name the referring court"),
        ("date_of_birth", "not a date", "valid date"),
    ],
)
def test_bad_registration_input_gets_a_message(
    client_for, staff_user, field, value, message
):
    response = client_for(staff_user).post(
        reverse("patients:create"), _patient_post(**{field: value})
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Patient.objects.exists()


def test_duplicate_registration_asks_for_confirmation(client_for, staff_user):
    client = client_for(staff_user)
    client.post(reverse("patients:create"), _patient_post())
    response = client.post(reverse("patients:create"), _patient_post())
    html = response.content.decode()
    assert response.status_code == 200
    assert "same name and date of birth" in html
    assert 'name="confirm_duplicate"' in html
    assert Patient.objects.count() == 1
    response = client.post(
        reverse("patients:create"), _patient_post(confirm_duplicate="on")
    )
    assert response.status_code == 302
    assert Patient.objects.count() == 2


def test_editing_a_patient_records_the_changed_fields(client_for, staff_user, world):
    patient = world["patient"]
    response = client_for(staff_user).post(
        reverse("patients:edit", kwargs={"pk": patient.pk}),
        _patient_post(
            first_name=patient.first_name,
            last_name=patient.last_name,
            date_of_birth=patient.date_of_birth.isoformat(),
            phone="(555) 777-1212",
            presenting_problems=patient.presenting_problems,
        ),
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.phone == "(555) 777-1212"
    row = AuditEvent.objects.filter(
        patient=patient, action=AuditEvent.Action.UPDATE
    ).latest("id")
    assert "phone" in row.changed_fields


def test_reading_a_patient_writes_a_view_audit_row(client_for, doctor_user, world):
    patient = world["patient"]
    client_for(doctor_user).get(reverse("patients:detail", kwargs={"pk": patient.pk}))
    row = AuditEvent.objects.filter(patient=patient).latest("id")
    assert (row.action, row.user, row.role) == ("view", doctor_user, "Doctor")


def test_patient_page_shows_sponsors_consents_and_history(
    client_for, staff_user, world
):
    patient = world["patient"]
    html = (
        client_for(staff_user)
        .get(reverse("patients:detail", kwargs={"pk": patient.pk}))
        .content.decode()
    )
    assert "Carol Bennett" in html and "consent active" in html
    assert "Approved" in html and "current" in html
    assert "Awaiting approval → Admitted" in html
    assert html.count(patient.record_number) >= 2


def test_request_admission_refused_until_a_sponsor_consents(client_for, staff_user):
    patient = register(staff_user, sponsor_required=True)
    response = client_for(staff_user).post(
        reverse("patients:request_admission", kwargs={"pk": patient.pk}),
        {
            "clinical_summary": "Needs IOP",
            "presenting_problems": ["alcohol"],
            "level_of_care": "2.1",
            "asam_edition": "4",
            "proposed_start": TODAY().isoformat(),
        },
    )
    assert response.status_code == 200
    assert "requires a sponsor" in response.content.decode()
    assert not AdmissionRequest.objects.exists()


def test_doctor_signs_with_password_and_is_refused_without(
    client_for, doctor_user, world
):
    client = client_for(doctor_user)
    url = reverse("patients:decide", kwargs={"pk": world["pending"].pk})
    response = client.post(url, {"decision": "approved", "password": "nope"})
    assert response.status_code == 200
    assert "password is not correct" in response.content.decode()
    assert world["waiting"].decisions.count() == 0
    response = client.post(url, {"decision": "approved", "password": PASSWORD})
    decision = DoctorDecision.objects.get(request=world["pending"])
    assert response.url == reverse("patients:decision", kwargs={"pk": decision.pk})
    assert Patient.objects.get(pk=world["waiting"].pk).status == "admitted"
    assert AuditEvent.objects.filter(action="sign", patient=world["waiting"]).exists()


def test_five_wrong_signatures_pause_signing_even_with_the_right_password(
    client_for, doctor_user, world
):
    client = client_for(doctor_user)
    url = reverse("patients:decide", kwargs={"pk": world["pending"].pk})
    for _ in range(5):
        response = client.post(url, {"decision": "approved", "password": "guess"})
        assert "password is not correct" in response.content.decode()

    response = client.post(url, {"decision": "approved", "password": PASSWORD})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Too many wrong signatures in a row" in page
    assert "Nothing was signed" in page
    assert world["waiting"].decisions.count() == 0
    assert Patient.objects.get(pk=world["waiting"].pk).status == "awaiting_approval"
    assert AuditEvent.objects.filter(
        user=doctor_user, summary__startswith="Signing refused"
    ).exists()


def test_conditional_approval_without_review_date_is_a_form_message(
    client_for, doctor_user, world
):
    response = client_for(doctor_user).post(
        reverse("patients:decide", kwargs={"pk": world["pending"].pk}),
        {"decision": "conditional", "conditions": "Labs", "password": PASSWORD},
    )
    assert response.status_code == 200
    assert "needs a review date" in response.content.decode()


def test_doctor_supersedes_a_decision_and_both_show(client_for, doctor_user, world):
    client = client_for(doctor_user)
    first = world["decision"]
    response = client.post(
        reverse("patients:decision_supersede", kwargs={"pk": first.pk}),
        {
            "decision": "conditional",
            "conditions": "Weekly breathalyzer",
            "review_date": (TODAY() + datetime.timedelta(7)).isoformat(),
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302
    html = client.get(
        reverse("patients:detail", kwargs={"pk": world["patient"].pk})
    ).content.decode()
    assert "superseded" in html and "Weekly breathalyzer" in html
    assert DoctorDecision.objects.filter(patient=world["patient"]).count() == 2


def test_approval_queue_is_oldest_first_with_waiting_time(
    client_for, doctor_user, staff_user, world
):
    later = register(staff_user, first_name="Casey", last_name="Young")
    request_admission(later, staff_user)
    html = client_for(doctor_user).get(reverse("patients:approvals")).content.decode()
    assert html.index("Blake Rivers") < html.index("Casey Young")
    assert "minute" in html


def test_hold_with_confirmation_and_discharge_by_form(client_for, staff_user, world):
    client = client_for(staff_user)
    patient = world["patient"]
    response = client.post(
        reverse("patients:hold", kwargs={"pk": patient.pk}),
        {"reason": "Surgery", "clear_future_sessions": "on"},
    )
    assert response.status_code == 302
    assert Patient.objects.get(pk=patient.pk).status == "on_hold"
    response = client.post(
        reverse("patients:discharge", kwargs={"pk": patient.pk}),
        {"on": TODAY().isoformat(), "reason": "completed"},
    )
    assert response.status_code == 200
    assert "Confirm the removal" in response.content.decode()
    response = client.post(
        reverse("patients:discharge", kwargs={"pk": patient.pk}),
        {"on": TODAY().isoformat(), "reason": "completed", "confirm": "on"},
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.status, patient.discharged_on) == ("discharged", TODAY())


def test_replacing_a_consent_starts_from_it_and_ignores_other_ids(
    client_for, staff_user, world
):
    client = client_for(staff_user)
    old = world["consent"]
    url = reverse("patients:consent_create", kwargs={"pk": old.sponsor.pk})
    html = client.get(f"{url}?replaces={old.pk}").content.decode()
    assert f"Consent #{old.pk} signed" in html
    other = ConsentFactory()
    for value in [str(other.pk), "abc", "\u00b2", ""]:
        response = client.get(url, {"replaces": value})
        assert response.status_code == 200
        assert "Replaces" not in response.content.decode()


def test_illegal_move_by_form_explains_why(client_for, staff_user, world):
    response = client_for(staff_user).post(
        reverse("patients:resume", kwargs={"pk": world["patient"].pk}), {}
    )
    assert response.status_code == 200
    assert "Only a patient on hold can resume" in response.content.decode()


def test_staff_adds_a_sponsor_and_records_consent(client_for, staff_user, world):
    client = client_for(staff_user)
    patient = world["waiting"]
    response = client.post(
        reverse("patients:sponsor_create", kwargs={"pk": patient.pk}),
        {
            "full_name": "Miguel Reyes",
            "relationship": "recovery_sponsor",
            "phone": "(555) 300-2000",
            "email": "",
            "preferred_channel": "sms",
        },
    )
    sponsor = Sponsor.objects.get(full_name="Miguel Reyes")
    assert response.url == reverse("patients:consent_create", kwargs={"pk": sponsor.pk})
    data = {
        "scope": "attendance",
        "purpose": "Check attendance",
        "effective_on": TODAY().isoformat(),
        "expiry": "date",
        "expires_on": "",
        "revocable": "yes",
        "signed_name": patient.full_name,
        "signed_on": TODAY().isoformat(),
    }
    response = client.post(response.url, data)
    html = response.content.decode()
    assert "Give the expiry date" in html and "witnessed" in html
    data.update(expires_on=(TODAY() + datetime.timedelta(90)).isoformat())
    data["witnessed"] = "on"
    response = client.post(
        reverse("patients:consent_create", kwargs={"pk": sponsor.pk}), data
    )
    assert response.status_code == 302
    consent = Consent.objects.get(sponsor=sponsor)
    assert consent.is_active and consent.witnessed_by == staff_user


def test_staff_revokes_a_consent(client_for, staff_user, world):
    consent = world["consent"]
    response = client_for(staff_user).post(
        reverse("patients:consent_revoke", kwargs={"pk": consent.pk}),
        {"on": TODAY().isoformat(), "how": "Phone call, then signed note"},
    )
    assert response.status_code == 302
    consent.refresh_from_db()
    assert consent.status == Consent.Status.REVOKED


def test_a_sponsors_letter_copy_is_logged_as_a_disclosure(
    client_for, staff_user, world
):
    response = client_for(staff_user).post(
        reverse("patients:decision_letter", kwargs={"pk": world["decision"].pk}),
        {"sponsor": world["sponsor"].pk},
    )
    assert response["Content-Type"] == "application/pdf"
    disclosure = Disclosure.objects.get()
    assert disclosure.sponsor == world["sponsor"]
    assert disclosure.consent == world["consent"]
    assert disclosure.channel == "pdf" and disclosure.by == staff_user


def test_no_letter_to_a_sponsor_without_active_consent(client_for, staff_user, world):
    consent = world["consent"]
    Consent.objects.filter(pk=consent.pk).update(
        revoked_on=TODAY(), revoked_how="note", revoked_recorded_by=staff_user
    )
    response = client_for(staff_user).post(
        reverse("patients:decision_letter", kwargs={"pk": world["decision"].pk}),
        {"sponsor": world["sponsor"].pk},
    )
    assert response.status_code == 302
    assert not Disclosure.objects.exists()


def test_doctor_cannot_give_a_letter_to_a_sponsor(client_for, doctor_user, world):
    response = client_for(doctor_user).post(
        reverse("patients:decision_letter", kwargs={"pk": world["decision"].pk}),
        {"sponsor": world["sponsor"].pk},
    )
    assert response.status_code == 403
    assert not Disclosure.objects.exists()


def test_consent_copy_for_the_sponsor_is_logged(client_for, staff_user, world):
    response = client_for(staff_user).post(
        reverse("patients:consent_pdf", kwargs={"pk": world["consent"].pk})
    )
    assert response["Content-Type"] == "application/pdf"
    assert Disclosure.objects.get().consent == world["consent"]
    # The clinic's own copy is not a disclosure.
    client_for(staff_user).get(
        reverse("patients:consent_pdf", kwargs={"pk": world["consent"].pk})
    )
    assert Disclosure.objects.count() == 1


WRITES = [
    ("create", None),
    ("edit", "patient"),
    ("hold", "patient"),
    ("resume", "patient"),
    ("discharge", "patient"),
    ("request_admission", "waiting"),
    ("request_withdraw", "pending"),
    ("sponsor_create", "patient"),
    ("sponsor_edit", "sponsor"),
    ("consent_create", "sponsor"),
    ("consent_revoke", "consent"),
    ("consent_pdf", "consent"),
    ("decide", "pending"),
    ("decision_supersede", "decision"),
]


@pytest.mark.parametrize("name, obj", WRITES)
def test_refused_roles_cannot_write_by_post(client_for, users, world, name, obj):
    from core.models import AuditEvent as Audit

    url = reverse(f"patients:{name}", kwargs={"pk": world[obj].pk} if obj else None)
    before = Audit.objects.count()
    allowed = {p[0]: p[2] for p in PAGES}[name]
    for role in {"sponsor", "staff", "doctor", "admin"} - allowed:
        response = client_for(users[role]).post(
            url, {"reason": "x", "on": "2026-01-01"}
        )
        assert response.status_code == 403, (name, role)
    assert Audit.objects.count() == before
