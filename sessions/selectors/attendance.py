"""Reads about attendance: the roster, hours against targets, compliance, rule
flags, the staff to-do list and exports. Each costs a fixed number of queries.

Days and weeks are the clinic's (CLINIC_TIME_ZONE, weeks from Monday). A session
counts on the local day it starts: a group from 22:30 to 01:30 is one day's
service, as it would be billed."""

import datetime
from dataclasses import dataclass, field

from django.contrib.postgres.aggregates import StringAgg
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from accounts.roles import ADMIN, STAFF, has_role
from core.models import ClinicSettings
from core.timeutil import clinic_today, clinic_zone, day_bounds, local, week_start
from patients.models import Patient
from sessions.models import (
    Attendance,
    AttendanceRevision,
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


def _week_minutes(monday):
    lo, _ = day_bounds(monday)
    hi, _ = day_bounds(monday + WEEK)
    return Coalesce(
        Sum(
            "attendance__minutes",
            filter=Q(attendance__session__start__gte=lo)
            & Q(attendance__session__start__lt=hi),
        ),
        0,
    )


def _target_case(monday, clinic_settings):
    return Case(
        When(
            date_of_birth__gt=years_before(monday, 18),
            then=Value(clinic_settings.weekly_target_minutes_minor),
        ),
        default=Value(clinic_settings.weekly_target_minutes_adult),
        output_field=IntegerField(),
    )


def _remaining_minutes(monday, now):
    """Minutes of this week's sessions still ahead (not ended, not yet marked)."""
    lo, _ = day_bounds(monday)
    hi, _ = day_bounds(monday + WEEK)
    return Coalesce(
        Subquery(
            Participant.objects.filter(
                patient=OuterRef("pk"),
                start__gte=lo,
                start__lt=hi,
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
            .values("patient")
            .annotate(m=Sum(Epoch(F("end") - F("start")) / 60))
            .values("m")[:1],
            output_field=FloatField(),
        ),
        0.0,
    )


def compliance(*, today=None, doctor=None, below_only=True):
    """Admitted patients with their hours last week and this week against their
    targets. Last week is complete; this week counts the hours attended so far plus
    the sessions still ahead, so that a patient is listed for this week only when
    the schedule can no longer reach the target. By default only patients below
    target in either week. One query (plus the settings row)."""
    clinic_settings = clinic_settings_read()
    today = today or clinic_today()
    now = timezone.now()
    this_monday = week_start(today)
    last_monday = this_monday - WEEK
    qs = Patient.objects.filter(status=Patient.Status.ADMITTED)
    if doctor is not None:
        qs = qs.filter(attending_doctor=doctor)
    qs = (
        qs.select_related("track", "primary_counselor", "attending_doctor")
        .annotate(
            this_week_minutes=_week_minutes(this_monday),
            last_week_minutes=_week_minutes(last_monday),
            this_week_target=_target_case(this_monday, clinic_settings),
            last_week_target=_target_case(last_monday, clinic_settings),
            this_week_remaining=_remaining_minutes(this_monday, now),
        )
        .annotate(this_week_projected=F("this_week_minutes") + F("this_week_remaining"))
        .order_by("last_name", "first_name", "id")
    )
    if below_only:
        qs = qs.filter(
            Q(this_week_projected__lt=F("this_week_target"))
            | Q(last_week_minutes__lt=F("last_week_target"))
        )
    rows = []
    for p in qs:
        rows.append(
            {
                "patient": p,
                "this_week_hours": hours(p.this_week_minutes),
                "last_week_hours": hours(p.last_week_minutes),
                "this_week_target_hours": hours(p.this_week_target),
                "last_week_target_hours": hours(p.last_week_target),
                "this_week_remaining_hours": hours(p.this_week_remaining),
                "this_week_below": p.this_week_projected < p.this_week_target,
                "last_week_below": p.last_week_minutes < p.last_week_target,
                "admitted_last_week": p.admitted_on is not None
                and p.admitted_on > last_monday,
                "minor": p.date_of_birth > years_before(this_monday, 18),
            }
        )
    return {
        "rows": rows,
        "this_monday": this_monday,
        "last_monday": last_monday,
        "today": today,
        "settings": clinic_settings,
        "adult_target_hours": hours(clinic_settings.weekly_target_minutes_adult),
        "minor_target_hours": hours(clinic_settings.weekly_target_minutes_minor),
        "daily_target_hours": hours(clinic_settings.daily_target_minutes),
    }


# --- Attendance rules (flags for the doctor's review) -----------------------------


def _flag_queryset(clinic_settings, now):
    """Patients in the program annotated with the two rule counters (SQL only)."""
    window_start = now - datetime.timedelta(days=clinic_settings.absence_rule_days)
    recent_unexcused = (
        Attendance.objects.filter(
            patient=OuterRef("pk"),
            status=Status.UNEXCUSED,
            session__start__gte=window_start,
            session__start__lte=now,
        )
        .values("patient")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    # The start of the patient's latest session that was NOT a no-show: every
    # no-show after it belongs to the current run of consecutive no-shows.
    # (Max, not ORDER BY ... LIMIT 1: that let PostgreSQL walk every session by
    # start, future ones first, for each patient: 28 ms a patient at 2,000.)
    last_not_noshow = (
        Attendance.objects.filter(patient=OuterRef("pk"))
        .exclude(status=Status.UNEXCUSED)
        .values("patient")
        .annotate(last=Max("session__start"))
        .values("last")[:1]
    )
    streak = (
        Attendance.objects.filter(
            patient=OuterRef("pk"),
            status=Status.UNEXCUSED,
            session__start__gt=Coalesce(OuterRef("last_ok_start"), Value(LONG_AGO)),
        )
        .values("patient")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return (
        Patient.objects.filter(status__in=IN_PROGRAM)
        .annotate(last_ok_start=Subquery(last_not_noshow))
        .annotate(
            recent_unexcused=Coalesce(
                Subquery(recent_unexcused, output_field=IntegerField()), 0
            ),
            noshow_streak=Coalesce(Subquery(streak, output_field=IntegerField()), 0),
        )
    )


def flagged_patients(*, doctor=None, now=None):
    """Patients who break an attendance rule: N unexcused absences within D days,
    or K consecutive no-shows. Derived from attendance each time (a correction
    clears the flag). One query plus the settings row."""
    clinic_settings = clinic_settings_read()
    now = now or timezone.now()
    qs = _flag_queryset(clinic_settings, now).filter(
        Q(recent_unexcused__gte=clinic_settings.absence_rule_count)
        | Q(noshow_streak__gte=clinic_settings.consecutive_noshow_rule)
    )
    if doctor is not None:
        qs = qs.filter(attending_doctor=doctor)
    qs = qs.select_related("attending_doctor", "primary_counselor").order_by(
        "last_name", "first_name", "id"
    )
    rows = []
    for p in qs:
        rows.append({"patient": p, "reasons": flag_reasons(p, clinic_settings)})
    return rows


def flag_reasons(patient, clinic_settings):
    reasons = []
    if patient.recent_unexcused >= clinic_settings.absence_rule_count:
        reasons.append(
            f"{patient.recent_unexcused} unexcused absences in the last "
            f"{clinic_settings.absence_rule_days} days"
        )
    if patient.noshow_streak >= clinic_settings.consecutive_noshow_rule:
        reasons.append(f"{patient.noshow_streak} no-shows in a row")
    return reasons


def patient_flags(*, patient, now=None):
    """The rule flags of one patient (a list of reasons; empty when none)."""
    clinic_settings = clinic_settings_read()
    p = _flag_queryset(clinic_settings, now or timezone.now()).filter(pk=patient.pk)
    p = p.first()
    return flag_reasons(p, clinic_settings) if p else []


# --- Staff to-do: ended sessions with patients still unmarked ----------------------


def unmarked_sessions(*, now=None, limit=20):
    """Ended, not cancelled sessions where some expected patient has no mark yet,
    most recent first. One query."""
    now = now or timezone.now()
    # Driven from the participants (their end and "active" = not cancelled are the
    # session's, kept by a trigger): one anti-join, instead of a count per ended
    # session (200 ms at 2,000 patients; see `manage.py bench`).
    pending = Participant.objects.filter(active=True, end__lte=now).exclude(
        Exists(
            Attendance.objects.filter(
                session=OuterRef("session"), patient=OuterRef("patient")
            )
        )
    )
    unmarked = (
        pending.filter(session=OuterRef("pk"))
        .values("session")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return list(
        TherapySession.objects.filter(pk__in=pending.values("session"))
        .annotate(unmarked_count=Subquery(unmarked, output_field=IntegerField()))
        .select_related("topic", "room")
        .order_by("-end", "-id")[:limit]
    )


# --- The letter and exports --------------------------------------------------------


def attendance_letter_data(*, patient, start, end):
    """Everything the attendance letter shows for `patient` between two local
    dates (inclusive). Three queries."""
    clinic_settings = clinic_settings_read()
    lo, _ = day_bounds(start)
    _, hi = day_bounds(end)
    participations = list(
        Participant.objects.filter(patient=patient, start__gte=lo, start__lt=hi)
        .exclude(session__status=TherapySession.Status.CANCELLED)
        .select_related("session", "session__topic")
        .order_by("start")
    )
    marks = {
        a.session_id: a
        for a in Attendance.objects.filter(
            patient=patient, session__start__gte=lo, session__start__lt=hi
        )
    }
    now = timezone.now()
    sessions = []
    counts = {s: 0 for s in Status.values}
    counts["unmarked"] = counts["upcoming"] = 0
    per_week = {}
    for p in participations:
        s = p.session
        att = marks.get(s.pk)
        if att is not None:
            state = att.status
            label = att.get_status_display()
            minutes = att.minutes
        elif s.start > now:
            state, label, minutes = "upcoming", "Scheduled", 0
        else:
            state, label, minutes = "unmarked", "Not recorded", 0
        counts[state] += 1
        day = local(s.start).date()
        monday = week_start(day)
        per_week[monday] = per_week.get(monday, 0) + minutes
        sessions.append(
            {
                "day": day,
                "start": local(s.start),
                "end": local(s.end),
                "label": s.label,
                "kind": s.get_kind_display(),
                "modality": s.get_modality_display(),
                "scheduled_minutes": s.minutes,
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


def attendance_export_rows(*, start, end):
    """One row per patient per session between two local dates: expected patients
    and their marks ("unmarked" when none yet). One query."""
    lo, _ = day_bounds(start)
    _, hi = day_bounds(end)
    mark = Attendance.objects.filter(
        session=OuterRef("session"), patient=OuterRef("patient")
    )
    facilitators = (
        SessionFacilitator.objects.filter(session=OuterRef("session"))
        .values("session")
        .annotate(names=StringAgg("user__full_name", delimiter="; ", order_by="id"))
        .values("names")[:1]
    )
    return (
        Participant.objects.filter(start__gte=lo, start__lt=hi)
        .exclude(session__status=TherapySession.Status.CANCELLED)
        .annotate(
            day=local_date("start"),
            status=Coalesce(
                Subquery(mark.values("status")[:1]),
                Value("unmarked"),
                output_field=CharField(),
            ),
            attended=Coalesce(Subquery(mark.values("minutes")[:1]), 0),
            facilitator_names=Coalesce(
                Subquery(facilitators), Value(""), output_field=CharField()
            ),
            scheduled=Epoch(F("end") - F("start")) / 60,
        )
        .select_related("session", "patient")
        .order_by("start", "session_id", "patient__record_number")
    )


def daily_summary_rows(*, start, end):
    """One row per patient per local day with a scheduled session: sessions,
    minutes attended and whether the day reached the daily target. One query."""
    clinic_settings = clinic_settings_read()
    lo, _ = day_bounds(start)
    _, hi = day_bounds(end)
    mark = Attendance.objects.filter(
        session=OuterRef("session"), patient=OuterRef("patient")
    )
    rows = (
        Participant.objects.filter(start__gte=lo, start__lt=hi)
        .exclude(session__status=TherapySession.Status.CANCELLED)
        .annotate(
            day=local_date("start"),
            attended=Coalesce(Subquery(mark.values("minutes")[:1]), 0),
            was_there=Exists(mark.filter(status__in=ATTENDED)),
        )
        .values(
            "day",
            "patient__record_number",
            "patient__last_name",
            "patient__first_name",
        )
        .annotate(
            sessions=Count("id"),
            sessions_attended=Count("id", filter=Q(was_there=True)),
            total_minutes=Sum("attended"),
        )
        .order_by("day", "patient__record_number")
    )
    target = clinic_settings.daily_target_minutes
    for r in rows:
        r["met"] = r["total_minutes"] >= target
        yield r


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
