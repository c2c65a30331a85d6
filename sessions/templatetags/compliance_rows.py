"""The rows of the compliance page's two tables and of the doctor's dashboard's
short lists, built in Python (as patients/templatetags/patient_rows.py builds the
patient list's): through the template engine, a lookup per cell, a reverse and
a date filter per row cost more than the rest of these pages. The markup is the
one the templates wrote; every value is escaped by format_html."""

from urllib.parse import quote

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()

DASH = "—"
STAND_IN = "2147483647"


class _Links:
    """A page's links to patients, reversed once with a stand-in id instead of
    once per row."""

    def __init__(self, *names):
        self.urls = {name: reverse(name, args=[STAND_IN]) for name in names}

    def __call__(self, name, pk):
        return self.urls[name].replace(STAND_IN, str(int(pk)))


def _month(d):
    return str(MONTHS_3[d.month]).title()


def _month_day(d):
    """`d|date:"M j"`."""
    return f"{_month(d)} {d.day}"


def _month_day_year(d):
    """`d|date:"M j, Y"`, in the current time zone for a moment."""
    if hasattr(d, "hour"):
        d = timezone.localtime(d)
    return f"{_month(d)} {d.day}, {d.year:04d}"


def _hours(value):
    """Hours as the template printed a float (no thousands separator here)."""
    return str(value)


# ------------------------------------------------------------ below target

BELOW_ROW = (
    "\n      <tr>"
    '\n        <th scope="row"><a href="{}">{}</a>'
    ' <span class="muted small">{}</span>{}</th>'
    "\n        <td>{}</td>"
    "\n        <td>{}</td>"
    "\n        <td>{} / {} h {}</td>"
    "\n        <td>{} / {} h</td>"
    "\n        <td>{} h {}</td>"
    "\n      </tr>"
)
MINOR = mark_safe(' <span class="badge">under 18</span>')
LAST_MET = mark_safe('<span class="badge ok">met</span>')
LAST_BELOW = mark_safe('<span class="badge bad">below</span>')
THIS_ON_TRACK = mark_safe('<span class="badge ok">on track</span>')
THIS_SHORT = mark_safe('<span class="badge warn">cannot reach target</span>')


def _last_week(r):
    if not r["last_week_below"]:
        return LAST_MET
    if r["admitted_last_week"]:
        return format_html(
            '{} <span class="muted small">admitted {}</span>',
            LAST_BELOW,
            _month_day(r["patient"].admitted_on),
        )
    return LAST_BELOW


def _below_row(r, link):
    p = r["patient"]
    return (
        link("therapy_sessions:patient_hours", p.pk),
        p.full_name,
        p.record_number,
        MINOR if r["minor"] else "",
        r["track"] or DASH,
        r["counselor"] or DASH,
        _hours(r["last_week_hours"]),
        _hours(r["last_week_target_hours"]),
        _last_week(r),
        _hours(r["this_week_hours"]),
        _hours(r["this_week_target_hours"]),
        _hours(r["this_week_remaining_hours"]),
        THIS_SHORT if r["this_week_below"] else THIS_ON_TRACK,
    )


@register.simple_tag
def below_target_rows(rows):
    """The <tr> of each row of sessions.selectors.attendance.compliance."""
    link = _Links("therapy_sessions:patient_hours")
    return format_html_join("", BELOW_ROW, (_below_row(r, link) for r in rows))


# ----------------------------------------------------------------- flagged

FLAGGED_ROW = (
    "\n      <tr>"
    '\n        <th scope="row"><a href="{}">{}</a>'
    ' <span class="muted small">{}</span></th>'
    "\n        <td>{}</td>"
    "\n        <td>{}</td>"
    "\n        <td>{}</td>"
    "\n      </tr>"
)
NOT_REVIEWED = mark_safe('<span class="muted">not yet reviewed</span>')


def reason_badges(reasons):
    """`{% for reason in reasons %}<span class="badge bad">{{ reason }}</span> ...`"""
    return format_html_join(
        "", '<span class="badge bad">{}</span> ', ((r,) for r in reasons)
    )


def _review_cell(f, link, back):
    review = f["review"]
    if review is not None:
        return format_html(
            '<span class="badge ok">reviewed</span> <span class="small">Dr. {}, {}: '
            "{}</span>",
            review.reviewed_by.full_name,
            _month_day_year(review.reviewed_at),
            review.note,
        )
    if back is None:
        return NOT_REVIEWED
    return format_html(
        '<a href="{}?next={}%23flagged">Mark reviewed</a>',
        link("therapy_sessions:flag_review", f["patient"].pk),
        back,
    )


def _flagged_row(f, link, back):
    p = f["patient"]
    return (
        link("therapy_sessions:patient_hours", p.pk),
        p.full_name,
        p.record_number,
        f["doctor"] or DASH,
        reason_badges(f["reasons"]),
        _review_cell(f, link, back),
    )


@register.simple_tag(takes_context=True)
def flagged_rows(context, rows, can_review):
    """The <tr> of each row of sessions.selectors.attendance.flagged_page: a
    doctor gets a "Mark reviewed" link back to this page's flagged list."""
    link = _Links("therapy_sessions:patient_hours", "therapy_sessions:flag_review")
    back = quote(context["request"].get_full_path(), safe="/") if can_review else None
    return format_html_join(
        "", FLAGGED_ROW, (_flagged_row(f, link, back) for f in rows)
    )


# ---------------------------------------------------- the doctor's dashboard


@register.simple_tag
def dashboard_flagged_items(rows):
    """The <li> of each of the dashboard's most urgent flagged patients."""
    link = _Links("therapy_sessions:patient_hours")
    return format_html_join(
        "",
        '<li><a href="{}">{}</a> ({}) · {}</li>',
        (
            (
                link("therapy_sessions:patient_hours", f["patient"].pk),
                f["patient"].full_name,
                f["patient"].record_number,
                reason_badges(f["reasons"]),
            )
            for f in rows
        ),
    )


BELOW_BADGE = mark_safe(' <span class="badge bad">below</span>')
SHORT_BADGE = mark_safe(' <span class="badge warn">cannot reach target</span>')


@register.simple_tag
def dashboard_below_items(rows):
    """The <li> of each of the dashboard's patients furthest below target."""
    link = _Links("therapy_sessions:patient_hours")
    return format_html_join(
        "",
        '<li><a href="{}">{}</a> ({}) · last week {} of {} h{} · this week {} h so'
        " far, {} h still scheduled{}</li>",
        (
            (
                link("therapy_sessions:patient_hours", r["patient"].pk),
                r["patient"].full_name,
                r["patient"].record_number,
                _hours(r["last_week_hours"]),
                _hours(r["last_week_target_hours"]),
                BELOW_BADGE if r["last_week_below"] else "",
                _hours(r["this_week_hours"]),
                _hours(r["this_week_remaining_hours"]),
                SHORT_BADGE if r["this_week_below"] else "",
            )
            for r in rows
        ),
    )
