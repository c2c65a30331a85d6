"""Reads behind the dashboards. Each costs a fixed number of queries."""

import datetime

from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import User
from core.models import AuditEvent, ClinicSettings, RenderedDocument
from core.timeutil import clinic_today, day_bounds, years_before
from patients.models import PART2_NOTICE, AdmissionRequest, DoctorDecision, Patient
from sessions.models import Alert, Participant, TherapySession
from sessions.selectors import attendance as attendance_selectors

TODAY_ON_DASHBOARD = 10


def todays_sessions(*, now=None, limit=TODAY_ON_DASHBOARD):
    """Today's sessions (not cancelled) on the dashboard: how many there are, how
    many have not ended yet, and the next `limit` of those (in progress or to come),
    each with `patient_count`. Two queries, however busy the day; the whole day is
    on the agenda page."""
    now = now or timezone.now()
    start, end = day_bounds(clinic_today())
    day = TherapySession.objects.filter(start__gte=start, start__lt=end).exclude(
        status=TherapySession.Status.CANCELLED
    )
    counts = day.aggregate(
        total=Count("id"), to_come=Count("id", filter=Q(end__gt=now))
    )
    patients = (
        Participant.objects.filter(session=OuterRef("pk"))
        .order_by()
        .values("session")
        .annotate(n=Count("id"))
        .values("n")
    )
    upcoming = list(
        day.filter(end__gt=now)
        .select_related("room", "topic")
        .annotate(patient_count=Coalesce(Subquery(patients), 0))
        .order_by("start", "id")[:limit]
    )
    return {"sessions": upcoming, **counts}


UNMARKED_ON_DASHBOARD = 10


STAFF_COUNTS_SQL = """
SELECT
  (SELECT json_object_agg(status, n) FROM (
     SELECT status, count(*) AS n FROM patients_patient GROUP BY status) AS by_status),
  (SELECT count(*) FROM patients_patient
    WHERE primary_counselor_id = %(user)s AND status IN (%(admitted)s, %(on_hold)s)),
  (SELECT count(*) FROM patients_admissionrequest WHERE status = %(pending)s),
  (SELECT count(*) FROM therapy_sessions_alert WHERE state = %(failed)s)
"""


def _staff_counts(*, user):
    """Patients by status, `user`'s caseload (admitted or on hold), admission
    requests waiting for a doctor and failed alerts: one query instead of four."""
    with connection.cursor() as cursor:
        cursor.execute(
            STAFF_COUNTS_SQL,
            {
                "user": user.pk,
                "admitted": Patient.Status.ADMITTED,
                "on_hold": Patient.Status.ON_HOLD,
                "pending": AdmissionRequest.Status.PENDING,
                "failed": Alert.State.FAILED,
            },
        )
        by_status, mine, pending, failed = cursor.fetchone()
    return {
        "by_status": by_status or {},
        "mine": mine,
        "pending_requests": pending,
        "failed_alerts": failed,
    }


def staff_dashboard(*, user):
    counts = _staff_counts(user=user)
    # The most recent sessions with attendance to take, each row with the total
    # (the rest are one link away, on the paginated list).
    unmarked = attendance_selectors.unmarked_sessions(limit=UNMARKED_ON_DASHBOARD)
    return {
        "today": clinic_today(),
        "sessions_today": todays_sessions(),
        "status_counts": [
            (label, counts["by_status"].get(value, 0))
            for value, label in Patient.Status.choices
        ],
        "pending_requests": counts["pending_requests"],
        "failed_alerts": counts["failed_alerts"],
        "my_patients": counts["mine"],
        "unmarked_sessions": unmarked,
        "unmarked_total": unmarked[0].total if unmarked else 0,
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


DASHBOARD_TOP = 10
PENDING_ON_DASHBOARD = 10

# The doctor's dashboard's waiting items in one statement (the querysets of
# conditional_reviews_due and of the pending requests, written in SQL: compiling
# them cost more than running them): the oldest pending requests with the
# number of all of them, and the doctor's conditional approvals due for review.
DOCTOR_QUEUE_SQL = """
(
    SELECT 'request' AS kind, r.id, r.requested_at, NULL::date AS review_date,
           p.first_name, p.last_name, p.record_number, COUNT(*) OVER () AS count
    FROM patients_admissionrequest r
    JOIN patients_patient p ON p.id = r.patient_id
    WHERE r.status = %(pending)s
    ORDER BY r.requested_at, r.id
    LIMIT %(pending_shown)s
)
UNION ALL
(
    SELECT 'review', d.id, NULL, d.review_date,
           p.first_name, p.last_name, p.record_number, NULL
    FROM patients_doctordecision d
    JOIN patients_patient p ON p.id = d.patient_id
    WHERE d.decision = %(conditional)s AND d.review_date <= %(horizon)s
      AND NOT EXISTS (
          SELECT 1 FROM patients_doctordecision later WHERE later.supersedes_id = d.id
      )
      AND p.status IN (%(admitted)s, %(on_hold)s)
      AND p.attending_doctor_id = %(doctor)s
    ORDER BY d.review_date, d.id
)
"""


def _doctor_queue(*, doctor, within_days=14):
    """(the oldest pending requests, how many are pending, the doctor's
    conditional approvals due for review within `within_days`) as dicts with
    what the dashboard shows. One query."""
    horizon = clinic_today() + datetime.timedelta(days=within_days)
    with connection.cursor() as cursor:
        cursor.execute(
            DOCTOR_QUEUE_SQL,
            {
                "pending": AdmissionRequest.Status.PENDING,
                "pending_shown": PENDING_ON_DASHBOARD,
                "conditional": DoctorDecision.Decision.CONDITIONAL,
                "horizon": horizon,
                "admitted": Patient.Status.ADMITTED,
                "on_hold": Patient.Status.ON_HOLD,
                "doctor": doctor.pk,
            },
        )
        found = cursor.fetchall()
    requests, reviews, count = [], [], 0
    for kind, pk, requested_at, review_date, first, last, record, n in found:
        patient = {"full_name": f"{first} {last}", "record_number": record}
        if kind == "request":
            count = n
            requests.append(
                {"pk": pk, "patient": patient, "requested_at": requested_at}
            )
        else:
            reviews.append({"pk": pk, "patient": patient, "review_date": review_date})
    return requests, count, reviews


def doctor_dashboard(*, doctor):
    """The doctor's most urgent items: the oldest waiting requests, conditional
    approvals due for review, and the top of their flagged and below-target
    patients (longest run of no-shows, most hours short), each with its count
    for a link to the whole list. Four queries: the settings, the waiting items,
    the flagged patients, the patients below target."""
    clinic_settings = ClinicSettings.read()
    pending, pending_count, reviews_due = _doctor_queue(doctor=doctor)
    flagged = attendance_selectors.flagged_page(
        doctor=doctor,
        order="urgency",
        page=1,
        per_page=DASHBOARD_TOP,
        clinic_settings=clinic_settings,
    )
    below = attendance_selectors.compliance(
        doctor=doctor,
        order="shortfall",
        page=1,
        per_page=DASHBOARD_TOP,
        clinic_settings=clinic_settings,
    )
    return {
        "today": clinic_today(),
        "pending_requests": pending,
        "pending_count": pending_count,
        "reviews_due": reviews_due,
        "flagged": flagged["rows"],
        "flagged_count": flagged["count"],
        "below_target": below["rows"],
        "below_target_count": below["count"],
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
    since_day = years_before(today or clinic_today(), DISCLOSURE_YEARS)
    since = day_bounds(since_day)[0]
    disclosures = list(
        patient.disclosures.filter(at__gte=since)
        .select_related("consent", "by", "sponsor")
        .order_by("-at", "-id")
    )
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
