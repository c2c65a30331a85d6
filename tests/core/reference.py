"""The ORM reads that the dashboards had before each was read with one SQL
statement: the references the tests hold those statements to. The doctor's
conditional approvals due for review (core.selectors.doctor_dashboard;
tests/core/test_doctor_dashboard.py). The application does not run them.

The staff dashboard's sessions with attendance to take are in
tests/sessions/reference.py (unmarked_sessions)."""

import datetime

from core.timeutil import clinic_today
from patients.models import DoctorDecision, Patient


def conditional_reviews_due(*, doctor=None, within_days=14):
    """The tests' reference for the doctor's dashboard's approvals due for review
    (core.selectors.doctor_dashboard): current conditional approvals whose
    review date is near or past."""
    horizon = clinic_today() + datetime.timedelta(days=within_days)
    qs = (
        DoctorDecision.objects.filter(
            decision=DoctorDecision.Decision.CONDITIONAL,
            review_date__lte=horizon,
            superseded_by__isnull=True,
            patient__status__in=[Patient.Status.ADMITTED, Patient.Status.ON_HOLD],
        )
        .select_related("patient", "signed_by")
        .order_by("review_date")
    )
    if doctor is not None:
        qs = qs.filter(patient__attending_doctor=doctor)
    return qs
