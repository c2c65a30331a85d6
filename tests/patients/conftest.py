import datetime

import pytest

from core.timeutil import clinic_today
from patients import services
from patients.models import Patient
from tests.conftest import PASSWORD


def register(actor, **over):
    fields = {
        "first_name": "Jordan",
        "last_name": "Miles",
        "date_of_birth": datetime.date(1990, 5, 17),
        "phone": "(555) 201-3344",
        "presenting_problems": ["alcohol"],
    }
    fields.update(over)
    return services.patient_create(actor=actor, **fields)


def request_admission(patient, actor, **over):
    kwargs = {
        "clinical_summary": "Daily drinking, two failed outpatient attempts.",
        "proposed_start": clinic_today(),
    }
    kwargs.update(over)
    return services.admission_request_create(patient=patient, actor=actor, **kwargs)


def approve(req, doctor, **over):
    kwargs = {"decision": "approved", "password": PASSWORD}
    kwargs.update(over)
    return services.decision_sign(request=req, doctor=doctor, **kwargs)


def sign_consent(sponsor, actor, **over):
    """A consent to `sponsor`, witnessed, signed today by the patient and in force
    from today until discharge; `over` changes any of it."""
    kwargs = {
        "purpose": "Attendance checks",
        "effective_on": clinic_today(),
        "signed_on": clinic_today(),
        "signed_name": sponsor.patient.full_name,
        "witnessed": True,
        "expires_on_discharge": True,
    }
    kwargs.update(over)
    return services.consent_create(sponsor=sponsor, actor=actor, **kwargs)


@pytest.fixture
def referred(staff_user):
    return register(staff_user)


@pytest.fixture
def awaiting(referred, staff_user):
    request_admission(referred, staff_user)
    referred.refresh_from_db()
    assert referred.status == Patient.Status.AWAITING_APPROVAL
    return referred


@pytest.fixture
def pending_request(awaiting):
    return awaiting.admission_requests.get()


@pytest.fixture
def admitted(pending_request, doctor_user):
    approve(pending_request, doctor_user)
    patient = pending_request.patient
    patient.refresh_from_db()
    return patient
