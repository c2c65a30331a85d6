"""Reads behind the dashboards. Each costs a fixed number of queries."""

import datetime

from django.contrib.auth.models import Group
from django.db.models import Count

from accounts.models import User
from core.models import RenderedDocument
from core.timeutil import clinic_today, day_bounds
from patients.models import AdmissionRequest, DoctorDecision, Patient
from sessions.models import Alert, TherapySession
from sessions.selectors import attendance as attendance_selectors


def todays_sessions():
    start, end = day_bounds(clinic_today())
    return (
        TherapySession.objects.filter(start__gte=start, start__lt=end)
        .exclude(status=TherapySession.Status.CANCELLED)
        .select_related("room", "topic")
        .annotate(patient_count=Count("participants", distinct=True))
        .order_by("start")
    )


def staff_dashboard(*, user):
    status_counts = dict(
        Patient.objects.values_list("status").annotate(n=Count("id")).order_by()
    )
    return {
        "today": clinic_today(),
        "sessions_today": list(todays_sessions()),
        "status_counts": [
            (label, status_counts.get(value, 0))
            for value, label in Patient.Status.choices
        ],
        "pending_requests": AdmissionRequest.objects.filter(
            status=AdmissionRequest.Status.PENDING
        ).count(),
        "failed_alerts": Alert.objects.filter(state=Alert.State.FAILED).count(),
        "my_patients": Patient.objects.filter(
            primary_counselor=user,
            status__in=[Patient.Status.ADMITTED, Patient.Status.ON_HOLD],
        ).count(),
        "unmarked_sessions": attendance_selectors.unmarked_sessions(),
    }


def conditional_reviews_due(*, doctor=None, within_days=14):
    """Current conditional approvals whose review date is near or past."""
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


def doctor_dashboard(*, doctor):
    pending = (
        AdmissionRequest.objects.filter(status=AdmissionRequest.Status.PENDING)
        .select_related("patient", "requested_by")
        .order_by("requested_at")
    )
    return {
        "today": clinic_today(),
        "pending_requests": list(pending[:10]),
        "pending_count": pending.count(),
        "reviews_due": list(conditional_reviews_due(doctor=doctor)),
        "flagged": attendance_selectors.flagged_patients(doctor=doctor),
        "below_target": attendance_selectors.compliance(doctor=doctor)["rows"],
    }


def admin_dashboard():
    groups = dict(Group.objects.annotate(n=Count("user")).values_list("name", "n"))
    return {
        "role_counts": sorted(groups.items()),
        "user_count": User.objects.filter(is_active=True).count(),
        "patient_count": Patient.objects.count(),
        "failed_alerts": Alert.objects.filter(state=Alert.State.FAILED).count(),
    }


# --- Audit trail and accounting of disclosures (security pages) -------------

AUDIT_PAGE_SIZE = 50
DISCLOSURE_YEARS = 3


def audit_events(*, patient="", user=None, action="", date_from=None, date_to=None):
    """The audit trail, newest first, filtered. Each row carries its user and
    patient (select_related), so a page costs a fixed number of queries."""
    from django.db.models import Q

    from core.models import AuditEvent

    events = AuditEvent.objects.select_related("user", "patient").order_by("-at", "-id")
    if patient:
        match = Q(patient__record_number__iexact=patient)
        for word in patient.split()[:4]:
            match |= Q(patient__first_name__icontains=word) | Q(
                patient__last_name__icontains=word
            )
        events = events.filter(match)
    if user is not None:
        events = events.filter(user=user)
    if action:
        events = events.filter(action=action)
    if date_from:
        events = events.filter(at__gte=day_bounds(date_from)[0])
    if date_to:
        events = events.filter(at__lt=day_bounds(date_to)[1])
    return events


def disclosures_accounting(*, patient, today=None):
    """Every disclosure about `patient` in the last 3 years, newest first, with
    the consent and the person who made it. Two queries at most."""
    today = today or clinic_today()
    try:
        since_day = today.replace(year=today.year - DISCLOSURE_YEARS)
    except ValueError:  # 29 February
        since_day = today.replace(year=today.year - DISCLOSURE_YEARS, day=28)
    since = day_bounds(since_day)[0]
    disclosures = list(
        patient.disclosures.filter(at__gte=since)
        .select_related("consent", "by", "sponsor")
        .order_by("-at", "-id")
    )
    from patients.models import PART2_NOTICE

    return {
        "patient": patient,
        "disclosures": disclosures,
        "since": since_day,
        "PART2_NOTICE": PART2_NOTICE,
    }


def rendered_document_body(*, digest):
    """The PDF kept under `digest` (core.models.RenderedDocument), or None."""
    body = (
        RenderedDocument.objects.filter(digest=digest)
        .values_list("body", flat=True)
        .first()
    )
    return None if body is None else bytes(body)
