"""The patient page's reads: everything the page shows in one SQL statement
(PATIENT_PAGE_SQL).

The page used to read its sections with eleven ORM queries (the patient, sponsors
with consents, requests with decisions, status history, schedule, calendar feed,
settings, minutes, flags, alerts). Building those querysets (FilteredRelation
joins, a UNION, window aggregates) cost more Python than PostgreSQL took to
answer them, on the page staff open most. Here one statement returns the patient
row and each section as JSON (every row whole, as `to_jsonb` writes it), and the
rows become model instances again, so that the template and the sections'
helpers (status_on, _mark_current, the hours and flag rules) work on them as
before. tests/patients/reference.py holds the ORM version (patient_page_orm) the
tests compare it with.

The statement's values are bound parameters, and it is prepared on its
connection (core.db.prepared_cursor): PostgreSQL plans its forty subqueries once
per connection, not on every request."""

import datetime

from django.http import Http404
from django.utils import timezone

from accounts.models import User
from core.auditsql import AUDIT_INSERT, audit_params
from core.jsonrows import fetch_row, instance, parse_datetime, relate
from core.models import AuditEvent, ClinicSettings
from core.timeutil import clinic_today, clinic_zone, span_bounds
from portal.models import SponsorInvitation
from sessions.models import (
    Alert,
    Attendance,
    CalendarFeed,
    Room,
    TherapySession,
    Topic,
)
from sessions.selectors import attendance as attendance_selectors

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

# The schedule's and the alerts' lengths are those of the ORM reads the tests
# compare the page with (tests/patients/reference.py).
SCHEDULE_UPCOMING = 10
SCHEDULE_PAST = 5
ALERTS_SHOWN = 5
HOURS_WEEKS = 12  # as attendance.patient_hours_section

# The patient and every section as one jsonb object, each row whole as to_jsonb
# writes it (users without their password hash).
#
# The audit row for viewing the patient is written by the same statement (a
# data-modifying WITH, the row's values as core.audit.audit() gives them),
# only when the patient exists: one round trip and one commit instead of two
# statements. The statement runs in autocommit, so the row is committed (and
# durable) before the page is rendered, as audit() wrote it.
PATIENT_PAGE_AUDIT = AUDIT_INSERT.format(
    model="%(audit_model)s::text",
    object_id="p.id::text",
    patient="p.id",
    summary="'Viewed patient record'",
    source="patients_patient p WHERE p.id = %(patient)s::bigint",
)
_PATIENT_PAGE_READ = """
WITH viewed AS ({audit})
SELECT to_jsonb(page) FROM (
    SELECT
      to_jsonb(p) AS patient,
      (SELECT to_jsonb(t) FROM patients_track t WHERE t.id = p.track_id) AS track,
      (SELECT to_jsonb(u) - 'password' FROM accounts_user u
        WHERE u.id = p.primary_counselor_id) AS counselor,
      (SELECT to_jsonb(u) - 'password' FROM accounts_user u
        WHERE u.id = p.attending_doctor_id) AS doctor,
      -- sponsors by name, each with its open invitation and its consents,
      -- newest first
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(s),
                'invitation', (SELECT to_jsonb(i) FROM portal_sponsorinvitation i
                                WHERE i.sponsor_id = s.id AND i.state = 'open'),
                'consents', (
                  SELECT COALESCE(jsonb_agg(jsonb_build_object(
                           'row', to_jsonb(c),
                           'witnessed_by',
                             (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                               WHERE u.id = c.witnessed_by_id),
                           'revoked_recorded_by',
                             (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                               WHERE u.id = c.revoked_recorded_by_id))
                         ORDER BY c.effective_on DESC, c.id DESC), '[]')
                    FROM patients_consent c WHERE c.sponsor_id = s.id))
              ORDER BY s.full_name, s.id), '[]')
         FROM patients_sponsor s WHERE s.patient_id = p.id) AS sponsors,
      -- admission requests, newest first, each with its decisions, newest first
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(r),
                'requested_by', (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                                  WHERE u.id = r.requested_by_id),
                'doctor', (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                            WHERE u.id = r.doctor_id),
                'proposed_track', (SELECT to_jsonb(t) FROM patients_track t
                                    WHERE t.id = r.proposed_track_id),
                'decisions', (
                  SELECT COALESCE(jsonb_agg(jsonb_build_object(
                           'row', to_jsonb(d),
                           'signed_by',
                             (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                               WHERE u.id = d.signed_by_id))
                         ORDER BY d.signed_at DESC, d.id DESC), '[]')
                    FROM patients_doctordecision d WHERE d.request_id = r.id))
              ORDER BY r.requested_at DESC, r.id DESC), '[]')
         FROM patients_admissionrequest r WHERE r.patient_id = p.id) AS requests,
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(h),
                'by', (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                        WHERE u.id = h.by_id))
              ORDER BY h.at DESC, h.id DESC), '[]')
         FROM patients_patientstatuschange h WHERE h.patient_id = p.id) AS history,
      -- the next and the last sessions, picked through the patient's participations
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(s),
                'room', (SELECT to_jsonb(r) FROM therapy_sessions_room r
                          WHERE r.id = s.room_id),
                'topic', (SELECT to_jsonb(t) FROM therapy_sessions_topic t
                           WHERE t.id = s.topic_id))
              ORDER BY s.start, s.id), '[]')
         FROM therapy_sessions_therapysession s
        WHERE s.id IN (
              (SELECT x.session_id FROM therapy_sessions_participant x
                WHERE x.patient_id = p.id AND x."end" > %(now)s::timestamptz
                ORDER BY x.start, x.session_id LIMIT %(upcoming)s::integer)
              UNION ALL
              (SELECT x.session_id FROM therapy_sessions_participant x
                WHERE x.patient_id = p.id AND x."end" <= %(now)s::timestamptz
                ORDER BY x.start DESC, x.session_id DESC
                LIMIT %(past)s::integer))) AS sessions,
      (SELECT to_jsonb(f) FROM therapy_sessions_calendarfeed f
        WHERE f.patient_id = p.id) AS feed,
      (SELECT to_jsonb(cs) FROM core_clinicsettings cs WHERE cs.id = 1) AS settings,
      -- attended minutes per local day (as attendance.PATIENT_DAILY_MINUTES_SQL,
      -- through the marks' own copy of their session's start, indexed by patient)
      (SELECT COALESCE(jsonb_agg(jsonb_build_array(day, minutes)), '[]') FROM (
          SELECT (a.session_start AT TIME ZONE %(tz)s::text)::date AS day,
                 SUM(a.minutes) AS minutes
          FROM therapy_sessions_attendance a
          WHERE a.patient_id = p.id
            AND a.session_start >= %(minutes_lo)s::timestamptz
            AND a.session_start < %(minutes_hi)s::timestamptz
          GROUP BY 1) per_day) AS minutes,
      -- the latest marks for the rule flags, as attendance.PATIENT_LATEST_MARKS_SQL
      -- returns them (each row: status, unexcused absences in the rule's window,
      -- unexcused absences since the latest review, that review), with the window
      -- and the run length taken from the settings
      (SELECT COALESCE(jsonb_agg(jsonb_build_array(
                l.status, c.recent, c.since_review,
                rev.reviewed_at, rev.note, rev.full_name, rev.email)
              ORDER BY l.start DESC, l.id DESC), '[]')
         FROM (
           SELECT a.id, a.status, a.session_start AS start
             FROM therapy_sessions_attendance a
            WHERE a.patient_id = p.id
            ORDER BY a.session_start DESC, a.id DESC
            LIMIT COALESCE((SELECT consecutive_noshow_rule FROM core_clinicsettings
                             WHERE id = 1), %(noshow_rule)s::integer)
                  + %(run_lookback)s::integer
         ) l
         LEFT JOIN LATERAL (
           SELECT r.reviewed_at, r.note, u.full_name, u.email
             FROM therapy_sessions_flagreview r
             JOIN accounts_user u ON u.id = r.reviewed_by_id
            WHERE r.patient_id = p.id
            ORDER BY r.reviewed_at DESC, r.id DESC
            LIMIT 1
         ) rev ON true
         CROSS JOIN LATERAL (
           SELECT COUNT(*) FILTER (
                    WHERE x.session_start >= %(now)s::timestamptz - make_interval(
                            secs => COALESCE((SELECT absence_rule_days
                                                FROM core_clinicsettings WHERE id = 1),
                                             %(absence_days)s::integer) * 86400)
                      AND x.session_start <= %(now)s::timestamptz) AS recent,
                  COUNT(*) FILTER (WHERE {follows_review}) AS since_review
             FROM therapy_sessions_attendance x
            WHERE x.patient_id = p.id AND x.status = %(unexcused)s::text
         ) c) AS marks,
      -- the newest missed-session alerts with their session and sponsor, and counts
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(a),
                'session', (SELECT to_jsonb(s) FROM therapy_sessions_therapysession s
                             WHERE s.id = a.session_id),
                'sponsor', (SELECT to_jsonb(s) FROM patients_sponsor s
                             WHERE s.id = a.sponsor_id))
              ORDER BY a.created_at DESC, a.id DESC), '[]')
         FROM (SELECT * FROM therapy_sessions_alert a
                WHERE a.patient_id = p.id AND a.kind = %(missed)s::text
                ORDER BY a.created_at DESC, a.id DESC
                LIMIT %(alerts)s::integer) a) AS alerts,
      (SELECT jsonb_build_array(
                COUNT(*), COUNT(*) FILTER (WHERE a.state = %(failed)s::text))
         FROM therapy_sessions_alert a
        WHERE a.patient_id = p.id AND a.kind = %(missed)s::text) AS alert_counts
    FROM patients_patient p
    WHERE p.id = %(patient)s::bigint
  ) page
"""
PATIENT_PAGE_SQL = _PATIENT_PAGE_READ.format(
    audit=PATIENT_PAGE_AUDIT,
    follows_review=attendance_selectors.follows_review("x", "rev"),
)


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
            relate(consent, "witnessed_by", _user(c["witnessed_by"]))
            if consent.revoked_recorded_by_id is not None:
                relate(consent, "revoked_recorded_by", _user(c["revoked_recorded_by"]))
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
        relate(req, "requested_by", _user(row["requested_by"]))
        relate(req, "doctor", _user(row["doctor"]))
        relate(req, "proposed_track", instance(Track, row["proposed_track"]))
        req.decision_list = []
        for d in row["decisions"]:
            decision = instance(DoctorDecision, d["row"])
            relate(decision, "signed_by", _user(d["signed_by"]))
            req.decision_list.append(decision)
        req.current_decision = selectors._mark_current(req.decision_list)
        requests.append(req)
    return requests


def _history(rows):
    history = []
    for row in rows:
        change = instance(PatientStatusChange, row["row"])
        relate(change, "by", _user(row["by"]))
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
        relate(s, "room", rooms[s.room_id])
        relate(s, "topic", topics[s.topic_id])
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
        relate(alert, "session", instance(TherapySession, row["session"]))
        relate(alert, "sponsor", instance(Sponsor, row["sponsor"]))
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
    """Everything the patient page shows (tests/patients/reference.py has the same
    read with the ORM: patient_page_orm), and the audit row for viewing the
    patient, in one statement.
    404 (and no audit row) when there is no such patient."""
    now = timezone.now()
    today = clinic_today()
    first_monday, last_sunday = attendance_selectors.hours_span(today, HOURS_WEEKS)
    minutes_lo, minutes_hi = span_bounds(first_monday, last_sunday)
    defaults = ClinicSettings(pk=1)
    params = {
        "patient": pk,
        "now": now,
        "upcoming": SCHEDULE_UPCOMING,
        "past": SCHEDULE_PAST,
        "tz": str(clinic_zone()),
        "minutes_lo": minutes_lo,
        "minutes_hi": minutes_hi,
        "absence_days": defaults.absence_rule_days,
        "noshow_rule": defaults.consecutive_noshow_rule,
        "unexcused": Attendance.Status.UNEXCUSED.value,
        "run_lookback": attendance_selectors.RUN_LOOKBACK,
        "missed": Alert.Kind.MISSED.value,
        "failed": Alert.State.FAILED.value,
        "alerts": ALERTS_SHOWN,
        "audit_model": Patient._meta.label,
        **audit_params(user=user, action=AuditEvent.Action.VIEW),
    }
    row = fetch_row(PATIENT_PAGE_SQL, params)
    if row is None:
        raise Http404("No Patient matches the given query.")
    (page,) = row
    patient = instance(Patient, page["patient"])
    relate(patient, "track", instance(Track, page["track"]))
    relate(patient, "primary_counselor", _user(page["counselor"]))
    relate(patient, "attending_doctor", _user(page["doctor"]))
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
