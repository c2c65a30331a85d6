"""The patient page's reads: everything the page shows in one SQL statement
(the function patient_page, migration patients 0003).

The page used to read its sections with eleven ORM queries (the patient, sponsors
with consents, requests with decisions, status history, schedule, calendar feed,
settings, minutes, flags, alerts). Building those querysets (FilteredRelation
joins, a UNION, window aggregates) cost more Python than PostgreSQL took to
answer them, on the page staff open most. Here one statement returns the patient
row and each section as JSON (every row whole, as `to_jsonb` writes it), and the
rows become model instances again, so that the template and the sections'
helpers (status_on, _mark_current, the hours and flag rules) work on them as
before. `patient_page_orm` is the ORM version the tests hold it to.

The SQL is the function's (migration patients 0003); its arguments are bound
parameters."""

import datetime

from django.http import Http404
from django.utils import timezone

from accounts.models import User
from core.audit import audit
from core.jsonrows import fetch_row, instance, parse_datetime
from core.models import AuditEvent, ClinicSettings
from core.timeutil import clinic_today, clinic_zone, day_bounds
from portal.models import SponsorInvitation
from sessions.models import (
    Alert,
    Attendance,
    CalendarFeed,
    Room,
    TherapySession,
    Topic,
)
from sessions.selectors import alerts as alert_selectors
from sessions.selectors import attendance as attendance_selectors
from sessions.selectors import scheduling as scheduling_selectors

from . import selectors
from .models import (
    AdmissionRequest,
    Consent,
    DoctorDecision,
    Patient,
    PatientStatusChange,
    Sponsor,
    Track,
)

SCHEDULE_UPCOMING = 10  # as scheduling.patient_schedule
SCHEDULE_PAST = 5
ALERTS_SHOWN = 5  # as alerts.patient_sponsor_alerts
HOURS_WEEKS = 12  # as attendance.patient_hours_section

# The read is the function patient_page (migration patients 0003): the patient
# and every section as one jsonb object, each row whole as to_jsonb writes it
# (users without their password hash). A function, so that PostgreSQL keeps
# its plan for the connection instead of planning forty subqueries a request.
PATIENT_PAGE_CALL = """
SELECT patient_page(
    %(patient)s::bigint, %(now)s::timestamptz, %(upcoming)s::integer,
    %(past)s::integer, %(tz)s::text, %(minutes_lo)s::timestamptz,
    %(minutes_hi)s::timestamptz, %(absence_days)s::integer,
    %(noshow_rule)s::integer, %(unexcused)s::text, %(run_lookback)s::integer,
    %(missed)s::text, %(failed)s::text, %(alerts)s::integer)
"""


def _user(data):
    return instance(User, data)


def _sponsors(rows, today, discharged):
    sponsors = []
    for row in rows:
        sponsor = instance(Sponsor, row["row"])
        sponsor.open_invitation = instance(SponsorInvitation, row["invitation"])
        sponsor.consent_list = []
        for c in row["consents"]:
            consent = instance(Consent, c["row"])
            consent.witnessed_by = _user(c["witnessed_by"])
            if consent.revoked_recorded_by_id is not None:
                consent.revoked_recorded_by = _user(c["revoked_recorded_by"])
            sponsor.consent_list.append(consent)
        sponsor.consent_rows = selectors.consent_rows(
            sponsor.consent_list, today, discharged
        )
        sponsor.has_active_consent = any(
            r["status"] == Consent.Status.ACTIVE for r in sponsor.consent_rows
        )
        sponsors.append(sponsor)
    return sponsors


def _requests(rows):
    requests = []
    for row in rows:
        req = instance(AdmissionRequest, row["row"])
        req.requested_by = _user(row["requested_by"])
        req.doctor = _user(row["doctor"])
        req.proposed_track = instance(Track, row["proposed_track"])
        req.decision_list = []
        for d in row["decisions"]:
            decision = instance(DoctorDecision, d["row"])
            decision.signed_by = _user(d["signed_by"])
            req.decision_list.append(decision)
        req.current_decision = selectors._mark_current(req.decision_list)
        requests.append(req)
    return requests


def _history(rows):
    history = []
    for row in rows:
        change = instance(PatientStatusChange, row["row"])
        change.by = _user(row["by"])
        history.append(change)
    return history


def _schedule(rows, feed, now):
    sessions, rooms, topics = [], {}, {}
    for row in rows:
        s = instance(TherapySession, row["row"])
        # The same few rooms and topics recur: one instance each, as read.
        if s.room_id not in rooms:
            rooms[s.room_id] = instance(Room, row["room"])
        if s.topic_id not in topics:
            topics[s.topic_id] = instance(Topic, row["topic"])
        s.room = rooms[s.room_id]
        s.topic = topics[s.topic_id]
        sessions.append(s)
    return {
        "upcoming": [s for s in sessions if s.end > now],
        "recent": [s for s in reversed(sessions) if s.end <= now],
        "feed": instance(CalendarFeed, feed),
    }


def _alerts(rows, counts):
    recent = []
    for row in rows:
        alert = instance(Alert, row["row"])
        alert.session = instance(TherapySession, row["session"])
        alert.sponsor = instance(Sponsor, row["sponsor"])
        recent.append(alert)
    return {"recent": recent, "count": counts[0], "failed_count": counts[1]}


def _latest_marks(rows):
    """The flag rows as PATIENT_LATEST_MARKS_SQL returns them (tuples, the
    review's time parsed)."""
    return [
        (status, recent, since, parse_datetime(at) if at else None, *rest)
        for status, recent, since, at, *rest in rows
    ]


def patient_page(*, pk, user):
    """Everything the patient page shows (see patient_page_orm for the same read
    with the ORM), and the audit row for viewing the patient. Two queries: the
    page's statement, then the audit row. 404 when there is no such patient."""
    now = timezone.now()
    today = clinic_today()
    first_monday, last_sunday = attendance_selectors.hours_span(today, HOURS_WEEKS)
    defaults = ClinicSettings(pk=1)
    params = {
        "patient": pk,
        "now": now,
        "upcoming": SCHEDULE_UPCOMING,
        "past": SCHEDULE_PAST,
        "tz": str(clinic_zone()),
        "minutes_lo": day_bounds(first_monday)[0],
        "minutes_hi": day_bounds(last_sunday)[1],
        "absence_days": defaults.absence_rule_days,
        "noshow_rule": defaults.consecutive_noshow_rule,
        "unexcused": Attendance.Status.UNEXCUSED.value,
        "run_lookback": attendance_selectors.RUN_LOOKBACK,
        "missed": Alert.Kind.MISSED.value,
        "failed": Alert.State.FAILED.value,
        "alerts": ALERTS_SHOWN,
    }
    (page,) = fetch_row(PATIENT_PAGE_CALL, params)
    if page is None:
        raise Http404("No Patient matches the given query.")
    patient = instance(Patient, page["patient"])
    patient.track = instance(Track, page["track"])
    patient.primary_counselor = _user(page["counselor"])
    patient.attending_doctor = _user(page["doctor"])
    audit(
        user=user,
        action=AuditEvent.Action.VIEW,
        obj=patient,
        patient=patient,
        summary="Viewed patient record",
    )
    discharged = patient.status == Patient.Status.DISCHARGED
    sponsors = _sponsors(page["sponsors"], today, discharged)
    requests = _requests(page["requests"])
    clinic_settings = instance(ClinicSettings, page["settings"]) or defaults
    hours = attendance_selectors.patient_hours_from(
        patient=patient,
        per_day={datetime.date.fromisoformat(day): m for day, m in page["minutes"]},
        weeks=HOURS_WEEKS,
        today=today,
        clinic_settings=clinic_settings,
    )
    flag_state = attendance_selectors.flag_state_from(
        latest=_latest_marks(page["marks"]),
        patient=patient,
        clinic_settings=clinic_settings,
    )
    return {
        "patient": patient,
        "today": today,
        "sponsors": sponsors,
        "active_consent": any(s.has_active_consent for s in sponsors),
        "requests": requests,
        "pending_request": next(
            (r for r in requests if r.status == AdmissionRequest.Status.PENDING), None
        ),
        "status_history": _history(page["history"]),
        "schedule": _schedule(page["sessions"], page["feed"], now),
        "hours": attendance_selectors.hours_section_from(
            data=hours, flag_state=flag_state, today=today
        ),
        "sponsor_alerts": _alerts(page["alerts"], page["alert_counts"]),
    }


def patient_page_orm(*, pk, user):
    """The same read as patient_page with the ORM selectors each section had (ten
    queries and the audit row); the reference the tests hold patient_page to."""
    context = selectors.patient_detail(pk=pk, user=user)
    patient = context["patient"]
    context["schedule"] = scheduling_selectors.patient_schedule(patient=patient)
    context["hours"] = attendance_selectors.patient_hours_section(patient=patient)
    context["sponsor_alerts"] = alert_selectors.patient_sponsor_alerts(patient=patient)
    return context
