"""The doctor's dashboard reads its waiting items (pending requests, conditional
approvals due for review) in one SQL statement: it agrees with the querysets it
replaces."""

import datetime

import pytest
from django.utils import timezone

from core import demo as core_demo
from core.selectors import PENDING_ON_DASHBOARD, QUEUE_LITERALS
from core.selectors import doctor_dashboard as dashboard
from patients import demo
from patients.models import AdmissionRequest, Patient
from tests.factories import PatientFactory

from .reference import conditional_reviews_due

pytestmark = pytest.mark.django_db


def test_waiting_items_agree_with_the_querysets():
    users = core_demo.seed_people()
    demo.seed_patients(users=users, program=core_demo.seed_program())
    # more pending requests than the dashboard shows, some at the same moment
    pending = list(AdmissionRequest.objects.filter(status="pending"))
    assert pending
    now = timezone.now()
    for i, patient in enumerate(PatientFactory.create_batch(12)):
        AdmissionRequest.objects.create(
            patient=patient,
            requested_by=pending[0].requested_by,
            requested_at=now - datetime.timedelta(days=i // 3),
            clinical_summary="Summary.",
            proposed_start=now.date(),
        )
    doctors = {p.attending_doctor for p in Patient.objects.all()} - {None}
    assert any(conditional_reviews_due(doctor=d).exists() for d in doctors)
    for doctor in doctors:
        data = dashboard(doctor=doctor)
        requests = AdmissionRequest.objects.filter(status="pending")
        expected = list(requests.order_by("requested_at", "id")[:PENDING_ON_DASHBOARD])
        assert [r["pk"] for r in data["pending_requests"]] == [r.pk for r in expected]
        assert [
            (
                r["patient"]["full_name"],
                r["patient"]["record_number"],
                r["requested_at"],
            )
            for r in data["pending_requests"]
        ] == [
            (r.patient.full_name, r.patient.record_number, r.requested_at)
            for r in expected
        ]
        assert data["pending_count"] == requests.count() > PENDING_ON_DASHBOARD
        due = list(conditional_reviews_due(doctor=doctor).order_by("review_date", "id"))
        assert [
            (d["pk"], d["patient"]["full_name"], d["review_date"])
            for d in data["reviews_due"]
        ] == [(d.pk, d.patient.full_name, d.review_date) for d in due]


def test_the_values_the_queue_statement_writes_as_literals_are_the_models():
    assert all(literal == value for literal, value in QUEUE_LITERALS.items())
