import datetime

from core import demo as core_demo
from core.timeutil import clinic_today
from patients import demo
from patients.models import (
    AdmissionRequest,
    Consent,
    DoctorDecision,
    Patient,
    PatientStatusChange,
    Sponsor,
)
from tests.core.reference import conditional_reviews_due


def _seed():
    users = core_demo.seed_people()
    program = core_demo.seed_program()
    demo.seed_patients(users=users, program=program)
    return users


def _counts():
    return [
        m.objects.count()
        for m in (
            Patient,
            Sponsor,
            Consent,
            AdmissionRequest,
            DoctorDecision,
            PatientStatusChange,
        )
    ]


def test_demo_patients_cover_the_program_and_are_safe_to_run_again():
    users = _seed()
    first = _counts()
    _seed()
    assert _counts() == first
    assert set(Patient.objects.values_list("status", flat=True)) == set(
        Patient.Status.values
    )
    statuses = {c.status for c in Consent.objects.select_related("patient")}
    assert {"active", "expired", "revoked"} <= statuses
    pending = AdmissionRequest.objects.filter(status="pending")
    assert pending.count() >= 2 and pending.filter(medical_probation=True).exists()
    assert DoctorDecision.objects.filter(decision="declined").exists()
    # The doctor's dashboard has a conditional approval to review within 2 weeks.
    due = list(conditional_reviews_due(doctor=users["doctor@demo.test"]))
    assert due and due[0].review_date <= clinic_today() + datetime.timedelta(14)
    # Each demo sponsor login has an active consent from an admitted patient.
    for email in ("sponsor@demo.test", "m.reyes@demo.test", "officer.grant@demo.test"):
        rows = Consent.objects.filter(sponsor__user=users[email])
        assert any(c.is_active and c.patient.status == "admitted" for c in rows), email
    court = Consent.objects.get(sponsor__user=users["officer.grant@demo.test"])
    assert not court.revocable and court.patient.referral_source == "court"
    # Status history agrees with the patient's status.
    for patient in Patient.objects.all():
        assert patient.status_changes.first().to_status == patient.status
