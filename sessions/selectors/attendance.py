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

from django.db import connection
from django.db.models import (
    Count,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    Func,
    OuterRef,
    Prefetch,
    Q,
    Sum,
    Window,
)
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from accounts.roles import ADMIN, STAFF, has_role
from core.models import ClinicSettings
from core.timeutil import clinic_today, clinic_zone, day_bounds, week_start
from patients.models import Patient
from sessions.models import (
    Attendance,
    AttendanceRevision,
    Kind,
    Modality,
    Participant,
    SessionFacilitator,
    TherapySession,
)
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
LONG_AGO = datetime.datetime(1900, 1, 1, tzinfo=datetime.UTC)


class Epoch(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def clinic_settings_read():
    """The clinic's settings for reading: one SELECT, never an INSERT (the defaults
    when the row was never saved), so that a page's query count is stable."""
    return ClinicSettings.objects.filter(pk=1).first() or ClinicSettings(pk=1)


def years_before(day, years):
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


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


def session_roster(*, session, user, errors=None, values=None):
    """Everyone expected at a session with their mark (if any) and its history.

    `errors` / `values` ({patient_id: ...}) carry a refused submission back into
    its row. Four queries whatever the number of patients."""
    errors = errors or {}
    values = values or {}
    clinic_settings = clinic_settings_read()
    participants = list(
        Participant.objects.filter(session=session)
        .select_related("patient")
        .order_by("patient__last_name", "patient__first_name", "patient_id")
    )
    marks = {
        a.patient_id: a
        for a in Attendance.objects.filter(session=session)
        .select_related("recorded_by")
        .prefetch_related(
            Prefetch(
                "revisions",
                queryset=AttendanceRevision.objects.select_related(
                    "recorded_by", "changed_by"
                ),
            )
        )
    }
    rows = []
    for p in participants:
        att = marks.get(p.patient_id)
        rows.append(
            RosterRow(
                patient=p.patient,
                attendance=att,
                revisions=list(att.revisions.all()) if att else [],
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
        "session_minutes": session.minutes,
    }


# --- Hours -------------------------------------------------------------------


def local_date(expr="session__start"):
    return TruncDate(expr, tzinfo=clinic_zone())


def daily_minutes(*, start_day, end_day, patient_ids=None):
    """{(patient_id, local day): attended minutes} for days start_day..end_day."""
    lo, _ = day_bounds(start_day)
    _, hi = day_bounds(end_day)
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


def patient_hours(*, patient, weeks=12, today=None):
    """Hours week by week (and day by day) for the last `weeks` weeks, with the
    targets. Two queries (settings and the minutes)."""
    clinic_settings = clinic_settings_read()
    today = today or clinic_today()
    this_monday = week_start(today)
    first_monday = this_monday - WEEK * (weeks - 1)
    per_day = daily_minutes(
        start_day=first_monday,
        end_day=this_monday + 6 * DAY,
        patient_ids=[patient.pk],
    )
    daily_target = clinic_settings.daily_target_minutes
    rows = []
    for i in range(weeks):
        monday = first_monday + WEEK * i
        days = []
        for d in range(7):
            day = monday + d * DAY
            minutes = per_day.get((patient.pk, day), 0)
            days.append(
                {
                    "day": day,
                    "minutes": minutes,
                    "hours": hours(minutes),
                    "met": minutes >= daily_target,
                    "future": day > today,
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


def hours_chart(rows, width=640, height=220):
    """Coordinates for a server-rendered SVG bar chart of weekly hours."""
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
        return round(top + plot_h - plot_h * minutes / scale_max, 1)

    bars = []
    for i, r in enumerate(rows):
        x = round(left + slot * i + (slot - bar_w) / 2, 1)
        bars.append(
            {
                "x": x,
                "y": y(r["minutes"]),
                "w": round(bar_w, 1),
                "h": round(plot_h * r["minutes"] / scale_max, 1),
                "label_x": round(x + bar_w / 2, 1),
                "label": r["monday"],
                "hours": r["hours"],
                "met": r["met"],
                "target_y": y(r["target_minutes"]),
                "target_x1": round(left + slot * i, 1),
                "target_x2": round(left + slot * (i + 1), 1),
            }
        )
    ticks = [{"y": y(m), "label": m // 60} for m in range(0, scale_max + 1, 180)]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "top": top,
        "baseline": top + plot_h,
        "label_y": top + plot_h + 16,
        "bars": bars,
        "ticks": ticks,
    }


# --- Compliance ----------------------------------------------------------------


def compliance(*, today=None, doctor=None, below_only=True):
    """Admitted patients with their hours last week and this week against their
    targets. Last week is complete; this week counts the hours attended so far plus
    the sessions still ahead, so that a patient is listed for this week only when
    the schedule can no longer reach the target. By default only patients below
    target in either week.

    Five queries whatever the clinic's size: the settings, the admitted patients'
    ids and birth dates, minutes per patient over the two weeks (one pass over
    the two weeks' sessions), minutes still scheduled, then the listed patients."""
    clinic_settings = clinic_settings_read()
    today = today or clinic_today()
    now = timezone.now()
    this_monday = week_start(today)
    last_monday = this_monday - WEEK
    last_lo, _ = day_bounds(last_monday)
    this_lo, _ = day_bounds(this_monday)
    next_lo, _ = day_bounds(this_monday + WEEK)

    admitted = Patient.objects.filter(status=Patient.Status.ADMITTED)
    if doctor is not None:
        admitted = admitted.filter(attending_doctor=doctor)
    people = list(admitted.values_list("pk", "date_of_birth", "admitted_on"))
    attended = {
        r["patient_id"]: r
        for r in Attendance.objects.filter(
            patient__in=admitted,
            session__start__gte=last_lo,
            session__start__lt=next_lo,
        )
        .values("patient_id")
        .annotate(
            last=Sum("minutes", filter=Q(session__start__lt=this_lo)),
            this=Sum("minutes", filter=Q(session__start__gte=this_lo)),
        )
        .order_by()
    }
    remaining = dict(
        Participant.objects.filter(
            patient__in=admitted,
            start__gte=this_lo,
            start__lt=next_lo,
            end__gt=now,
            session__status=TherapySession.Status.SCHEDULED,
        )
        .exclude(
            Exists(
                Attendance.objects.filter(
                    session=OuterRef("session"), patient=OuterRef("patient")
                )
            )
        )
        .values("patient_id")
        .annotate(m=Sum(Epoch(F("end") - F("start")) / 60))
        .order_by()
        .values_list("patient_id", "m")
    )
    adult = clinic_settings.weekly_target_minutes_adult
    minor = clinic_settings.weekly_target_minutes_minor
    this_cut = years_before(this_monday, 18)
    last_cut = years_before(last_monday, 18)
    found = {}
    for pk, dob, admitted_on in people:
        mins = attended.get(pk, {})
        last_min = mins.get("last") or 0
        this_min = mins.get("this") or 0
        ahead = round(remaining.get(pk) or 0)
        this_target = minor if dob > this_cut else adult
        last_target = minor if dob > last_cut else adult
        row = {
            "this_week_hours": hours(this_min),
            "last_week_hours": hours(last_min),
            "this_week_target_hours": hours(this_target),
            "last_week_target_hours": hours(last_target),
            "this_week_remaining_hours": hours(ahead),
            "this_week_below": this_min + ahead < this_target,
            "last_week_below": last_min < last_target,
            "admitted_last_week": admitted_on is not None and admitted_on > last_monday,
            "minor": dob > this_cut,
        }
        if not below_only or row["this_week_below"] or row["last_week_below"]:
            found[pk] = row
    patients = Patient.objects.filter(pk__in=list(found)).select_related(
        "track", "primary_counselor", "attending_doctor"
    )
    rows = []
    for p in patients.order_by("last_name", "first_name", "id"):
        found[p.pk]["patient"] = p
        rows.append(found[p.pk])
    return {
        "rows": rows,
        "this_monday": this_monday,
        "last_monday": last_monday,
        "today": today,
        "settings": clinic_settings,
        "adult_target_hours": hours(adult),
        "minor_target_hours": hours(minor),
        "daily_target_hours": hours(clinic_settings.daily_target_minutes),
    }


# --- Attendance rules (flags for the doctor's review) -----------------------------


def _flag_reasons_by_patient(*, clinic_settings, now, patients):
    """{patient_id: [reasons]} for the patients (a queryset) who break a rule.

    Both rules are computed in SQL: unexcused absences per patient within the
    window (one grouped query over the window's sessions), and for the patients
    with enough no-shows at all, their latest marks ranked by a window function;
    the run of no-shows is the leading unexcused marks. Three queries."""
    count_rule = clinic_settings.absence_rule_count
    days = clinic_settings.absence_rule_days
    run_rule = clinic_settings.consecutive_noshow_rule
    window_start = now - datetime.timedelta(days=days)
    recent = dict(
        Attendance.objects.filter(
            patient__in=patients,
            status=Status.UNEXCUSED,
            session__start__gte=window_start,
            session__start__lte=now,
        )
        .values("patient_id")
        .annotate(n=Count("id"))
        .filter(n__gte=count_rule)
        .order_by()
        .values_list("patient_id", "n")
    )
    candidates = (
        Attendance.objects.filter(patient__in=patients, status=Status.UNEXCUSED)
        .values("patient_id")
        .annotate(n=Count("id"))
        .filter(n__gte=run_rule)
        .values("patient_id")
    )
    latest = (
        Attendance.objects.filter(patient_id__in=candidates)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("patient_id")],
                order_by=[F("session__start").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=run_rule + RUN_LOOKBACK)
        .order_by("patient_id", "rank")
        .values_list("patient_id", "status")
    )
    runs = {}
    broken = set()
    for pid, status in latest:
        if pid in broken:
            continue
        if status == Status.UNEXCUSED:
            runs[pid] = runs.get(pid, 0) + 1
        else:
            broken.add(pid)
    reasons = {}
    for pid, n in recent.items():
        reasons.setdefault(pid, []).append(
            f"{n} unexcused absences in the last {days} days"
        )
    for pid, n in runs.items():
        if n >= run_rule:
            more = "" if n < run_rule + RUN_LOOKBACK else " or more"
            reasons.setdefault(pid, []).append(f"{n}{more} no-shows in a row")
    return reasons


RUN_LOOKBACK = 8  # how far past the rule a run of no-shows is counted


def _in_program(doctor=None):
    qs = Patient.objects.filter(status__in=IN_PROGRAM)
    if doctor is not None:
        qs = qs.filter(attending_doctor=doctor)
    return qs


def flagged_patients(*, doctor=None, now=None):
    """Patients who break an attendance rule: N unexcused absences within D days,
    or K consecutive no-shows. Derived from attendance each time (a correction
    clears the flag), never stored. Five queries whatever the clinic's size."""
    clinic_settings = clinic_settings_read()
    reasons = _flag_reasons_by_patient(
        clinic_settings=clinic_settings,
        now=now or timezone.now(),
        patients=_in_program(doctor),
    )
    patients = (
        Patient.objects.filter(pk__in=list(reasons))
        .select_related("attending_doctor", "primary_counselor")
        .order_by("last_name", "first_name", "id")
    )
    return [{"patient": p, "reasons": reasons[p.pk]} for p in patients]


def patient_flags(*, patient, now=None):
    """The rule flags of one patient (a list of reasons; empty when none)."""
    reasons = _flag_reasons_by_patient(
        clinic_settings=clinic_settings_read(),
        now=now or timezone.now(),
        patients=_in_program().filter(pk=patient.pk),
    )
    return reasons.get(patient.pk, [])


# --- Staff to-do: ended sessions with patients still unmarked ----------------------


def unmarked_sessions(*, now=None, limit=20):
    """Ended, not cancelled sessions where some expected patient has no mark yet,
    most recent first, each with `unmarked_count`. Two queries: one anti-join of
    ended participations against attendance, grouped by session, then the
    sessions themselves."""
    now = now or timezone.now()
    counts = list(
        Participant.objects.filter(end__lte=now, active=True)
        .exclude(
            Exists(
                Attendance.objects.filter(
                    session=OuterRef("session"), patient=OuterRef("patient")
                )
            )
        )
        .values("session_id", "end")
        .annotate(n=Count("id"))
        .order_by("-end", "-session_id")
        .values_list("session_id", "n")[:limit]
    )
    by_id = (
        TherapySession.objects.select_related("topic", "room").in_bulk(
            [pk for pk, _ in counts]
        )
        if counts
        else {}
    )
    sessions = []
    for pk, n in counts:
        session = by_id[pk]
        session.unmarked_count = n
        sessions.append(session)
    return sessions


# --- The letter and exports --------------------------------------------------------


def attendance_letter_data(*, patient, start, end):
    """Everything the attendance letter shows for `patient` between two local
    dates (inclusive). Three queries: the settings, the patient's sessions in the
    range (from the participant index on patient and start), then those sessions
    by primary key with the patient's mark (an outer join on the one-per-patient-
    per-session key). Looking the sessions up by key keeps the cost with the
    patient's rows: joined in one query, PostgreSQL scans and hashes the whole
    sessions table."""
    clinic_settings = clinic_settings_read()
    lo, _ = day_bounds(start)
    _, hi = day_bounds(end)
    session_ids = list(
        Participant.objects.filter(
            patient=patient, start__gte=lo, start__lt=hi
        ).values_list("session_id", flat=True)
    )
    rows = (
        TherapySession.objects.filter(pk__in=session_ids)
        .exclude(status=TherapySession.Status.CANCELLED)
        .annotate(
            mark=FilteredRelation(
                "attendance", condition=Q(attendance__patient=patient)
            )
        )
        .order_by("start", "pk")
        .values_list(
            "start", "end", "kind", "modality", "mark__status", "mark__minutes"
        )
    )
    kinds = dict(Kind.choices)
    modalities = dict(Modality.choices)
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
        "settings": clinic_settings,
    }


# The CSV reports are written by PostgreSQL (COPY ... TO STDOUT WITH CSV) and
# streamed as they come: no Python per row. Each query returns text in the CSV's
# dialect: ISO dates, display labels, and NULL for an empty text (an empty CSV
# field; COPY would write an empty string as "").
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
EXPORT_SQL = """
SELECT to_char(s.start AT TIME ZONE %(tz)s, 'YYYY-MM-DD') AS day,
       NULLIF(pt.record_number, '') AS record_number,
       NULLIF(COALESCE(%(kinds)s::jsonb ->> s.kind, s.kind), '') AS kind,
       NULLIF(COALESCE(%(modalities)s::jsonb ->> s.modality, s.modality), '')
           AS modality,
       NULLIF(fac.names, '') AS facilitators,
       ROUND(EXTRACT(EPOCH FROM (s."end" - s.start)) / 60)::int AS scheduled,
       COALESCE(a.minutes, 0) AS attended,
       COALESCE(a.status, 'unmarked') AS status
FROM therapy_sessions_participant p
JOIN therapy_sessions_therapysession s ON s.id = p.session_id
JOIN patients_patient pt ON pt.id = p.patient_id
LEFT JOIN therapy_sessions_attendance a
       ON a.session_id = p.session_id AND a.patient_id = p.patient_id
LEFT JOIN (
    SELECT sf.session_id,
           STRING_AGG(u.full_name, '; ' ORDER BY sf.id) AS names
    FROM therapy_sessions_sessionfacilitator sf
    JOIN accounts_user u ON u.id = sf.user_id
    WHERE sf.start >= %(lo)s AND sf.start < %(hi)s
    GROUP BY sf.session_id
) fac ON fac.session_id = s.id
WHERE p.start >= %(lo)s AND p.start < %(hi)s AND s.status <> 'cancelled'
ORDER BY s.start, s.id, pt.record_number
"""

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


def attendance_export_csv(*, start, end):
    """The sessions CSV between two local dates, as chunks of bytes: one row per
    patient per session (date, record number, kind, modality, facilitators,
    scheduled minutes, attended minutes, status); "unmarked" when there is no
    mark yet. Cancelled sessions are left out. One query."""
    lo, _ = day_bounds(start)
    _, hi = day_bounds(end)
    params = {
        "tz": str(clinic_zone()),
        "lo": lo,
        "hi": hi,
        "kinds": json.dumps(dict(Kind.choices)),
        "modalities": json.dumps(dict(Modality.choices)),
    }
    return _copy_csv(EXPORT_SQL, params, EXPORT_HEADER)


def daily_summary_csv(*, start, end):
    """The per-diem billing CSV between two local dates, as chunks of bytes: one
    row per patient per local day with a scheduled session (date, record number,
    last name, first name, sessions scheduled, sessions attended, minutes
    attended, "yes"/"no" daily target met). Two queries (the settings, the
    report)."""
    target = clinic_settings_read().daily_target_minutes
    lo, _ = day_bounds(start)
    _, hi = day_bounds(end)
    params = {"tz": str(clinic_zone()), "lo": lo, "hi": hi, "target": target}
    return _copy_csv(DAILY_SQL, params, DAILY_HEADER)


def patient_hours_section(*, patient, weeks=12):
    """What the patient page's hours section shows: weekly hours with the chart,
    the rule flags, and default dates for the attendance letter. Four queries."""
    data = patient_hours(patient=patient, weeks=weeks)
    data["flags"] = patient_flags(patient=patient)
    today = clinic_today()
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
