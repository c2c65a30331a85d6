"""Reads behind the dashboards. Each costs a fixed number of queries."""

import datetime
from typing import NamedTuple

from django.contrib.auth.models import Group
from django.db.models import Count, Q
from django.utils import timezone

from accounts.models import User
from core.db import prepared_cursor
from core.models import AuditEvent, ClinicSettings, RenderedDocument
from core.timeutil import clinic_today, day_bounds, years_before
from patients.models import PART2_NOTICE, AdmissionRequest, DoctorDecision, Patient
from sessions.models import MODALITY_LABELS, Alert, TherapySession, session_label
from sessions.selectors import attendance as attendance_selectors

TODAY_ON_DASHBOARD = 10
UNMARKED_ON_DASHBOARD = 10


# Everything the staff dashboard shows, in one statement (plain SQL: the ORM
# took longer to build its four queries than the database takes to run them):
# patients by status, the user's caseload (admitted or on hold), admission
# requests waiting for a doctor, failed alerts; today's sessions (not cancelled)
# with how many have not ended yet and the next TODAY_ON_DASHBOARD of those
# (in progress or to come) with their patient count; and the ended sessions with
# active, unmarked participations (Participant.marked is kept by triggers; read
# through its partial index), how many in all and the UNMARKED_ON_DASHBOARD most
# recent with their unmarked count. The two lists come as JSON arrays of
# [id, start, end, title, kind, topic, modality, room, count]
# (SESSION_LABEL_AND_PLACE); the label is made from them by session_label, as
# TherapySession.label makes it (tests.core.test_dashboard_sql checks they agree).
_STAFF_DASHBOARD = """
WITH day AS (
    SELECT s.id, s.start, s."end", s.title, s.kind, s.modality, s.topic_id,
           s.room_id
    FROM therapy_sessions_therapysession s
    WHERE s.start >= %(day_start)s AND s.start < %(day_end)s
      AND s.status <> %(cancelled)s
), unmarked AS (
    SELECT p.session_id, p."end", count(*) AS n
    FROM therapy_sessions_participant p
    WHERE p."end" <= %(now)s AND p.active AND NOT p.marked
    GROUP BY p.session_id, p."end"
)
SELECT
  (SELECT json_object_agg(status, n) FROM (
     SELECT status, count(*) AS n FROM patients_patient GROUP BY status) AS by_status),
  (SELECT count(*) FROM patients_patient
    WHERE primary_counselor_id = %(user)s AND status IN (%(admitted)s, %(on_hold)s)),
  (SELECT count(*) FROM patients_admissionrequest WHERE status = %(pending)s),
  (SELECT count(*) FROM therapy_sessions_alert WHERE state = %(failed)s),
  (SELECT count(*) FROM day),
  (SELECT count(*) FROM day WHERE "end" > %(now)s),
  (SELECT json_agg(json_build_array(
       d.id, d.start, d."end",
       {label_and_place},
       (SELECT count(*) FROM therapy_sessions_participant p
        WHERE p.session_id = d.id)
     ) ORDER BY d.start, d.id)
   FROM (SELECT * FROM day WHERE "end" > %(now)s
         ORDER BY start, id LIMIT %(today_limit)s) d
   LEFT JOIN therapy_sessions_topic t ON t.id = d.topic_id
   LEFT JOIN therapy_sessions_room r ON r.id = d.room_id),
  (SELECT count(DISTINCT session_id) FROM unmarked),
  (SELECT json_agg(json_build_array(
       d.id, d.start, d."end",
       {label_and_place}, u.n
     ) ORDER BY u."end" DESC, u.session_id DESC)
   FROM (SELECT * FROM unmarked ORDER BY "end" DESC, session_id DESC
         LIMIT %(unmarked_limit)s) u
   JOIN therapy_sessions_therapysession d ON d.id = u.session_id
   LEFT JOIN therapy_sessions_topic t ON t.id = d.topic_id
   LEFT JOIN therapy_sessions_room r ON r.id = d.room_id)
"""
# What both lists show of a session besides its times: what its label is made of
# (sessions.models.session_label), its modality and its room (`d` the session,
# `t` its topic, `r` its room).
SESSION_LABEL_AND_PLACE = "d.title, d.kind, t.name, d.modality, r.name"
STAFF_DASHBOARD_SQL = _STAFF_DASHBOARD.format(label_and_place=SESSION_LABEL_AND_PLACE)


class DashboardSession(NamedTuple):
    """A session as the staff dashboard lists it; `count` is its patients (today)
    or its unmarked patients (attendance to take)."""

    pk: int
    start: datetime.datetime
    end: datetime.datetime
    label: str
    modality: str
    room: str | None
    count: int


def _dashboard_sessions(rows):
    return [
        DashboardSession(
            pk,
            datetime.datetime.fromisoformat(start),
            datetime.datetime.fromisoformat(end),
            session_label(title, kind, topic),
            MODALITY_LABELS.get(modality, modality),
            room,
            count,
        )
        for pk, start, end, title, kind, topic, modality, room, count in rows or ()
    ]


def staff_dashboard(*, user, now=None):
    """The staff dashboard's context: one query (STAFF_DASHBOARD_SQL)."""
    now = now or timezone.now()
    today = clinic_today()
    day_start, day_end = day_bounds(today)
    with prepared_cursor() as cursor:
        cursor.execute(
            STAFF_DASHBOARD_SQL,
            {
                "user": user.pk,
                "admitted": Patient.Status.ADMITTED,
                "on_hold": Patient.Status.ON_HOLD,
                "pending": AdmissionRequest.Status.PENDING,
                "failed": Alert.State.FAILED,
                "now": now,
                "day_start": day_start,
                "day_end": day_end,
                "cancelled": TherapySession.Status.CANCELLED,
                "today_limit": TODAY_ON_DASHBOARD,
                "unmarked_limit": UNMARKED_ON_DASHBOARD,
            },
        )
        (
            by_status,
            mine,
            pending,
            failed,
            today_total,
            today_to_come,
            today_rows,
            unmarked_total,
            unmarked_rows,
        ) = cursor.fetchone()
    by_status = by_status or {}
    return {
        "today": today,
        "sessions_today": {
            "sessions": _dashboard_sessions(today_rows),
            "total": today_total,
            "to_come": today_to_come,
        },
        "status_counts": [
            (label, by_status.get(value, 0)) for value, label in Patient.Status.choices
        ],
        "pending_requests": pending,
        "failed_alerts": failed,
        "my_patients": mine,
        "unmarked_sessions": _dashboard_sessions(unmarked_rows),
        "unmarked_total": unmarked_total,
    }


DASHBOARD_TOP = 10
PENDING_ON_DASHBOARD = 10

# The doctor's dashboard's waiting items in one statement (the querysets of
# the conditional approvals due for review and of the pending requests, written
# in SQL: compiling them cost more than running them; tests/core/reference.py
# holds the first, conditional_reviews_due): the oldest pending requests with the
# number of all of them (the shown ones joined to their patients after the
# limit: ten index lookups instead of hashing every patient), and the doctor's
# conditional approvals due for review. Statuses and the decision are written in
# the text as literals (formatted from QUEUE_LITERALS, the models' values) so that
# the plan kept for the connection (prepared_cursor) uses the partial indexes of
# both lists.
QUEUE_LITERALS = {
    "pending": AdmissionRequest.Status.PENDING,
    "conditional": DoctorDecision.Decision.CONDITIONAL,
    "admitted": Patient.Status.ADMITTED,
    "on_hold": Patient.Status.ON_HOLD,
}
_DOCTOR_QUEUE_SQL = """
(
    SELECT 'request' AS kind, r.id, r.requested_at, NULL::date AS review_date,
           p.first_name, p.last_name, p.record_number, r.count
    FROM (
        SELECT r.id, r.requested_at, r.patient_id, COUNT(*) OVER () AS count
        FROM patients_admissionrequest r
        WHERE r.status = '{pending}'
        ORDER BY r.requested_at, r.id
        LIMIT %(pending_shown)s
    ) r
    JOIN patients_patient p ON p.id = r.patient_id
    ORDER BY r.requested_at, r.id
)
UNION ALL
(
    SELECT 'review', d.id, NULL, d.review_date,
           p.first_name, p.last_name, p.record_number, NULL
    FROM patients_doctordecision d
    JOIN patients_patient p ON p.id = d.patient_id
    WHERE d.decision = '{conditional}' AND d.review_date <= %(horizon)s
      AND NOT EXISTS (
          SELECT 1 FROM patients_doctordecision later WHERE later.supersedes_id = d.id
      )
      AND p.status IN ('{admitted}', '{on_hold}')
      AND p.attending_doctor_id = %(doctor)s
    ORDER BY d.review_date, d.id
)
"""
DOCTOR_QUEUE_SQL = _DOCTOR_QUEUE_SQL.format(**QUEUE_LITERALS)


def _doctor_queue(*, doctor, within_days=14):
    """(the oldest pending requests, how many are pending, the doctor's
    conditional approvals due for review within `within_days`) as dicts with
    what the dashboard shows. One query."""
    horizon = clinic_today() + datetime.timedelta(days=within_days)
    with prepared_cursor() as cursor:
        cursor.execute(
            DOCTOR_QUEUE_SQL,
            {
                "pending_shown": PENDING_ON_DASHBOARD,
                "horizon": horizon,
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
