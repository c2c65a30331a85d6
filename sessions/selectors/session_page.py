"""The session page's reads: the session, its facilitators, family members and
attendance roster in one SQL statement (SESSION_PAGE_SQL).

The page used to read them with six ORM queries (the session with its room,
topic, series and creator; the facilitators and the family members as
prefetches; the settings; the participants joined to their patients and marks;
the corrections). Building those querysets cost more Python than PostgreSQL
took to answer them. Here one statement returns each part as JSON (every row
whole, as `to_jsonb` writes it) and the rows become model instances again
(core.jsonrows), so that the roster's rules (attendance.roster_from) and the
template work on them as before. tests/sessions/reference.py holds the ORM
version (session_detail_page_orm) the tests compare it with.

The statement's values are bound parameters, and it is prepared on its
connection (core.db.prepared_cursor), so PostgreSQL plans it once per connection."""

from accounts.models import User
from core.jsonrows import fetch_row, instance
from core.models import ClinicSettings
from patients.models import Patient
from sessions.models import (
    Attendance,
    AttendanceRevision,
    FamilyMember,
    Participant,
    Room,
    SessionSeries,
    TherapySession,
    Topic,
)

from . import attendance as attendance_selectors
from . import scheduling as scheduling_selectors

# Every part as one jsonb object, each row whole as to_jsonb writes it (users
# without their password hash).
SESSION_PAGE_SQL = """
SELECT to_jsonb(page) FROM (
    SELECT
      to_jsonb(s) AS session,
      (SELECT to_jsonb(r) FROM therapy_sessions_room r WHERE r.id = s.room_id) AS room,
      (SELECT to_jsonb(t) FROM therapy_sessions_topic t
        WHERE t.id = s.topic_id) AS topic,
      (SELECT to_jsonb(x) FROM therapy_sessions_sessionseries x
        WHERE x.id = s.series_id) AS series,
      (SELECT to_jsonb(u) - 'password' FROM accounts_user u
        WHERE u.id = s.created_by_id) AS created_by,
      -- the facilitators in the order they were added
      (SELECT COALESCE(jsonb_agg(
                (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                  WHERE u.id = f.user_id)
              ORDER BY f.id), '[]')
         FROM therapy_sessions_sessionfacilitator f WHERE f.session_id = s.id)
         AS facilitators,
      (SELECT COALESCE(jsonb_agg(to_jsonb(m) ORDER BY m.id), '[]')
         FROM therapy_sessions_familymember m WHERE m.session_id = s.id) AS family,
      (SELECT to_jsonb(cs) FROM core_clinicsettings cs WHERE cs.id = 1) AS settings,
      -- the expected patients by name, each with the mark at this session (if any)
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(p),
                'patient', to_jsonb(pt),
                'mark', to_jsonb(a),
                'recorded_by', (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                                 WHERE u.id = a.recorded_by_id))
              ORDER BY pt.last_name, pt.first_name, p.patient_id), '[]')
         FROM therapy_sessions_participant p
         JOIN patients_patient pt ON pt.id = p.patient_id
         LEFT JOIN therapy_sessions_attendance a
           ON a.patient_id = p.patient_id AND a.session_id = s.id
        WHERE p.session_id = s.id) AS participants,
      -- the corrections of this session's marks, newest first
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(v),
                'recorded_by', (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                                 WHERE u.id = v.recorded_by_id),
                'changed_by', (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                                WHERE u.id = v.changed_by_id))
              ORDER BY v.changed_at DESC, v.id DESC), '[]')
         FROM therapy_sessions_attendancerevision v
         JOIN therapy_sessions_attendance a ON a.id = v.attendance_id
        WHERE a.session_id = s.id) AS revisions
    FROM therapy_sessions_therapysession s
    WHERE s.id = %(session)s::bigint
  ) page
"""


def _session(row, room, topic, series, created_by):
    session = instance(TherapySession, row)
    session.room = instance(Room, room)
    session.topic = instance(Topic, topic)
    session.series = instance(SessionSeries, series)
    session.created_by = instance(User, created_by)
    return session


def _participants(rows):
    participants, marks = [], {}
    for row in rows:
        p = instance(Participant, row["row"])
        p.patient = instance(Patient, row["patient"])
        mark = instance(Attendance, row["mark"])
        if mark is not None:
            mark.recorded_by = instance(User, row["recorded_by"])
        p.mark = mark
        marks[p.patient_id] = mark
        participants.append(p)
    return participants, marks


def _revisions(rows):
    revisions = {}
    for row in rows:
        rev = instance(AttendanceRevision, row["row"])
        rev.recorded_by = instance(User, row["recorded_by"])
        rev.changed_by = instance(User, row["changed_by"])
        revisions.setdefault(rev.attendance_id, []).append(rev)
    return revisions


def session_detail_page(*, pk, user, errors=None, values=None):
    """The session page's session, roster (attendance.session_roster's dict)
    and context (scheduling.session_page's dict), or None when there is no such
    session. One query (a family session's page reads its patient's sponsors
    too, as before)."""
    row = fetch_row(SESSION_PAGE_SQL, {"session": pk})
    if row is None:
        return None
    (page,) = row
    session = _session(
        page["session"], page["room"], page["topic"], page["series"], page["created_by"]
    )
    participants, marks = _participants(page["participants"])
    roster = attendance_selectors.roster_from(
        session=session,
        user=user,
        clinic_settings=instance(ClinicSettings, page["settings"])
        or ClinicSettings(pk=1),
        participants=participants,
        marks=marks,
        revisions=_revisions(page["revisions"]),
        errors=errors,
        values=values,
    )
    context = scheduling_selectors.session_page(
        session=session,
        participants=participants,
        family_members=[instance(FamilyMember, m) for m in page["family"]],
        facilitators=[instance(User, u) for u in page["facilitators"]],
    )
    return {"session": session, "roster": roster, "context": context}
