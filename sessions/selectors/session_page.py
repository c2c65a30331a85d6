"""The session page's reads: the session, its facilitators, family members and
attendance roster in one SQL statement (the function
therapy_sessions_session_page, migration therapy_sessions 0008).

The page used to read them with six ORM queries (the session with its room,
topic, series and creator; the facilitators and the family members as
prefetches; the settings; the participants joined to their patients and marks;
the corrections). Building those querysets cost more Python than PostgreSQL
took to answer them. Here one statement returns each part as JSON (every row
whole, as `to_jsonb` writes it) and the rows become model instances again
(core.jsonrows), so that the roster's rules (attendance.roster_from) and the
template work on them as before. `session_detail_page_orm` is the ORM version
the tests hold it to.

The SQL is the function's (migration therapy_sessions 0008); its arguments are
bound parameters."""

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

# The read is the function therapy_sessions_session_page (migration
# therapy_sessions 0008): every part as one jsonb object, each row whole as
# to_jsonb writes it (users without their password hash). A function, so that
# PostgreSQL keeps its plan for the connection instead of planning it a request.
SESSION_PAGE_CALL = "SELECT therapy_sessions_session_page(%(session)s::bigint)"


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
    (page,) = fetch_row(SESSION_PAGE_CALL, {"session": pk})
    if page is None:
        return None
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


def session_detail_page_orm(*, pk, user, errors=None, values=None):
    """The same read as session_detail_page with the ORM selectors the page had
    (six queries); the reference the tests hold session_detail_page to."""
    try:
        session = scheduling_selectors.session_detail(pk)
    except TherapySession.DoesNotExist:
        return None
    roster = attendance_selectors.session_roster(
        session=session, user=user, errors=errors, values=values
    )
    context = scheduling_selectors.session_page(
        session=session, participants=roster["participants"]
    )
    return {"session": session, "roster": roster, "context": context}
