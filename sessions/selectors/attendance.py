"""Reads about attendance: the roster, hours against targets, compliance, rule
flags, the staff to-do list and exports. Each costs a fixed number of queries.

Days and weeks are the clinic's (CLINIC_TIME_ZONE, weeks from Monday). A session
counts on the local day it starts: a group from 22:30 to 01:30 is one day's
service, as it would be billed."""

import contextlib
import datetime
import functools
import json
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import (
    Count,
    FilteredRelation,
    Q,
    Sum,
)
from django.db.models.base import ModelState
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.roles import ADMIN, STAFF, has_role
from core import htmlrows
from core.db import prepared_cursor
from core.models import ClinicSettings
from core.timeutil import (
    clinic_today,
    clinic_zone,
    day_bounds,
    span_bounds,
    week_start,
    years_before,
)
from patients.models import Patient
from sessions.models import (
    KIND_LABELS,
    MODALITY_LABELS,
    Attendance,
    AttendanceRevision,
    FlagReview,
    Participant,
    SessionFacilitator,
    TherapySession,
)
from sessions.selectors import export_cache
from sessions.services.attendance import (
    attendance_opens_at,
    correction_deadline,
    correction_window_closed,
)

Status = Attendance.Status
ATTENDED = (Status.PRESENT, Status.LATE, Status.LEFT_EARLY)
IN_PROGRAM = (Patient.Status.ADMITTED, Patient.Status.ON_HOLD)
DAY = datetime.timedelta(days=1)
WEEK = datetime.timedelta(days=7)


# When a doctor's review of a flag stops standing: an unexcused absence of the
# patient's follows it, one for a session that started after the review or one
# recorded after it (a mark entered late, or corrected to a no-show, for an
# earlier session: the doctor did not see it). The SQL test for an unexcused
# mark `mark` (its session's start in the column `start`) and a review `review`;
# every statement that asks whether a review stands uses it.
def follows_review(mark, review, start="session_start"):
    return (
        f"({mark}.{start} > {review}.reviewed_at"
        f" OR {mark}.recorded_at > {review}.reviewed_at)"
    )


def is_minor_on(patient, day):
    return patient.date_of_birth > years_before(day, 18)


def weekly_target(patient, monday, clinic_settings):
    """Minutes a week the patient should get: under 18 on the week's Monday uses
    the adolescent target."""
    if is_minor_on(patient, monday):
        return clinic_settings.weekly_target_minutes_minor
    return clinic_settings.weekly_target_minutes_adult


def hours(minutes):
    return round((minutes or 0) / 60, 1)


# --- The roster --------------------------------------------------------------


@dataclass
class RosterRow:
    patient: Patient
    attendance: Attendance | None
    revisions: list = field(default_factory=list)
    error: str = ""
    values: dict = field(default_factory=dict)

    @property
    def marked(self):
        return self.attendance is not None

    @property
    def pid(self):
        """The patient's id for the row's element ids and forms (as text: a
        number in a template goes through localization, a dozen times a row)."""
        return str(self.patient.pk)

    # What the row's forms show: a refused submission's values, else the mark.
    @property
    def selected_status(self):
        return self.values.get("status") or (
            self.attendance.status if self.attendance else ""
        )

    @property
    def value_minutes(self):
        return self.values.get("minutes") or ""

    @property
    def value_note(self):
        return self.values.get("note") or ""

    @property
    def value_reason(self):
        return self.values.get("reason") or ""


# The one-tap buttons of an unmarked row: the statuses, two of them shortened.
ROSTER_BUTTONS = [
    (value, {Status.EXCUSED: "Excused", Status.UNEXCUSED: "No-show"}.get(value, label))
    for value, label in Status.choices
]


def session_roster(*, session, user, errors=None, values=None):
    """Everyone expected at a session with their mark (if any) and its history.

    `errors` / `values` ({patient_id: ...}) carry a refused submission back into
    its row. Three queries whatever the number of patients and marks: the
    settings, the participants with their marks (one join), the corrections.
    The participant rows are returned too (`participants`), for the session
    page."""
    clinic_settings = ClinicSettings.read()
    participants = list(
        Participant.objects.filter(session=session)
        .annotate(
            mark=FilteredRelation(
                "patient__attendance",
                condition=Q(patient__attendance__session=session),
            )
        )
        .select_related("patient", "mark__recorded_by")
        .order_by("patient__last_name", "patient__first_name", "patient_id")
    )
    marks = {p.patient_id: getattr(p, "mark", None) for p in participants}
    revisions = {}
    for rev in AttendanceRevision.objects.filter(
        attendance__session=session
    ).select_related("recorded_by", "changed_by"):
        revisions.setdefault(rev.attendance_id, []).append(rev)
    return roster_from(
        session=session,
        user=user,
        clinic_settings=clinic_settings,
        participants=participants,
        marks=marks,
        revisions=revisions,
        errors=errors,
        values=values,
    )


def roster_from(
    *,
    session,
    user,
    clinic_settings,
    participants,
    marks,
    revisions,
    errors=None,
    values=None,
):
    """session_roster from the rows already read: the participants (with their
    patients, by name), {patient_id: attendance or None} and {attendance_id:
    [revisions, newest first]}. No query."""
    errors = errors or {}
    values = values or {}
    rows = []
    for p in participants:
        att = marks.get(p.patient_id)
        rows.append(
            RosterRow(
                patient=p.patient,
                attendance=att,
                revisions=revisions.get(att.pk, []) if att else [],
                error=errors.get(p.patient_id, ""),
                values=values.get(p.patient_id, {}),
            )
        )
    now = timezone.now()
    can_record = has_role(user, STAFF, ADMIN)
    is_admin = has_role(user, ADMIN)
    window_closed = correction_window_closed(session, clinic_settings)
    cancelled = session.status == TherapySession.Status.CANCELLED
    is_open = not cancelled and now >= attendance_opens_at(session)
    unmarked = sum(1 for r in rows if not r.marked)
    return {
        "session": session,
        "participants": participants,
        "rows": rows,
        "unmarked_count": unmarked,
        "marked_count": len(rows) - unmarked,
        "can_record": can_record and is_open,
        "can_correct": can_record and is_open and (is_admin or not window_closed),
        "window_closed": window_closed,
        "correction_deadline": correction_deadline(session, clinic_settings),
        "correction_window_days": clinic_settings.correction_window_days,
        "is_open": is_open,
        "cancelled": cancelled,
        "opens_at": attendance_opens_at(session),
        "statuses": Status.choices,
        "status_buttons": ROSTER_BUTTONS,
        "session_minutes": session.minutes,
        "minutes_max": str(session.minutes),
    }


# --- Hours -------------------------------------------------------------------


def local_date(expr="session__start"):
    return TruncDate(expr, tzinfo=clinic_zone())


def daily_minutes(*, start_day, end_day, patient_ids=None):
    """{(patient_id, local day): attended minutes} for days start_day..end_day."""
    lo, hi = span_bounds(start_day, end_day)
    qs = Attendance.objects.filter(session__start__gte=lo, session__start__lt=hi)
    if patient_ids is not None:
        qs = qs.filter(patient_id__in=patient_ids)
    rows = (
        qs.annotate(day=local_date())
        .values("patient_id", "day")
        .annotate(total=Sum("minutes"))
        .order_by()
    )
    return {(r["patient_id"], r["day"]): r["total"] for r in rows}


# One patient's marks (m) with their session's start. The start is looked up per
# mark by primary key, and OFFSET 0 keeps the planner from turning that into a
# join, which scans every session of the period (or, with a LIMIT, every session).
PATIENT_DAILY_MINUTES_SQL = """
SELECT (m.start AT TIME ZONE %(tz)s)::date AS day, SUM(m.minutes)
FROM (
    SELECT a.minutes,
           (SELECT s.start FROM therapy_sessions_therapysession s
            WHERE s.id = a.session_id) AS start
    FROM therapy_sessions_attendance a
    WHERE a.patient_id = %(patient)s
    OFFSET 0
) m
WHERE m.start >= %(lo)s AND m.start < %(hi)s
GROUP BY 1
"""

# The latest marks, newest first, each with the number of unexcused absences
# between lo and hi among all of the patient's marks.
PATIENT_LATEST_MARKS_SQL = """
WITH rev AS (
    SELECT r.reviewed_at, r.note, u.full_name, u.email
    FROM therapy_sessions_flagreview r
    JOIN {users} u ON u.id = r.reviewed_by_id
    WHERE r.patient_id = %(patient)s
    ORDER BY r.reviewed_at DESC, r.id DESC
    LIMIT 1
)
SELECT m.status,
       COUNT(*) FILTER (
           WHERE m.status = %(unexcused)s AND m.start >= %(lo)s AND m.start <= %(hi)s
       ) OVER () AS recent,
       COUNT(*) FILTER (
           WHERE m.status = %(unexcused)s AND {follows_review}
       ) OVER () AS since_review,
       rev.reviewed_at, rev.note, rev.full_name, rev.email
FROM (
    SELECT a.id,
           a.status,
           a.recorded_at,
           (SELECT s.start FROM therapy_sessions_therapysession s
            WHERE s.id = a.session_id) AS start
    FROM therapy_sessions_attendance a
    WHERE a.patient_id = %(patient)s
    OFFSET 0
) m
LEFT JOIN rev ON true
ORDER BY m.start DESC, m.id DESC
LIMIT %(limit)s
"""


def _rows(sql, params, *, prepared=False):
    """The rows of a plain-SQL read; with `prepared`, through prepared_cursor
    (planned once per connection: see core/db.py)."""
    with prepared_cursor() if prepared else connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _patient_daily_minutes(*, patient, start_day, end_day):
    """{local day: attended minutes} of one patient for days start_day..end_day
    (one query)."""
    lo, hi = span_bounds(start_day, end_day)
    params = {"tz": str(clinic_zone()), "patient": patient.pk, "lo": lo, "hi": hi}
    return dict(_rows(PATIENT_DAILY_MINUTES_SQL, params))


def patient_hours(*, patient, weeks=12, today=None, clinic_settings=None):
    """Hours week by week (and day by day) for the last `weeks` weeks, with the
    targets. Two queries (settings, unless given, and the minutes)."""
    clinic_settings = clinic_settings or ClinicSettings.read()
    today = today or clinic_today()
    first_monday, last_sunday = hours_span(today, weeks)
    per_day = _patient_daily_minutes(
        patient=patient, start_day=first_monday, end_day=last_sunday
    )
    return patient_hours_from(
        patient=patient,
        per_day=per_day,
        weeks=weeks,
        today=today,
        clinic_settings=clinic_settings,
    )


def hours_span(today, weeks=12):
    """The first Monday and the last Sunday of the `weeks` weeks ending with
    today's."""
    this_monday = week_start(today)
    return this_monday - WEEK * (weeks - 1), this_monday + 6 * DAY


def patient_hours_from(*, patient, per_day, weeks, today, clinic_settings):
    """patient_hours from the minutes already read ({local day: minutes}, as
    _patient_daily_minutes gives them for hours_span). No query."""
    this_monday = week_start(today)
    first_monday = this_monday - WEEK * (weeks - 1)
    daily_target = clinic_settings.daily_target_minutes
    months = htmlrows.month_names()  # the labels' "M j", looked up once
    rows = []
    for i in range(weeks):
        monday = first_monday + WEEK * i
        days = []
        for d in range(7):
            day = monday + d * DAY
            minutes = per_day.get(day, 0)
            met = minutes >= daily_target
            future = day > today
            days.append(
                {
                    "day": day,
                    "minutes": minutes,
                    "hours": hours(minutes),
                    "met": met,
                    "future": future,
                    # What the table's cell shows (muted when nothing attended).
                    "cell": _day_cell(minutes, met, future),
                }
            )
        total = sum(d["minutes"] for d in days)
        target = weekly_target(patient, monday, clinic_settings)
        outside = not total and (
            patient.admitted_on is None
            or monday + 6 * DAY < patient.admitted_on
            or (patient.discharged_on is not None and monday > patient.discharged_on)
        )
        rows.append(
            {
                "monday": monday,
                "label": f"{months[monday.month]} {monday.day}",
                "sunday": monday + 6 * DAY,
                "days": days,
                "minutes": total,
                "hours": hours(total),
                "target_minutes": target,
                "target_hours": hours(target),
                "met": total >= target,
                "outside": outside,
                "current": monday == this_monday,
                "iop_days": sum(1 for d in days if d["minutes"] > 0),
                "days_met": sum(1 for d in days if d["met"]),
            }
        )
    return {
        "patient": patient,
        "weeks": rows,
        "daily_target_hours": hours(daily_target),
        "chart": hours_chart(rows),
        "this_week": rows[-1],
        "last_week": rows[-2] if len(rows) > 1 else None,
    }


def _day_cell(minutes, met, future):
    if minutes:
        return f"{hours(minutes)} ✓" if met else str(hours(minutes))
    return "·" if future else "0"


def _svg(number):
    """An SVG coordinate: never localized (a decimal comma would break it)."""
    return str(number)


def hours_chart(rows, width=640, height=220):
    """Coordinates for a server-rendered SVG bar chart of weekly hours, as the
    strings the SVG takes."""
    left, right, top, bottom = 40, 10, 10, 40
    plot_w = width - left - right
    plot_h = height - top - bottom
    peak = max(
        [r["minutes"] for r in rows] + [r["target_minutes"] for r in rows] + [60]
    )
    scale_max = ((peak + 179) // 180) * 180  # round up to 3 hours
    slot = plot_w / max(len(rows), 1)
    bar_w = slot * 0.6

    def y(minutes):
        return _svg(round(top + plot_h - plot_h * minutes / scale_max, 1))

    bars = []
    for i, r in enumerate(rows):
        x = round(left + slot * i + (slot - bar_w) / 2, 1)
        monday = r["monday"]
        bars.append(
            {
                "x": _svg(x),
                "y": y(r["minutes"]),
                "w": _svg(round(bar_w, 1)),
                "h": _svg(round(plot_h * r["minutes"] / scale_max, 1)),
                "label_x": _svg(round(x + bar_w / 2, 1)),
                "label": r["label"],
                "short_label": f"{monday.month}/{monday.day}",
                "hours": r["hours"],
                "met": r["met"],
                "target_y": y(r["target_minutes"]),
                "target_x1": _svg(round(left + slot * i, 1)),
                "target_x2": _svg(round(left + slot * (i + 1), 1)),
            }
        )
    ticks = [{"y": y(m), "label": m // 60} for m in range(0, scale_max + 1, 180)]
    return {
        "width": _svg(width),
        "height": _svg(height),
        "left": _svg(left),
        "tick_label_x": _svg(left - 6),
        "right": _svg(width - right),
        "top": _svg(top),
        "baseline": _svg(top + plot_h),
        "label_y": _svg(top + plot_h + 16),
        "bars": bars,
        "ticks": ticks,
    }


# --- Compliance ----------------------------------------------------------------

# The compliance page and the doctor's dashboard are read with plain SQL: one
# statement per list returns the page's rows with their patient, the names the
# rows show, and the count, instead of compiling querysets on every request and
# fetching the page's patients by a second query.

# The patient columns a row carries, in the order of Patient's concrete fields
# (as Patient.from_db takes them); reading any other field loads it.
_ROW_PATIENT_FIELDS = [
    f
    for f in Patient._meta.concrete_fields
    if f.attname
    in {
        "id",
        "record_number",
        "first_name",
        "last_name",
        "preferred_name",
        "date_of_birth",
        "status",
        "admitted_on",
        "discharged_on",
        "track_id",
        "primary_counselor_id",
        "attending_doctor_id",
    }
]


def _row_patient_columns(table):
    return ", ".join(f'{table}."{f.column}"' for f in _ROW_PATIENT_FIELDS)


_ROW_PATIENT_ATTNAMES = [f.attname for f in _ROW_PATIENT_FIELDS]
_User = FlagReview.reviewed_by.field.related_model
_TABLES = {
    "users": _User._meta.db_table,
    "tracks": Patient.track.field.related_model._meta.db_table,
}


def _row_patient(values, alias):
    """The Patient of a row from its patient columns (see _ROW_PATIENT_FIELDS),
    as Patient.from_db makes it with the other fields deferred, without going
    through Model.__init__ for each field (17 µs a row here, 1 µs this way: a
    page of 50 rows on each list; core.jsonrows.loaded, with its checks for
    init signal receivers, costs three times this). `alias`: the connection's,
    looked up once for the page (each lookup goes through the connection
    handler's thread-local)."""
    patient = Patient.__new__(Patient)
    state = patient._state = ModelState()
    state.adding, state.db = False, alias
    patient.__dict__.update(zip(_ROW_PATIENT_ATTNAMES, values, strict=True))
    return patient


def _order_by(columns, table):
    return ", ".join(f"{table}.{column}" for column in columns)


# The page of a list held in the CTE "{list}", `limit` rows from `offset`, each
# row with the length of the whole list (counted in the same pass: the list is
# computed once and not kept for a second and third scan). A page past the end
# has no rows, hence no count: _page_rows then reads the last page.
PAGE_SQL = """
    SELECT *, COUNT(*) OVER () AS count
    FROM {list}
    ORDER BY {order}
    LIMIT %(limit)s
    OFFSET %(offset)s
"""


def _page_params(page, per_page):
    """(page number, page size or None for every row, the SQL parameters)."""
    number = page_number(page) if page is not None else 1
    size = per_page if page is not None else None
    return number, size, {"limit": size, "offset": (number - 1) * (size or 0)}


def _page_rows(sql, params, *, number, size, count_at):
    """(rows, page number) of the page of a PAGE_SQL statement asked for by
    `params` (page `number` of `size` rows); past the end, those of the last page
    (two statements more: the first row gives the count). `count_at`: the index
    of the count column in a row."""
    found = _rows(sql, params, prepared=True)
    if found or number == 1 or size is None:
        return found, number
    first = _rows(sql, {**params, "limit": 1, "offset": 0}, prepared=True)
    if not first:
        return [], 1
    last = (first[0][count_at] - 1) // size + 1
    params = {**params, "offset": (last - 1) * size}
    return _rows(sql, params, prepared=True), last


# The statuses the page statements write as literals (see COMPLIANCE_SQL): each
# statement's text is formatted with these, the models' own values.
STATUS_LITERALS = {
    "admitted": Patient.Status.ADMITTED,
    "on_hold": Patient.Status.ON_HOLD,
    "scheduled": TherapySession.Status.SCHEDULED,
    "unexcused": Status.UNEXCUSED,
}

COMPLIANCE_PAGE_SIZE = 50
COMPLIANCE_ORDERS = {
    "name": ("last_name", "first_name", "id"),
    "shortfall": ("shortfall DESC", "last_name", "first_name", "id"),
}

# One row per admitted patient with the minutes of the two weeks and the minutes
# still ahead this week. Both are read from WeeklyMinutes, kept by triggers (two
# index lookups per patient): the minutes attended, and the seconds of unmarked
# bookings of the week, less those that ended already (still unmarked: the
# partial index of unmarked participants by end) and those not ended of
# sessions not scheduled (mostly cancelled ones to come: the partial index
# session_unscheduled_end), instead of every booking of the week summed (about
# 2,000 on a weekday at the large clinic). While the weekly minutes are kept in
# another zone than the setting's (see sessions/summaries.py), the marks and the
# bookings are summed instead: the planner keeps one of the two ways. Statuses
# are written in the text as literals (formatted from STATUS_LITERALS, the
# models' values) so that a plan kept for the connection still matches the
# partial indexes.
COMPLIANCE_SQL = """
WITH hours AS (
    SELECT p.id, p.last_name, p.first_name,
           COALESCE(wl.minutes, 0) + COALESCE(c.last, 0) AS last,
           COALESCE(wt.minutes, 0) + COALESCE(c.this, 0) AS this,
           ROUND(
               ((COALESCE(wt.unmarked_seconds, 0) + COALESCE(c.ahead, 0)) / 60)::float8
           ) AS ahead,
           CASE WHEN p.date_of_birth > %(last_cut)s
                THEN %(minor)s ELSE %(adult)s END AS last_target,
           CASE WHEN p.date_of_birth > %(this_cut)s
                THEN %(minor)s ELSE %(adult)s END AS this_target
    FROM patients_patient p
    LEFT JOIN therapy_sessions_weeklyminutes wl
           ON wl.week = %(last_monday)s AND wl.patient_id = p.id
          AND therapy_sessions_clinic_zone() = %(tz)s
    LEFT JOIN therapy_sessions_weeklyminutes wt
           ON wt.week = %(this_monday)s AND wt.patient_id = p.id
          AND therapy_sessions_clinic_zone() = %(tz)s
    -- what to add to the weekly minutes (or, in another zone, instead of them)
    LEFT JOIN (
        SELECT patient_id, SUM(last) AS last, SUM(this) AS this, SUM(s) AS ahead
        FROM (
            -- unmarked bookings already ended
            SELECT pt.patient_id, 0 AS last, 0 AS this,
                   -EXTRACT(EPOCH FROM (pt."end" - pt.start)) AS s
            FROM therapy_sessions_participant pt
            WHERE pt.active AND NOT pt.marked
              AND pt."end" > %(this_lo)s AND pt."end" <= %(now)s
              AND pt.start >= %(this_lo)s AND pt.start < %(next_lo)s
              AND therapy_sessions_clinic_zone() = %(tz)s
            UNION ALL
            -- unmarked bookings not ended of sessions not scheduled
            SELECT pt.patient_id, 0, 0, -pt.s
            FROM therapy_sessions_therapysession s
            -- each session's participants by key (OFFSET 0: not a scan of
            -- every unmarked booking to come)
            CROSS JOIN LATERAL (
                SELECT pt.patient_id, EXTRACT(EPOCH FROM (pt."end" - pt.start)) AS s
                FROM therapy_sessions_participant pt
                WHERE pt.session_id = s.id
                  AND pt.active AND NOT pt.marked AND pt."end" > %(now)s
                  AND pt.start >= %(this_lo)s AND pt.start < %(next_lo)s
                OFFSET 0
            ) pt
            WHERE s.start >= %(this_lo)s AND s.start < %(next_lo)s
              AND s."end" > %(now)s AND s.status <> '{scheduled}'
              AND therapy_sessions_clinic_zone() = %(tz)s
            UNION ALL
            -- in another zone: the marks of the two weeks
            SELECT a.patient_id,
                   CASE WHEN a.session_start < %(this_lo)s THEN a.minutes ELSE 0 END,
                   CASE WHEN a.session_start >= %(this_lo)s THEN a.minutes ELSE 0 END,
                   0
            FROM therapy_sessions_attendance a
            WHERE a.session_start >= %(last_lo)s AND a.session_start < %(next_lo)s
              AND therapy_sessions_clinic_zone() <> %(tz)s
            UNION ALL
            -- in another zone: the sessions still ahead
            SELECT pt.patient_id, 0, 0, EXTRACT(EPOCH FROM (pt."end" - pt.start))
            FROM therapy_sessions_participant pt
            WHERE pt.start >= %(this_lo)s AND pt.start < %(next_lo)s
              AND pt."end" > %(now)s AND pt.active AND NOT pt.marked
              -- the same, in the terms of the index behind participant_no_overlap
              AND TSTZRANGE(pt.start, pt."end")
                  && TSTZRANGE(LEAST(%(now)s, %(next_lo)s), %(next_lo)s)
              AND pt.session_id NOT IN (
                  SELECT s.id FROM therapy_sessions_therapysession s
                  WHERE s.start >= %(this_lo)s AND s.start < %(next_lo)s
                    AND s.status <> '{scheduled}'
              )
              AND therapy_sessions_clinic_zone() <> %(tz)s
        ) c
        GROUP BY patient_id
    ) c ON c.patient_id = p.id
    WHERE p.status = '{admitted}' {doctor}
), listed AS (
    SELECT *,
           GREATEST(last_target - last, 0)
           + GREATEST(this_target - this - ahead, 0) AS shortfall
    FROM hours
    WHERE %(all)s OR last < last_target OR this + ahead < this_target
)
SELECT h.last, h.this, h.ahead, h.count, t.name, u.full_name, {patient}
FROM ({page}) h
-- the page's patients by key (OFFSET 0: not a join over every patient)
CROSS JOIN LATERAL (
    SELECT * FROM patients_patient p WHERE p.id = h.id OFFSET 0
) p
LEFT JOIN {tracks} t ON t.id = p.track_id
LEFT JOIN {users} u ON u.id = p.primary_counselor_id
ORDER BY {outer_order}
"""


MAX_PAGE = 10**6  # further than any list goes (a number past the end shows the last)


def page_number(value):
    """A page number from a query string: 1 unless a whole number of at least 1."""
    try:
        return min(max(int(value), 1), MAX_PAGE)
    except (TypeError, ValueError):
        return 1


def _page(count, number, per_page):
    """A Django Page over `count` items for the page navigation (the rows
    themselves are fetched by the selector), clamped to the last page."""
    return Paginator(range(count), per_page).get_page(number)


def compliance(
    *,
    today=None,
    doctor=None,
    below_only=True,
    order="name",
    page=None,
    per_page=COMPLIANCE_PAGE_SIZE,
    clinic_settings=None,
):
    """Admitted patients with their hours last week and this week against their
    targets. Last week is complete; this week counts the hours attended so far plus
    the sessions still ahead, so that a patient is listed for this week only when
    the schedule can no longer reach the target. By default only patients below
    target in either week.

    `order` is "name" or "shortfall" (most hours short over the two weeks first).
    With `page` (a number), one page of `per_page` rows and `page_obj` for the
    navigation; without, every row. `count` is the number of patients listed.
    Each row has its patient (the fields the lists show; others load when read)
    with the names of the patient's `track` and `counselor`.

    Two queries whatever the clinic's size: the settings (unless given), and one
    statement (prepared on the connection) that reads the two weeks' minutes and
    the week's unmarked bookings (WeeklyMinutes) for every admitted patient, and
    returns the page's rows with their patients and the count."""
    clinic_settings = clinic_settings or ClinicSettings.read()
    today = today or clinic_today()
    now = timezone.now()
    this_monday = week_start(today)
    last_monday = this_monday - WEEK
    last_lo, _ = day_bounds(last_monday)
    this_lo, _ = day_bounds(this_monday)
    next_lo, _ = day_bounds(this_monday + WEEK)
    adult = clinic_settings.weekly_target_minutes_adult
    minor = clinic_settings.weekly_target_minutes_minor
    this_cut = years_before(this_monday, 18)
    last_cut = years_before(last_monday, 18)

    order = order if order in COMPLIANCE_ORDERS else "name"
    number, size, params = _page_params(page, per_page)
    params.update(
        this_cut=this_cut,
        last_cut=last_cut,
        minor=minor,
        adult=adult,
        doctor=doctor.pk if doctor is not None else None,
        tz=str(clinic_zone()),
        last_monday=last_monday,
        this_monday=this_monday,
        last_lo=last_lo,
        this_lo=this_lo,
        next_lo=next_lo,
        now=now,
        all=not below_only,
    )
    sql = COMPLIANCE_SQL.format(
        doctor="AND p.attending_doctor_id = %(doctor)s" if doctor is not None else "",
        page=PAGE_SQL.format(
            list="listed", order=_order_by(COMPLIANCE_ORDERS[order], "listed")
        ),
        outer_order=_order_by(COMPLIANCE_ORDERS[order], "h"),
        patient=_row_patient_columns("p"),
        **_TABLES,
        **STATUS_LITERALS,
    )
    found, number = _page_rows(sql, params, number=number, size=size, count_at=3)
    count = found[0][3] if found else 0
    rows = []
    alias = connection.alias
    for last_min, this_min, ahead, _, track, counselor, *patient in found:
        p = _row_patient(patient, alias)
        this_target = minor if p.date_of_birth > this_cut else adult
        last_target = minor if p.date_of_birth > last_cut else adult
        rows.append(
            {
                "patient": p,
                "track": track,
                "counselor": counselor,
                "this_week_hours": hours(this_min),
                "last_week_hours": hours(last_min),
                "this_week_target_hours": hours(this_target),
                "last_week_target_hours": hours(last_target),
                "this_week_remaining_hours": hours(ahead),
                "this_week_below": this_min + ahead < this_target,
                "last_week_below": last_min < last_target,
                "admitted_last_week": p.admitted_on is not None
                and p.admitted_on > last_monday,
                "minor": p.date_of_birth > this_cut,
            }
        )
    return {
        "rows": rows,
        "count": count,
        "page_obj": _page(count, number, size) if size else None,
        "order": order,
        "this_monday": this_monday,
        "last_monday": last_monday,
        "today": today,
        "settings": clinic_settings,
        "adult_target_hours": hours(adult),
        "minor_target_hours": hours(minor),
        "daily_target_hours": hours(clinic_settings.daily_target_minutes),
    }


# --- Attendance rules (flags for the doctor's review) -----------------------------

RUN_LOOKBACK = 8  # how far past the rule a run of no-shows is counted

# Both rules in one statement (prepared on the connection), with the page's
# rows, their patients and the count. Absences: unexcused marks within the
# window, per patient (the partial index of no-shows; each patient's count is
# carried with them, not joined back). Run of no-shows: kept per patient by
# triggers (NoShowRun), counted here up to the cap. The patients who break
# either rule are then looked up and kept if in the program (admitted or on
# hold). A flag stands reviewed while no unexcused absence follows a review of
# the patient's (see NOT_REVIEWED_SQL); such patients are left out unless
# `include_reviewed`, which brings each row's latest standing review.
FLAGS_SQL = """
WITH broken AS (
    SELECT patient_id, MAX(n) AS n
    FROM (
        SELECT a.patient_id, COUNT(*) AS n
        FROM therapy_sessions_attendance a
        WHERE a.status = '{unexcused}'
          AND a.session_start >= %(window_start)s AND a.session_start <= %(now)s
        GROUP BY a.patient_id
        HAVING COUNT(*) >= %(count_rule)s
        UNION ALL
        SELECT patient_id, 0 FROM therapy_sessions_noshowrun WHERE run >= %(run_rule)s
    ) rules
    GROUP BY patient_id
), flagged AS (
    SELECT {patient},
           b.n AS absences,
           CASE WHEN r.run >= %(run_rule)s THEN LEAST(r.run, %(cap)s) ELSE 0 END
             AS run
    FROM broken b
    JOIN patients_patient p ON p.id = b.patient_id
    LEFT JOIN therapy_sessions_noshowrun r ON r.patient_id = p.id
    WHERE p.status IN ('{admitted}', '{on_hold}') {filter}
)
SELECT f.absences, f.run, f.count, d.full_name, {review_columns}, {f_patient}
FROM ({page}) f
LEFT JOIN {users} d ON d.id = f.attending_doctor_id
{review_join}
ORDER BY {outer_order}
"""

# A review `fr` stands while no unexcused absence follows it (follows_review).
_REVIEW_STANDS_SQL = """NOT EXISTS (
    SELECT 1 FROM therapy_sessions_attendance a
    WHERE a.patient_id = fr.patient_id AND a.status = '{unexcused}'
      AND {follows_review}
)"""
# Without reviewed flags, patients with a standing review are left out; with
# them, each row has its latest standing review (columns NULL otherwise).
# (The OR keeps the planner from turning the test into an anti-join, which it
# plans worse here: the test is hashed once instead.)
_NOT_REVIEWED_SQL = """
      AND (%(include_reviewed)s OR NOT EXISTS (
          SELECT 1 FROM therapy_sessions_flagreview fr
          WHERE fr.patient_id = p.id AND {review_stands}
      ))"""
REVIEW_COLUMNS_SQL = (
    "rv.id, rv.reviewed_at, rv.note, rv.reviewed_by_id, rv.full_name, rv.email"
)
NO_REVIEW_COLUMNS_SQL = "NULL, NULL, NULL, NULL, NULL, NULL"
_REVIEW_JOIN_SQL = """
LEFT JOIN LATERAL (
    SELECT fr.id, fr.reviewed_at, fr.note, fr.reviewed_by_id, u.full_name, u.email
    FROM therapy_sessions_flagreview fr
    JOIN {users} u ON u.id = fr.reviewed_by_id
    WHERE fr.patient_id = f.id AND {review_stands}
    ORDER BY fr.reviewed_at DESC, fr.id DESC
    LIMIT 1
) rv ON true"""
_review_stands = _REVIEW_STANDS_SQL.format(
    follows_review=follows_review("a", "fr"), **STATUS_LITERALS
)
NOT_REVIEWED_SQL = _NOT_REVIEWED_SQL.format(review_stands=_review_stands)
REVIEW_JOIN_SQL = _REVIEW_JOIN_SQL.format(review_stands=_review_stands, **_TABLES)

FLAGGED_PAGE_SIZE = 50
FLAGGED_ORDERS = {
    "name": ("last_name", "first_name", "id"),
    # the longest run of no-shows first, then the most unexcused absences
    "urgency": ("run DESC", "absences DESC", "last_name", "first_name", "id"),
}


def _flag_rows(
    *,
    clinic_settings,
    now,
    doctor=None,
    patient=None,
    include_reviewed=False,
    order="name",
    page=None,
    per_page=FLAGGED_PAGE_SIZE,
):
    """(rows, count, page number, page size or None) of the patients in the
    program (admitted or on hold; `doctor`'s only, or only `patient`) who break
    an attendance rule. Each row: (patient, attending doctor's name, unexcused
    absences within the window, run of no-shows, standing review or None); each
    number is 0 when its rule is not broken (the run is counted up to
    `consecutive_noshow_rule + RUN_LOOKBACK`). One query.

    The run of no-shows is the patient's latest marks (by session start, then
    id) that are unexcused absences, back to the first mark that is not one."""
    run_rule = clinic_settings.consecutive_noshow_rule
    number, size, params = _page_params(page, per_page)
    params.update(
        cap=run_rule + RUN_LOOKBACK,
        run_rule=run_rule,
        window_start=now - datetime.timedelta(days=clinic_settings.absence_rule_days),
        now=now,
        count_rule=clinic_settings.absence_rule_count,
        doctor=doctor.pk if doctor is not None else None,
        patient=patient.pk if patient is not None else None,
        include_reviewed=include_reviewed,
    )
    filters = []
    if doctor is not None:
        filters.append("AND p.attending_doctor_id = %(doctor)s")
    if patient is not None:
        filters.append("AND p.id = %(patient)s")
    if not include_reviewed:
        filters.append(NOT_REVIEWED_SQL)
    sql = FLAGS_SQL.format(
        filter=" ".join(filters),
        review_columns=REVIEW_COLUMNS_SQL
        if include_reviewed
        else NO_REVIEW_COLUMNS_SQL,
        review_join=REVIEW_JOIN_SQL if include_reviewed else "",
        page=PAGE_SQL.format(
            list="flagged", order=_order_by(FLAGGED_ORDERS[order], "flagged")
        ),
        outer_order=_order_by(FLAGGED_ORDERS[order], "f"),
        patient=_row_patient_columns("p"),
        f_patient=_row_patient_columns("f"),
        **_TABLES,
        **STATUS_LITERALS,
    )
    found, number = _page_rows(sql, params, number=number, size=size, count_at=2)
    rows = []
    alias = connection.alias
    for row in found:
        absences, run, _, doctor_name = row[:4]
        review_id, reviewed_at, note, reviewed_by_id, full_name, email = row[4:10]
        p = _row_patient(row[10:], alias)
        review = None
        if review_id is not None:
            review = FlagReview(
                id=review_id,
                patient_id=p.pk,
                reviewed_by_id=reviewed_by_id,
                reviewed_at=reviewed_at,
                note=note,
            )
            review.reviewed_by = _User(
                id=reviewed_by_id, full_name=full_name, email=email
            )
        rows.append((p, doctor_name, absences, run, review))
    return rows, (found[0][2] if found else 0), number, size


def _reasons(absences, run, clinic_settings):
    reasons = []
    if absences:
        reasons.append(
            f"{absences} unexcused absences in the last "
            f"{clinic_settings.absence_rule_days} days"
        )
    if run:
        more = (
            ""
            if run < clinic_settings.consecutive_noshow_rule + RUN_LOOKBACK
            else " or more"
        )
        reasons.append(f"{run}{more} no-shows in a row")
    return reasons


def flagged_page(
    *,
    doctor=None,
    now=None,
    order="name",
    page=None,
    per_page=FLAGGED_PAGE_SIZE,
    clinic_settings=None,
    include_reviewed=False,
):
    """Patients who break an attendance rule: N unexcused absences within D days,
    or K consecutive no-shows. Derived from attendance (the runs of no-shows
    through NoShowRun, which triggers keep): a correction clears the flag.
    `order` is "name" or "urgency". With `page`, one page of `per_page` rows and
    `page_obj`; without, every row. Each row has its patient (the fields the
    lists show; others load when read) and the attending `doctor`'s name. Two
    queries whatever the clinic's size (the settings, unless given, and the
    rules with the page's patients and the count).

    A flag a doctor reviewed is left out until an unexcused absence follows the
    review: one for a session starting after it, or one recorded after it (a
    late or corrected mark for an earlier session). With `include_reviewed`, such
    patients are listed too, each row with its standing `review` (in the same
    query)."""
    clinic_settings = clinic_settings or ClinicSettings.read()
    order = order if order in FLAGGED_ORDERS else "name"
    found, count, number, size = _flag_rows(
        clinic_settings=clinic_settings,
        now=now or timezone.now(),
        doctor=doctor,
        include_reviewed=include_reviewed,
        order=order,
        page=page,
        per_page=per_page,
    )
    return {
        "rows": [
            {
                "patient": patient,
                "doctor": doctor_name,
                "reasons": _reasons(absences, run, clinic_settings),
                "review": review,
            }
            for patient, doctor_name, absences, run, review in found
        ],
        "count": count,
        "page_obj": _page(count, number, size) if size else None,
        "order": order,
        "settings": clinic_settings,
        "include_reviewed": include_reviewed,
    }


def flagged_patients(*, doctor=None, now=None):
    """Every patient who breaks an attendance rule and has no standing review,
    by name (see flagged_page)."""
    return flagged_page(doctor=doctor, now=now)["rows"]


def compliance_overview(
    *,
    doctor=None,
    order="name",
    page=1,
    flagged_order="name",
    flagged_page_number=1,
    include_reviewed=False,
):
    """The compliance page: one page of the patients below target and one page of
    the flagged patients, each with its count. Three queries whatever the
    clinic's size."""
    clinic_settings = ClinicSettings.read()
    data = compliance(
        doctor=doctor, order=order, page=page, clinic_settings=clinic_settings
    )
    data["flagged"] = flagged_page(
        doctor=doctor,
        order=flagged_order,
        page=flagged_page_number,
        clinic_settings=clinic_settings,
        include_reviewed=include_reviewed,
    )
    return data


def patient_flags(*, patient, now=None):
    """The rule flags of one patient (a list of reasons; empty when none), read
    as the flagged list reads them, reviewed or not (patient_flag_state reads
    them for the patient page in its own way)."""
    clinic_settings = ClinicSettings.read()
    rows, *_ = _flag_rows(
        clinic_settings=clinic_settings,
        now=now or timezone.now(),
        patient=patient,
        include_reviewed=True,
    )
    return [
        reason
        for _, _, absences, run, _ in rows
        for reason in _reasons(absences, run, clinic_settings)
    ]


# --- Staff to-do: ended sessions with patients still unmarked ----------------------


def _unmarked_by_session(now):
    """Ended, not cancelled sessions with active, unmarked participations, most
    recent first: (session_id, n) values. Reads the partial index of unmarked
    participations (Participant.marked is kept by triggers), not every past one."""
    return (
        Participant.objects.filter(end__lte=now, active=True, marked=False)
        .values("session_id", "end")
        .annotate(n=Count("id"))
        .order_by("-end", "-session_id")
    )


def _sessions_with_counts(rows):
    """The sessions of `rows` (dicts with session_id and n), in that order, each
    with `unmarked_count`. One query (none when there is nothing to show)."""
    by_id = (
        TherapySession.objects.select_related("topic", "room").in_bulk(
            [row["session_id"] for row in rows]
        )
        if rows
        else {}
    )
    sessions = []
    for row in rows:
        session = by_id[row["session_id"]]
        session.unmarked_count = row["n"]
        sessions.append(session)
    return sessions


def unmarked_sessions_page(*, page_number=1, per_page=20, now=None):
    """One page of every ended session with patients still unmarked, however old,
    each with `unmarked_count`, and the total (`page.paginator.count`). Three
    queries: the count, the page, the sessions. A page number out of range or not
    a number gives the nearest page."""
    page = Paginator(_unmarked_by_session(now or timezone.now()), per_page).get_page(
        page_number
    )
    page.object_list = _sessions_with_counts(list(page.object_list))
    return page


# --- The letter and exports --------------------------------------------------------


# The weekly targets (the clinic's settings, their defaults while the row was
# never saved, as ClinicSettings.read() gives them) and the patient's sessions in
# a range with the patient's mark, from the participant index on (patient,
# start): one row with NULL session fields when there is none. Each session is
# looked up by key: the OFFSET 0 keeps the lateral subquery a subquery, which
# PostgreSQL would otherwise turn into a join that scans and hashes the whole
# sessions table for a hundred rows.
LETTER_SESSIONS_SQL = """
WITH program AS (
    SELECT COALESCE(MAX(weekly_target_minutes_adult), %(target_adult)s) AS adult,
           COALESCE(MAX(weekly_target_minutes_minor), %(target_minor)s) AS minor
    FROM core_clinicsettings
    WHERE id = 1
)
SELECT program.adult, program.minor,
       rows.start, rows."end", rows.kind, rows.modality, rows.status, rows.minutes
FROM program
LEFT JOIN LATERAL (
    SELECT s.id, s.start, s."end", s.kind, s.modality, a.status, a.minutes
    FROM therapy_sessions_participant p
    CROSS JOIN LATERAL (
        SELECT s.id, s.start, s."end", s.kind, s.modality, s.status
        FROM therapy_sessions_therapysession s
        WHERE s.id = p.session_id
        OFFSET 0
    ) s
    LEFT JOIN therapy_sessions_attendance a
           ON a.session_id = p.session_id AND a.patient_id = p.patient_id
    WHERE p.patient_id = %(patient)s AND p.start >= %(lo)s AND p.start < %(hi)s
      AND s.status <> %(cancelled)s
) rows ON true
ORDER BY rows.start, rows.id
"""


class _WeeklyTargets(NamedTuple):
    """The settings weekly_target() reads."""

    weekly_target_minutes_adult: int
    weekly_target_minutes_minor: int


@functools.cache
def _target_defaults():
    """The weekly targets a fresh ClinicSettings row would have."""
    fields = ClinicSettings._meta
    return {
        "target_adult": fields.get_field("weekly_target_minutes_adult").get_default(),
        "target_minor": fields.get_field("weekly_target_minutes_minor").get_default(),
    }


def attendance_letter_data(*, patient, start, end):
    """Everything the attendance letter shows for `patient` between two local
    dates (inclusive). One query (LETTER_SESSIONS_SQL): the weekly targets, and
    the patient's sessions in the range with the patient's marks."""
    rows = _rows(
        LETTER_SESSIONS_SQL, letter_params(patient=patient.pk, start=start, end=end)
    )
    return letter_data(patient=patient, start=start, end=end, rows=rows)


def letter_params(*, patient, start, end):
    """LETTER_SESSIONS_SQL's parameters for a patient's id and two local dates."""
    lo, hi = span_bounds(start, end)
    return {
        "patient": patient,
        "lo": lo,
        "hi": hi,
        "cancelled": TherapySession.Status.CANCELLED.value,
        **_target_defaults(),
    }


def letter_data(*, patient, start, end, rows):
    """attendance_letter_data from LETTER_SESSIONS_SQL's rows (read by it, or
    with the patient by sessions.pdf's one statement)."""
    clinic_settings = _WeeklyTargets(*rows[0][:2])
    rows = [row[2:] for row in rows if row[2] is not None]
    kinds, modalities = KIND_LABELS, MODALITY_LABELS
    labels = dict(Status.choices)
    zone = clinic_zone()
    now = timezone.now()
    sessions = []
    counts = {s: 0 for s in Status.values}
    counts["unmarked"] = counts["upcoming"] = 0
    per_week = {}
    for s_start, s_end, kind, modality, status, marked_minutes in rows:
        if status is not None:
            state, label, minutes = status, labels.get(status, status), marked_minutes
        elif s_start > now:
            state, label, minutes = "upcoming", "Scheduled", 0
        else:
            state, label, minutes = "unmarked", "Not recorded", 0
        counts[state] += 1
        local_start = s_start.astimezone(zone)
        day = local_start.date()
        monday = week_start(day)
        per_week[monday] = per_week.get(monday, 0) + minutes
        sessions.append(
            {
                "day": day,
                "start": local_start,
                "end": s_end.astimezone(zone),
                "kind": kinds.get(kind, kind),
                "modality": modalities.get(modality, modality),
                "scheduled_minutes": int((s_end - s_start).total_seconds() // 60),
                "minutes": minutes,
                "status": label,
                "state": state,
            }
        )
    weeks = []
    monday = week_start(start)
    while monday <= end:
        target = weekly_target(patient, monday, clinic_settings)
        minutes = per_week.get(monday, 0)
        weeks.append(
            {
                "monday": monday,
                "sunday": monday + 6 * DAY,
                "minutes": minutes,
                "hours": hours(minutes),
                "target_hours": hours(target),
                "met": minutes >= target,
                "partial": monday < start or monday + 6 * DAY > end,
            }
        )
        monday += WEEK
    attended = sum(counts[s] for s in ATTENDED)
    past = attended + counts[Status.EXCUSED] + counts[Status.UNEXCUSED]
    total_minutes = sum(s["minutes"] for s in sessions)
    return {
        "patient": patient,
        "start": start,
        "end": end,
        "sessions": sessions,
        "weeks": weeks,
        "counts": counts,
        "scheduled": len(sessions),
        "attended": attended,
        "recorded": past,
        "rate": round(100 * attended / past) if past else None,
        "total_hours": hours(total_minutes),
        "weeks_met": sum(1 for w in weeks if w["met"] and not w["partial"]),
        "full_weeks": sum(1 for w in weeks if not w["partial"]),
    }


# The CSV reports' header rows. Their lines are written by PostgreSQL, a clinic
# day at a time, and kept (sessions.selectors.export_cache): no Python per row.
# tests/sessions/reference.py holds the reports written from the tables in one
# COPY each (EXPORT_SQL, DAILY_SQL), the reference the tests compare them with.
EXPORT_HEADER = (
    "date",
    "record_number",
    "session_kind",
    "modality",
    "facilitator",
    "scheduled_minutes",
    "attended_minutes",
    "status",
)

DAILY_HEADER = (
    "date",
    "record_number",
    "last_name",
    "first_name",
    "sessions_scheduled",
    "sessions_attended",
    "minutes_attended",
    "met_daily_target",
)


def _as_query(cursor, sql, params, run):
    """Call `run(sql, params, many, context)` as Django runs a query: through the
    connection's execute wrappers and into its query log when that is on, so that
    a COPY (which cursor.execute() can't run) is counted and timed like any
    other query."""
    context = {"connection": connection, "cursor": cursor}
    for wrapper in reversed(connection.execute_wrappers):
        run = functools.partial(wrapper, run)
    began = time.monotonic()
    try:
        return run(sql, params, False, context)
    finally:
        if connection.queries_logged:
            connection.queries_log.append(
                {"sql": sql, "time": f"{time.monotonic() - began:.3f}"}
            )


def _copy_days(sql, params):
    """The body of each day `sql` (an export_cache query) returns, as bytes. The
    statement runs as a COPY in binary format: each day arrives as its raw
    bytes, nothing to unquote or decode. Its output is read whole, so that its
    transaction, which holds the kept days it wrote, ends before the response
    streams."""
    copy_sql = f"COPY ({sql}) TO STDOUT WITH (FORMAT binary)"
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        contextlib.ExitStack() as stack,
    ):

        def start(sql, params, many, context):
            copy = stack.enter_context(cursor.cursor.copy(sql, params))
            copy.set_types(["bytea"])
            return copy, copy.read_row()

        copy, row = _as_query(cursor, copy_sql, params, start)
        bodies = []
        while row is not None:
            bodies.append(row[0])
            row = copy.read_row()
    return bodies


def _export_params():
    return {
        "tz": str(clinic_zone()),
        "kinds": json.dumps(KIND_LABELS),
        "modalities": json.dumps(MODALITY_LABELS),
    }


def _kept_days_csv(report, rows_sql, params, header, start, end):
    """The report from kept days (sessions.selectors.export_cache), header first:
    one query when every day is kept and current, else two (the second writes
    the missing days and gives every day)."""
    sql = export_cache.chunked_sql(rows_sql)
    params = {**params, "report": report}
    params["variant"] = export_cache.variant(sql, params)
    params.update(export_cache.range_params(start, end))
    bodies = _copy_days(export_cache.KEPT_SQL, params)
    if len(bodies) != len(params["days"]):
        bodies = _copy_days(sql, params)
    return [(",".join(header) + "\r\n").encode(), *filter(None, bodies)]


def attendance_export_csv(*, start, end):
    """The sessions CSV between two local dates, as chunks of bytes: one row per
    patient per session (date, record number, kind, modality, facilitators,
    scheduled minutes, attended minutes, status); "unmarked" when there is no
    mark yet. Cancelled sessions are left out. The days kept since their last
    change are read (one query); when one is missing or stale, a second query
    writes (and keeps) those and gives every day: the same bytes as the report
    written from the tables (tests/sessions/reference.py:
    attendance_export_fresh_csv)."""
    params = _export_params()
    return _kept_days_csv(
        "sessions", export_cache.SESSIONS_ROWS, params, EXPORT_HEADER, start, end
    )


def _daily_params():
    target = ClinicSettings.read().daily_target_minutes
    return {"tz": str(clinic_zone()), "target": target}


def daily_summary_csv(*, start, end):
    """The per-diem billing CSV between two local dates, as chunks of bytes: one
    row per patient per local day with a scheduled session (date, record number,
    last name, first name, sessions scheduled, sessions attended, minutes
    attended, "yes"/"no" daily target met). The settings, then the report from
    kept days as attendance_export_csv (two queries, three when a day is written):
    the same bytes as the report written from the tables
    (tests/sessions/reference.py: daily_summary_fresh_csv)."""
    params = _daily_params()
    return _kept_days_csv(
        "daily", export_cache.DAILY_ROWS, params, DAILY_HEADER, start, end
    )


def _patient_flag_state(*, patient, clinic_settings, now):
    """The rule flags of one patient, worded by _reasons as in the flagged list,
    and the patient's latest flag review, in one query: the patient's
    latest marks (enough to count the run of no-shows), each carrying the
    number of unexcused absences in the window and the latest review with the
    number of unexcused absences that follow it (for sessions starting after
    it, or recorded after it).

    {"reasons": [...], "review": None or {"at", "note", "doctor", "standing"}};
    a review is `standing` while no such absence follows it."""
    run_rule = clinic_settings.consecutive_noshow_rule
    params = {
        "patient": patient.pk,
        "unexcused": Status.UNEXCUSED.value,
        "lo": now - datetime.timedelta(days=clinic_settings.absence_rule_days),
        "hi": now,
        "limit": run_rule + RUN_LOOKBACK,
    }
    sql = PATIENT_LATEST_MARKS_SQL.format(
        users=FlagReview.reviewed_by.field.related_model._meta.db_table,
        follows_review=follows_review("m", "rev", start="start"),
    )
    latest = list(_rows(sql, params))
    return flag_state_from(
        latest=latest, patient=patient, clinic_settings=clinic_settings
    )


def flag_state_from(*, latest, patient, clinic_settings):
    """_patient_flag_state from the rows of PATIENT_LATEST_MARKS_SQL already read
    (status, recent, since_review, reviewed_at, note, full_name, email). No
    query."""
    run_rule = clinic_settings.consecutive_noshow_rule
    if patient.status not in IN_PROGRAM:
        # read all the same: the page costs the same for everyone
        return {"reasons": [], "review": None}
    recent = latest[0][1] if latest else 0
    run = 0
    for status, *_ in latest:
        if status != Status.UNEXCUSED:
            break
        run += 1
    reasons = _reasons(
        recent if recent >= clinic_settings.absence_rule_count else 0,
        run if run >= run_rule else 0,
        clinic_settings,
    )
    review = None
    if reasons and latest[0][3] is not None:
        _, _, since_review, at, note, full_name, email = latest[0]
        review = {
            "at": at,
            "note": note,
            "doctor": full_name or email,
            "standing": since_review == 0,
        }
    return {"reasons": reasons, "review": review}


def patient_flag_state(*, patient, now=None):
    """The rule flags of one patient and its latest review (see
    _patient_flag_state). One query after the settings."""
    return _patient_flag_state(
        patient=patient,
        clinic_settings=ClinicSettings.read(),
        now=now or timezone.now(),
    )


def patient_hours_section(*, patient, weeks=12):
    """What the patient page's hours section shows: weekly hours with the chart,
    the rule flags, and default dates for the attendance letter. Three queries."""
    clinic_settings = ClinicSettings.read()
    data = patient_hours(patient=patient, weeks=weeks, clinic_settings=clinic_settings)
    flag_state = _patient_flag_state(
        patient=patient, clinic_settings=clinic_settings, now=timezone.now()
    )
    return hours_section_from(data=data, flag_state=flag_state, today=clinic_today())


def hours_section_from(*, data, flag_state, today):
    """patient_hours_section from patient_hours' result and the flag state."""
    data["flags"] = flag_state["reasons"]
    data["flag_review"] = flag_state["review"]
    data["letter_start"] = today - datetime.timedelta(days=30)
    data["letter_end"] = today
    return data


def session_signin_data(*, session):
    """The sign-in sheet: the session and its expected patients. Two queries."""
    participants = list(
        Participant.objects.filter(session=session)
        .select_related("patient")
        .order_by("patient__last_name", "patient__first_name", "patient_id")
    )
    facilitators = list(
        SessionFacilitator.objects.filter(session=session)
        .select_related("user")
        .order_by("id")
    )
    return {
        "session": session,
        "patients": [p.patient for p in participants],
        "facilitators": [f.user for f in facilitators],
    }
