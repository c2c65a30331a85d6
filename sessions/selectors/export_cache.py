"""The CSV exports from kept days: each clinic day's rows are written once, kept
in PostgreSQL (core.models.ExportChunk) and used again until a write could have
changed them.

A first statement (KEPT_SQL) returns every day of the range when every day is
kept and current (its stamp read in that statement). Else one statement
(CHUNKED_SQL) does it all, in one snapshot, and its answer is the whole export
(the first answer is dropped, so that the export never mixes two snapshots):

1. For each day of the range, its stamp: the sum of core_exportstamp.writes over
   the UTC hours that overlap the day's bounds, plus the rows with no hour (changes
   that show on every day).
2. The kept days whose stamp and variant are the current ones.
3. The other days (missing or stale) written from the tables, all in one pass:
   the export's own query (EXPORT_SQL / DAILY_SQL, the reports written from the
   tables that tests/sessions/reference.py holds as the tests' reference) with each
   row put in the day whose bounds hold its session's start, the fields written by
   core_csv_field as COPY ... CSV writes them.
4. Those days kept (INSERT ... ON CONFLICT: a kept day is replaced only by one with
   a higher stamp or another variant), unless older than two years or more than a
   year ahead; days and write counts older than that are dropped.
5. The days' bodies, in day order; the caller writes the header first.

Why a kept day is never stale when used. The triggers of core migration 0004 add
to the count of every hour whose rows a statement inserts, updates or deletes
(sessions: the old and the new start, so a move counts on both days; participants,
marks, facilitators: their session's start), and to the every-hour count when a
patient's record number or name or a user's name changes, in the writing
transaction itself. A count row belongs to one transaction (its xact); nobody else
writes it, and its total only shows to others when that transaction commits; rows
are never lowered or deleted while their days can be kept (a savepoint rolled back
lowers its own transaction's count, but takes back the writes, and the days kept,
since it). So for a given day the
stamp, as seen by successive snapshots, only grows, and it grows with every
committed (or, inside a transaction, every executed) write to the day's rows. A
day is written from the same snapshot in which its stamp is read (one statement),
so the body is exactly the day as of that stamp. A later reader whose snapshot
shows the same stamp sees no write to the day that the writer's snapshot did not:
the body is still the day. A writer that had not committed when the day was
written adds at least one to the count when it commits, so the kept day no longer
matches and is written again. Two writers in any order, a writer and readers, or a
reader inside a writing transaction (its own writes count as it makes them) are
all covered; nothing is locked by writers beyond their own count rows, which no
other transaction touches, so writers never wait on each other or on readers.
Two readers storing the same day: the second waits for the first's statement,
then replaces the day only if its stamp is higher (an older one would not match
the current count anyway). The statement's output is read whole before the
response streams, so its transaction (autocommit) holds those locks only for the
statement, not during a slow download.

Not covered: writes that fire no trigger (TRUNCATE, session_replication_role =
replica); whoever does that must delete the ExportChunk rows too.

Which day a row belongs to: the day whose bounds (core.timeutil.day_bounds, the
clinic's zone, as the export written from the tables uses for the whole range)
hold its session's start. The days' bounds meet, so the days' rows are the range's
rows, in the same order; the date written in each row is the export's own
to_char(... AT TIME ZONE), and the daily report's lines (per patient per written
date) are grouped within a day as over the range, a date's sessions all starting
within its day's bounds. Participants, marks and facilitators are found by their
copy of the session's start (kept by the sessions triggers), as the export written
from the tables finds them.
The variant is a digest of the query's text and of the parameters that are not
rows (zone, labels, daily target): a change of any of them is another variant.
"""

import datetime
import hashlib
import json

from core.timeutil import clinic_today, day_bounds, years_before

# Days before this many years ago, or after this many days ahead, are written for
# each export and not kept.
KEEP_YEARS = 2
KEEP_DAYS_AHEAD = 366

# The days of the range with their stamps, and the kept days that are current.
DAYS_SQL = """
WITH days AS MATERIALIZED (
    SELECT d.day, d.lo, d.hi,
           d.day >= %(keep_since)s AND d.day <= %(keep_until)s AS keep,
           (SELECT COALESCE(SUM(st.writes), 0)
              FROM core_exportstamp st
             WHERE st.hour IS NULL
                OR (st.hour >= date_trunc('hour', d.lo, 'UTC') AND st.hour < d.hi)
           ) AS stamp
    FROM unnest(%(days)s::date[], %(los)s::timestamptz[], %(his)s::timestamptz[])
         AS d (day, lo, hi)
), kept AS MATERIALIZED (
    SELECT days.day, c.body
    FROM days
    JOIN core_exportchunk c ON c.report = %(report)s AND c.day = days.day
    WHERE days.keep AND c.variant = %(variant)s AND c.stamp = days.stamp
)"""

# The first try: every day's body if every day is kept and current, else nothing.
KEPT_SQL = """{days}
SELECT body FROM kept
WHERE (SELECT COUNT(*) FROM kept) = (SELECT COUNT(*) FROM days)
ORDER BY day
""".replace("{days}", DAYS_SQL)

# Else, in one statement: the current kept days, the others written from the
# tables and kept, every day's body in day order.
CHUNKED_SQL = """{days}, missing AS MATERIALIZED (
    SELECT days.day, days.lo, days.hi, days.keep, days.stamp
    FROM days
    WHERE NOT EXISTS (SELECT 1 FROM kept WHERE kept.day = days.day)
), span AS (
    SELECT MIN(lo) AS lo, MAX(hi) AS hi FROM missing
), {rows}, fresh AS MATERIALIZED (
    SELECT missing.day, missing.keep, missing.stamp,
           convert_to(COALESCE(written.body, ''), 'UTF8') AS body
    FROM missing
    LEFT JOIN written ON written.day = missing.day
), stored AS (
    INSERT INTO core_exportchunk AS c (report, day, variant, stamp, body)
    SELECT %(report)s, fresh.day, %(variant)s, fresh.stamp, fresh.body
    FROM fresh
    WHERE fresh.keep
    ORDER BY fresh.day
    ON CONFLICT (report, day) DO UPDATE
        SET variant = EXCLUDED.variant, stamp = EXCLUDED.stamp, body = EXCLUDED.body
        WHERE c.stamp < EXCLUDED.stamp OR c.variant <> EXCLUDED.variant
), dropped_days AS (
    DELETE FROM core_exportchunk WHERE report = %(report)s AND day < %(keep_since)s
), dropped_counts AS (
    DELETE FROM core_exportstamp WHERE hour < %(counts_since)s
)
SELECT body FROM (
    SELECT day, body FROM kept
    UNION ALL
    SELECT day, body FROM fresh
) AS b
ORDER BY day
""".replace("{days}", DAYS_SQL)


def chunked_sql(rows):
    """CHUNKED_SQL with the report's `written` CTE: (day, body) of each missing
    day that has rows, its lines in the export's order. `span` holds the bounds
    from the first missing day to the last, for range scans over all of them."""
    return CHUNKED_SQL.replace("{rows}", rows)


def variant(sql, params):
    """The digest of what a day's CSV depends on besides the rows."""
    fixed = {k: v for k, v in params.items() if k not in _RANGE_PARAMS}
    data = json.dumps([sql, fixed], sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


_RANGE_PARAMS = {
    "days",
    "los",
    "his",
    "keep_since",
    "keep_until",
    "counts_since",
    "variant",
}


def range_params(start, end, today=None):
    """The days from `start` to `end` (local dates, inclusive) with their bounds,
    and the keeping horizon."""
    days, los, his = [], [], []
    day = start
    while day <= end:
        lo, hi = day_bounds(day)
        days.append(day)
        los.append(lo)
        his.append(hi)
        day += datetime.timedelta(days=1)
    today = today or clinic_today()
    keep_since = years_before(today, KEEP_YEARS)
    # Counts are dropped only well before the first day that can be kept (its
    # first hour starts at most a day before its date).
    counts_since = datetime.datetime.combine(
        keep_since - datetime.timedelta(days=2), datetime.time.min, datetime.UTC
    )
    return {
        "days": days,
        "los": los,
        "his": his,
        "keep_since": keep_since,
        "keep_until": today + datetime.timedelta(days=KEEP_DAYS_AHEAD),
        "counts_since": counts_since,
    }


# EXPORT_SQL (tests/sessions/reference.py) for the missing days: each session's
# fields once per session, each participant's line written as COPY ... CSV would
# (the dates and numbers, never NULL nor holding a comma, quote or line break, as
# they are; the texts through core_csv_field), the lines of a day joined in the
# export's order. The facilitators are read over the span from the first missing
# day to the last (one range scan, not one per day).
SESSIONS_ROWS = """
fac AS MATERIALIZED (
    SELECT sf.session_id,
           STRING_AGG(u.full_name, '; ' ORDER BY sf.id) AS names
    FROM therapy_sessions_sessionfacilitator sf
    JOIN accounts_user u ON u.id = sf.user_id
    WHERE sf.start >= (SELECT lo FROM span) AND sf.start < (SELECT hi FROM span)
    GROUP BY sf.session_id
), sess AS MATERIALIZED (
    SELECT m.day AS chunk, m.lo, m.hi, s.id, s.start,
           to_char(s.start AT TIME ZONE %(tz)s, 'YYYY-MM-DD') AS day,
           NULLIF(COALESCE(%(kinds)s::jsonb ->> s.kind, s.kind), '') AS kind,
           NULLIF(COALESCE(%(modalities)s::jsonb ->> s.modality, s.modality), '')
               AS modality,
           NULLIF(fac.names, '') AS facilitators,
           ROUND(EXTRACT(EPOCH FROM (s."end" - s.start)) / 60)::int AS scheduled
    FROM missing m
    JOIN therapy_sessions_therapysession s
         ON s.start >= m.lo AND s.start < m.hi AND s.status <> 'cancelled'
    LEFT JOIN fac ON fac.session_id = s.id
), lines AS (
    SELECT sess.chunk, sess.start, sess.id, pt.record_number,
           sess.day, NULLIF(pt.record_number, '') AS shown_record_number,
           sess.kind, sess.modality, sess.facilitators, sess.scheduled,
           COALESCE(a.minutes, 0) AS attended,
           COALESCE(a.status, 'unmarked') AS status
    FROM sess
    JOIN therapy_sessions_participant p ON p.session_id = sess.id
    JOIN patients_patient pt ON pt.id = p.patient_id
    LEFT JOIN therapy_sessions_attendance a
           ON a.session_id = p.session_id AND a.patient_id = p.patient_id
    WHERE p.start >= sess.lo AND p.start < sess.hi
      AND p.start >= (SELECT lo FROM span) AND p.start < (SELECT hi FROM span)
), written AS (
    SELECT chunk AS day,
           STRING_AGG(
               concat_ws(
                   ',',
                   day,
                   core_csv_field(shown_record_number),
                   core_csv_field(kind),
                   core_csv_field(modality),
                   core_csv_field(facilitators),
                   scheduled::text,
                   attended::text,
                   core_csv_field(status)
               ) || E'\\r\\n',
               '' ORDER BY start, id, record_number
           ) AS body
    FROM lines
    GROUP BY chunk
)"""

# DAILY_SQL (tests/sessions/reference.py) for the missing days: one line per
# patient per local date, grouped within the day that holds the sessions' starts.
DAILY_ROWS = """
dsess AS MATERIALIZED (
    SELECT m.day AS chunk, m.lo, m.hi, s.id, s.start
    FROM missing m
    JOIN therapy_sessions_therapysession s
         ON s.start >= m.lo AND s.start < m.hi AND s.status <> 'cancelled'
), per_patient AS (
    SELECT dsess.chunk,
           to_char(dsess.start AT TIME ZONE %(tz)s, 'YYYY-MM-DD') AS label,
           pt.record_number,
           NULLIF(pt.last_name, '') AS last_name,
           NULLIF(pt.first_name, '') AS first_name,
           COUNT(*) AS sessions,
           COUNT(*) FILTER (
               WHERE a.status IN ('present', 'late', 'left_early')
           ) AS sessions_attended,
           COALESCE(SUM(a.minutes), 0) AS total_minutes
    FROM dsess
    JOIN therapy_sessions_participant p ON p.session_id = dsess.id
    JOIN patients_patient pt ON pt.id = p.patient_id
    LEFT JOIN therapy_sessions_attendance a
           ON a.session_id = p.session_id AND a.patient_id = p.patient_id
    WHERE p.start >= dsess.lo AND p.start < dsess.hi
      AND p.start >= (SELECT lo FROM span) AND p.start < (SELECT hi FROM span)
    GROUP BY dsess.chunk, 2, pt.id
), written AS (
    SELECT chunk AS day,
           STRING_AGG(
               concat_ws(
                   ',',
                   label,
                   core_csv_field(NULLIF(record_number, '')),
                   core_csv_field(last_name),
                   core_csv_field(first_name),
                   sessions::text,
                   sessions_attended::text,
                   total_minutes::text,
                   CASE WHEN total_minutes >= %(target)s THEN 'yes' ELSE 'no' END
               ) || E'\\r\\n',
               '' ORDER BY label, record_number
           ) AS body
    FROM per_patient
    GROUP BY chunk
)"""
