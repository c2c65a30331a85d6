"""The reads the tests hold the application's faster ones to; the application
does not run them.

The ORM reads that pages of sessions had before each was read with one SQL
statement: the session page (sessions.selectors.session_page.session_detail_page;
tests/sessions/test_session_page_sql.py).

The CSV exports written from the tables, nothing kept: the reports the exports
from kept days (sessions.selectors.export_cache) must give byte for byte
(tests/sessions/test_export_cache.py).

The staff dashboard's sessions with attendance to take, read with the ORM
(core.selectors.staff_dashboard; tests/core/test_dashboard_sql.py)."""

import contextlib

from django.db import connection
from django.db.models import Count, F, Func, IntegerField, OuterRef, Subquery
from django.utils import timezone

from core.timeutil import span_bounds
from sessions.models import Participant, TherapySession
from sessions.selectors.attendance import (
    DAILY_HEADER,
    EXPORT_HEADER,
    _as_query,
    _daily_params,
    _export_params,
    _unmarked_by_session,
    session_roster,
)
from sessions.selectors.scheduling import session_detail, session_page


def session_detail_page_orm(*, pk, user, errors=None, values=None):
    """The tests' reference for sessions.selectors.session_page.session_detail_page:
    the same read with the ORM selectors the page had (six queries)."""
    try:
        session = session_detail(pk)
    except TherapySession.DoesNotExist:
        return None
    roster = session_roster(session=session, user=user, errors=errors, values=values)
    context = session_page(session=session, participants=roster["participants"])
    return {"session": session, "roster": roster, "context": context}


# The CSV reports are written by PostgreSQL (COPY ... TO STDOUT WITH CSV) and
# streamed as they come: no Python per row. Each query returns text in the CSV's
# dialect: ISO dates, display labels, and NULL for an empty text (an empty CSV
# field; COPY would write an empty string as "").
#
# Each session's own fields (date, kind, modality, facilitators, length: the
# costly ones, a date format and a time zone each) are worked out once per
# session, not once per patient (about 4,000 sessions against 16,000 rows in the
# large clinic's month), and the facilitators aggregated once, before the join.
# Sessions are chosen by their start: a participant's start is its session's
# (copied by the participant_copy_session_times trigger).
EXPORT_SQL = """
WITH fac AS MATERIALIZED (
    SELECT sf.session_id,
           STRING_AGG(u.full_name, '; ' ORDER BY sf.id) AS names
    FROM therapy_sessions_sessionfacilitator sf
    JOIN accounts_user u ON u.id = sf.user_id
    WHERE sf.start >= %(lo)s AND sf.start < %(hi)s
    GROUP BY sf.session_id
), sess AS MATERIALIZED (
    SELECT s.id, s.start,
           to_char(s.start AT TIME ZONE %(tz)s, 'YYYY-MM-DD') AS day,
           NULLIF(COALESCE(%(kinds)s::jsonb ->> s.kind, s.kind), '') AS kind,
           NULLIF(COALESCE(%(modalities)s::jsonb ->> s.modality, s.modality), '')
               AS modality,
           NULLIF(fac.names, '') AS facilitators,
           ROUND(EXTRACT(EPOCH FROM (s."end" - s.start)) / 60)::int AS scheduled
    FROM therapy_sessions_therapysession s
    LEFT JOIN fac ON fac.session_id = s.id
    WHERE s.start >= %(lo)s AND s.start < %(hi)s AND s.status <> 'cancelled'
)
SELECT sess.day,
       NULLIF(pt.record_number, '') AS record_number,
       sess.kind,
       sess.modality,
       sess.facilitators,
       sess.scheduled,
       COALESCE(a.minutes, 0) AS attended,
       COALESCE(a.status, 'unmarked') AS status
FROM sess
JOIN therapy_sessions_participant p ON p.session_id = sess.id
JOIN patients_patient pt ON pt.id = p.patient_id
LEFT JOIN therapy_sessions_attendance a
       ON a.session_id = p.session_id AND a.patient_id = p.patient_id
WHERE p.start >= %(lo)s AND p.start < %(hi)s
ORDER BY sess.start, sess.id, pt.record_number
"""


DAILY_SQL = """
SELECT to_char(s.start AT TIME ZONE %(tz)s, 'YYYY-MM-DD') AS day,
       NULLIF(pt.record_number, '') AS record_number,
       NULLIF(pt.last_name, '') AS last_name,
       NULLIF(pt.first_name, '') AS first_name,
       COUNT(*) AS sessions,
       COUNT(*) FILTER (
           WHERE a.status IN ('present', 'late', 'left_early')
       ) AS sessions_attended,
       COALESCE(SUM(a.minutes), 0) AS total_minutes,
       CASE WHEN COALESCE(SUM(a.minutes), 0) >= %(target)s THEN 'yes' ELSE 'no' END
           AS met_target
FROM therapy_sessions_participant p
JOIN therapy_sessions_therapysession s ON s.id = p.session_id
JOIN patients_patient pt ON pt.id = p.patient_id
LEFT JOIN therapy_sessions_attendance a
       ON a.session_id = p.session_id AND a.patient_id = p.patient_id
WHERE p.start >= %(lo)s AND p.start < %(hi)s AND s.status <> 'cancelled'
GROUP BY 1, pt.id
ORDER BY 1, pt.record_number
"""


def _bounds(start, end):
    lo, hi = span_bounds(start, end)
    return {"lo": lo, "hi": hi}


def _copy_csv(sql, params, header, rows_per_chunk=2000):
    """The CSV of `sql`'s rows, header first, as chunks of bytes: what Python's
    csv.writer writes (a field quoted only when it holds a comma, a double quote
    or a line break, quotes doubled inside; rows end in CRLF), written by
    PostgreSQL. COPY sends one message per row ending in LF, made CRLF here. The
    query counts once; its time runs until the first row, which comes when the
    query has run (the sort is done)."""
    yield (",".join(header) + "\r\n").encode()
    copy_sql = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        contextlib.ExitStack() as stack,
    ):

        def start(sql, params, many, context):
            copy = stack.enter_context(cursor.cursor.copy(sql, params))
            return copy, copy.read()

        copy, row = _as_query(cursor, copy_sql, params, start)
        chunk = []
        while row:
            chunk.append(row[:-1])  # the row without its LF
            if len(chunk) == rows_per_chunk:
                chunk.append(b"")
                yield b"\r\n".join(chunk)
                chunk = []
            row = copy.read()
        if chunk:
            chunk.append(b"")
            yield b"\r\n".join(chunk)


def attendance_export_fresh_csv(*, start, end):
    """The tests' reference for sessions.selectors.attendance.attendance_export_csv:
    the report written from the tables (EXPORT_SQL), nothing kept."""
    params = {**_export_params(), **_bounds(start, end)}
    return _copy_csv(EXPORT_SQL, params, EXPORT_HEADER)


def daily_summary_fresh_csv(*, start, end):
    """The tests' reference for sessions.selectors.attendance.daily_summary_csv:
    the report written from the tables (DAILY_SQL), nothing kept."""
    params = {**_daily_params(), **_bounds(start, end)}
    return _copy_csv(DAILY_SQL, params, DAILY_HEADER)


def unmarked_sessions(*, now=None, limit=20):
    """The tests' reference for the staff dashboard's sessions with attendance to
    take (core.selectors.staff_dashboard): ended, not cancelled sessions where
    some expected patient has no mark yet, the `limit` most recent, each with
    `unmarked_count` and how many such sessions there are in all (`total`). One
    query: the sessions of the first `limit` groups of unmarked participations,
    with their counts as subqueries."""
    now = now or timezone.now()
    unmarked = Participant.objects.filter(end__lte=now, active=True, marked=False)
    first = _unmarked_by_session(now).values_list("session_id", flat=True)[:limit]
    per_session = (
        unmarked.filter(session=OuterRef("pk"))
        .order_by()
        .values("session")
        .annotate(n=Count("id"))
        .values("n")
    )
    sessions_in_all = unmarked.order_by().values(
        n=Func(
            F("session_id"),
            template="COUNT(DISTINCT %(expressions)s)",
            output_field=IntegerField(),
        )
    )
    return list(
        TherapySession.objects.filter(pk__in=first)
        .select_related("topic", "room")
        .annotate(unmarked_count=Subquery(per_session), total=Subquery(sessions_in_all))
        .order_by("-end", "-id")
    )
