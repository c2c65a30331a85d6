"""Attendance markup repeated many times a page, written in Python (as
core/forms_renderer.py does for selects): each row of a roster has a status
select or a set of one-tap buttons, and the hours table has a cell a day for
twelve weeks; the template engine spent more on these loops than on the rest of
their pages. The markup is the templates', every value escaped (format_html,
core.htmlrows)."""

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

from core import htmlrows

register = template.Library()


@register.simple_tag
def status_options(choices, selected):
    """The <option>s of a status select, `selected` marked."""
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (value, " selected" if value == selected else "", label)
            for value, label in choices
        ),
    )


@register.simple_tag
def status_buttons(buttons, pid):
    """The one-tap buttons of an unmarked row (one submit button per status)."""
    return format_html_join(
        "\n            ",
        '<button type="submit" name="status" value="{}" id="mark-{}-{}">{}</button>',
        ((value, pid, value, label) for value, label in buttons),
    )


@register.simple_tag
def day_cells(days):
    """The hours table's cells for a week's days (muted when nothing attended)."""
    esc = htmlrows.esc
    return SafeString(
        "".join(
            f"<td>{esc(day['cell'])}</td>"
            if day["minutes"]
            else f'<td><span class="muted">{esc(day["cell"])}</span></td>'
            for day in days
        )
    )


def _text(value):
    """A value as the template engine prints it (localized, escaped)."""
    return SafeString(htmlrows.esc(value))


CHART_TICK = (
    '\n    <line x1="{left}" x2="{right}" y1="{y}" y2="{y}" stroke="#e1e6eb"'
    ' stroke-width="1"/>'
    '\n    <text x="{tick_label_x}" y="{y}" font-size="11" text-anchor="end"'
    ' dominant-baseline="middle" fill="#5b6773">{label}h</text>'
    "\n    "
)
CHART_BAR = (
    '\n    <rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{fill}">'
    "<title>Week of {label}: {hours} h</title></rect>"
    '\n    <line x1="{target_x1}" x2="{target_x2}" y1="{target_y}" y2="{target_y}"'
    ' stroke="#1d2b36" stroke-width="1.5" stroke-dasharray="4 3"/>'
    '\n    <text x="{label_x}" y="{label_y}" font-size="10" text-anchor="middle"'
    ' fill="#5b6773">{short_label}</text>'
    "\n    "
)


@register.simple_tag
def chart_ticks(chart):
    """The hours chart's grid lines and their labels (attendance.hours_chart)."""
    return htmlrows.join(
        htmlrows.format(
            CHART_TICK,
            left=chart["left"],
            right=chart["right"],
            tick_label_x=chart["tick_label_x"],
            y=t["y"],
            label=_text(t["label"]),
        )
        for t in chart["ticks"]
    )


@register.simple_tag
def chart_bars(chart):
    """The hours chart's bars, target lines and week labels."""
    return htmlrows.join(
        htmlrows.format(
            CHART_BAR,
            x=b["x"],
            y=b["y"],
            w=b["w"],
            h=b["h"],
            fill="#2f7d4f" if b["met"] else "#c0623b",
            label=_text(b["label"]),
            hours=_text(b["hours"]),
            target_x1=b["target_x1"],
            target_x2=b["target_x2"],
            target_y=b["target_y"],
            label_x=b["label_x"],
            label_y=chart["label_y"],
            short_label=_text(b["short_label"]),
        )
        for b in chart["bars"]
    )


WEEK_ROW = (
    '\n      <tr{current} data-week="{monday}">'
    '\n        <th scope="row">{label}{this_week}</th>'
    "\n        {days}"
    '\n        <td class="week-total"><strong>{hours}</strong></td>'
    "\n        <td>{target}</td>"
    "\n      </tr>"
    "\n    "
)
CURRENT = mark_safe(' aria-current="date"')
THIS_WEEK = mark_safe(' <span class="muted small">(this week)</span>')
OUTSIDE = mark_safe('<span class="muted">not in the program</span>')
WEEK_BADGE = {
    "met": mark_safe('<span class="badge ok">met</span>'),
    "current": mark_safe('<span class="badge warn">so far</span>'),
    "below": mark_safe('<span class="badge bad">below</span>'),
}


def _week_target(w):
    if w["outside"]:
        return OUTSIDE
    badge = WEEK_BADGE["met" if w["met"] else "current" if w["current"] else "below"]
    return htmlrows.format("{} {}", _text(w["target_hours"]), badge)


@register.simple_tag
def week_rows(weeks):
    """The hours table's rows, newest week first (attendance.patient_hours)."""
    return htmlrows.join(
        htmlrows.format(
            WEEK_ROW,
            current=CURRENT if w["current"] else "",
            monday=w["monday"].isoformat(),
            label=_text(w["label"]),
            this_week=THIS_WEEK if w["current"] else "",
            days=day_cells(w["days"]),
            hours=_text(w["hours"]),
            target=_week_target(w),
        )
        for w in reversed(weeks)
    )


# --- The roster's rows ---------------------------------------------------------

ROSTER_ROW = (
    '\n    <tr id="roster-row-{pid}">'
    '\n      <th scope="row">{name}<br><span class="muted small">{record}</span></th>'
    "\n      <td>"
    "\n        {mark}"
    "\n        {error}"
    "\n        {record_form}"
    "\n        {correction}"
    "\n      </td>"
    '\n      <td class="small">'
    "\n        {recorded}"
    "\n      </td>"
    "\n    </tr>"
    "\n    "
)
ROSTER_MARK = (
    '\n          <span class="badge {cls}" data-status="{status}">{display}</span>'
    '\n          <span class="minutes">{minutes} min</span>'
    "\n          {note}"
    "\n        "
)
ROSTER_UNMARKED = mark_safe(
    '\n          <span class="badge" data-status="unmarked">Not marked</span>\n        '
)
ROSTER_RECORD = (
    '\n        <form method="post" action="{url}" hx-post="{url}"'
    ' hx-target="#roster-body" hx-swap="outerHTML" class="roster-form">'
    "\n          {csrf}"
    '\n          <input type="hidden" name="patient" value="{pid}">'
    '\n          <label for="minutes-{pid}" class="small">Minutes</label>'
    '\n          <input type="number" inputmode="numeric" min="0" max="{max}"'
    ' id="minutes-{pid}" name="minutes" value="{minutes}" class="minutes-input"'
    ' size="4"{described}>'
    '\n          <div class="status-buttons" role="group" aria-label="Mark {name}">'
    "\n            {buttons}"
    "\n          </div>"
    "\n        </form>"
    "\n        "
)
ROSTER_CORRECTION = (
    '\n        <details class="correction"{open}>'
    '\n          <summary>Correct<span class="visually-hidden"> {name}</span></summary>'
    '\n          <form method="post" action="{url}" hx-post="{url}"'
    ' hx-target="#roster-body" hx-swap="outerHTML">'
    "\n            {csrf}"
    '\n            <input type="hidden" name="patient" value="{pid}">'
    '\n            <input type="hidden" name="form" value="correction">'
    "\n            <p>"
    '\n              <label for="fix-status-{pid}">Status</label>'
    '\n              <select id="fix-status-{pid}" name="status">'
    "\n                {options}"
    "\n              </select>"
    '\n              <label for="fix-minutes-{pid}">'
    "Minutes (late or left early)</label>"
    '\n              <input type="number" min="0" max="{max}" id="fix-minutes-{pid}"'
    ' name="minutes" size="4" value="{minutes}">'
    "\n            </p>"
    '\n            <p><label for="fix-note-{pid}">Note</label> <input type="text"'
    ' maxlength="300" id="fix-note-{pid}" name="note" value="{note}"></p>'
    '\n            <p><label for="fix-reason-{pid}">Reason for the correction'
    ' (required)</label> <input type="text" maxlength="300" id="fix-reason-{pid}"'
    ' name="reason" required value="{reason}"></p>'
    '\n            <button type="submit" class="secondary" id="fix-save-{pid}">'
    "Save correction</button>"
    "\n          </form>"
    "\n        </details>"
    "\n        "
)
ROSTER_HISTORY = (
    '\n        <details class="history">'
    "\n          <summary>History ({count} correction{plural})</summary>"
    '\n          <ol class="revisions">'
    "\n          {items}"
    "\n          </ol>"
    "\n        </details>"
    "\n        "
)
ROSTER_REVISION = (
    "\n            <li>Was <strong>{status}</strong>, {minutes} min{note}, recorded by"
    " {recorded_by} {recorded_at}. Changed by {changed_by} {changed_at}:"
    " <q>{reason}</q></li>"
    "\n          "
)
NOT_RECORDED = mark_safe('<span class="muted">—</span>')
MARK_CLASS = {"present": "ok", "unexcused": "bad"}


def _when(dt):
    """`dt|date:"M j g:i A"` in the current time zone (escaped)."""
    return htmlrows.date(dt, "M j g:i A")


def _user_name(user):
    return user.full_name if user is not None else ""


def _roster_mark(att):
    if att is None:
        return ROSTER_UNMARKED
    return htmlrows.format(
        ROSTER_MARK,
        cls=MARK_CLASS.get(att.status, "warn"),
        status=att.status,
        display=att.get_status_display(),
        minutes=_text(att.minutes),
        note=htmlrows.format('<span class="muted small">· {}</span>', att.note)
        if att.note
        else "",
    )


def _roster_recorded(row):
    att = row.attendance
    if att is None:
        return NOT_RECORDED
    history = ""
    if row.revisions:
        items = htmlrows.join(
            htmlrows.format(
                ROSTER_REVISION,
                status=rev.get_status_display(),
                minutes=_text(rev.minutes),
                note=htmlrows.format(" ({})", rev.note) if rev.note else "",
                recorded_by=_user_name(rev.recorded_by),
                recorded_at=_when(rev.recorded_at),
                changed_by=_user_name(rev.changed_by),
                changed_at=_when(rev.changed_at),
                reason=rev.reason,
            )
            for rev in row.revisions
        )
        history = htmlrows.format(
            ROSTER_HISTORY,
            count=len(row.revisions),
            plural="" if len(row.revisions) == 1 else "s",
            items=items,
        )
    return htmlrows.format(
        "\n        {}, {}\n        {}\n        ",
        _user_name(att.recorded_by),
        _when(att.recorded_at),
        history,
    )


def _roster_row(row, roster, url, csrf):
    pid, name, att = row.pid, row.patient.full_name, row.attendance
    record_form = correction = ""
    if roster["can_record"] and att is None:
        record_form = htmlrows.format(
            ROSTER_RECORD,
            url=url,
            csrf=csrf,
            pid=pid,
            max=roster["minutes_max"],
            minutes=_text(row.value_minutes),
            described=htmlrows.format(' aria-describedby="roster-error-{}"', pid)
            if row.error
            else "",
            name=name,
            buttons=status_buttons(roster["status_buttons"], pid),
        )
    if roster["can_correct"] and att is not None:
        if row.values:
            minutes, note = row.value_minutes, row.value_note
        else:
            minutes = att.minutes if att.status in ("late", "left_early") else ""
            note = att.note
        correction = htmlrows.format(
            ROSTER_CORRECTION,
            open=mark_safe(" open") if row.error else "",
            name=name,
            url=url,
            csrf=csrf,
            pid=pid,
            options=status_options(roster["statuses"], row.selected_status),
            max=roster["minutes_max"],
            minutes=_text(minutes),
            note=note,
            reason=row.value_reason,
        )
    return htmlrows.format(
        ROSTER_ROW,
        pid=pid,
        name=name,
        record=row.patient.record_number,
        mark=_roster_mark(att),
        error=htmlrows.format(
            '<p class="errorlist" role="alert" id="roster-error-{}">{}</p>',
            pid,
            row.error,
        )
        if row.error
        else "",
        record_form=record_form,
        correction=correction,
        recorded=_roster_recorded(row),
    )


@register.simple_tag(takes_context=True)
def roster_rows(context, roster, roster_url):
    """The roster's <tr>, one a patient (attendance.session_roster's rows): the
    mark, the one-tap buttons or the correction form, who recorded it and the
    corrections before."""
    csrf = htmlrows.csrf_input(context)
    return htmlrows.join(
        _roster_row(row, roster, roster_url, csrf) for row in roster["rows"]
    )
