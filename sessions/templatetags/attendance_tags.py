"""Attendance markup repeated many times a page, written in Python (as
core/forms_renderer.py does for selects): each row of a roster has a status
select or a set of one-tap buttons, and the hours table has a cell a day for
twelve weeks; the template engine spent more on these loops than on the rest of
their pages. The markup is the templates', escaped by format_html."""

from django import template
from django.utils.formats import localize
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

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
    return format_html_join(
        "",
        "{}",
        (
            (
                format_html("<td>{}</td>", day["cell"])
                if day["minutes"]
                else format_html('<td><span class="muted">{}</span></td>', day["cell"]),
            )
            for day in days
        ),
    )


def _join(parts):
    """Concatenate pieces each escaped by format_html (SafeStrings) into one."""
    return SafeString("".join(parts))


def _text(value):
    """A value as the template engine prints it (localized, then escaped by
    format_html)."""
    return value if isinstance(value, str) else str(localize(value))


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
    return _join(
        format_html(
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
    return _join(
        format_html(
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
    return format_html("{} {}", _text(w["target_hours"]), badge)


@register.simple_tag
def week_rows(weeks):
    """The hours table's rows, newest week first (attendance.patient_hours)."""
    return _join(
        format_html(
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
