"""The rows of the compliance page's two tables and of the doctor's dashboard's
short lists, built in Python (as patients/templatetags/patient_rows.py builds the
patient list's): through the template engine, a lookup per cell, a reverse and
a date filter per row cost more than the rest of these pages. The markup is the
one the templates wrote. Every value is escaped with html.escape, which is what
Django's escape does (without its lazy-string wrapper, which cost more than the
escaping on a page of a hundred rows); the rows are marked safe once, whole."""

from html import escape
from urllib.parse import quote

from django import template
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

from core import htmlrows, urlcache

register = template.Library()

DASH = "—"


def _e(value):
    return escape(str(value))


def _month_day(d):
    """`d|date:"M j"`."""
    return htmlrows.date(d, "M j")


def _month_day_year(d):
    """`d|date:"M j, Y"`, in the current time zone for a moment."""
    return htmlrows.date(d, "M j, Y")


def _hours(value):
    """Hours as the template printed a float (no thousands separator here)."""
    return str(value)


# ------------------------------------------------------------ below target

MINOR = ' <span class="badge">under 18</span>'
LAST_MET = '<span class="badge ok">met</span>'
LAST_BELOW = '<span class="badge bad">below</span>'
THIS_ON_TRACK = '<span class="badge ok">on track</span>'
THIS_SHORT = '<span class="badge warn">cannot reach target</span>'


def _last_week_badge(r):
    if not r["last_week_below"]:
        return LAST_MET
    if r["admitted_last_week"]:
        admitted = _month_day(r["patient"].admitted_on)
        return f'{LAST_BELOW} <span class="muted small">admitted {admitted}</span>'
    return LAST_BELOW


def _below_row(r, link):
    p = r["patient"]
    href = link("therapy_sessions:patient_hours", p.pk)
    return (
        "\n      <tr>"
        f'\n        <th scope="row"><a href="{href}">'
        f"{_e(p.full_name)}</a>"
        f' <span class="muted small">{_e(p.record_number)}</span>'
        f"{MINOR if r['minor'] else ''}</th>"
        f"\n        <td>{_e(r['track'] or DASH)}</td>"
        f"\n        <td>{_e(r['counselor'] or DASH)}</td>"
        f"\n        <td>{_hours(r['last_week_hours'])} / "
        f"{_hours(r['last_week_target_hours'])} h {_last_week_badge(r)}</td>"
        f"\n        <td>{_hours(r['this_week_hours'])} / "
        f"{_hours(r['this_week_target_hours'])} h</td>"
        f"\n        <td>{_hours(r['this_week_remaining_hours'])} h "
        f"{THIS_SHORT if r['this_week_below'] else THIS_ON_TRACK}</td>"
        "\n      </tr>"
    )


@register.simple_tag
def below_target_rows(rows):
    """The <tr> of each row of sessions.selectors.attendance.compliance."""
    link = urlcache.Links()
    rows_html = "".join(_below_row(r, link) for r in rows)
    return mark_safe(rows_html)  # noqa: S308 (every value is escaped in _below_row)


# ----------------------------------------------------------------- flagged

NOT_REVIEWED = '<span class="muted">not yet reviewed</span>'


def _reason_badges(reasons):
    """`{% for reason in reasons %}<span class="badge bad">{{ reason }}</span> ...`"""
    return "".join(f'<span class="badge bad">{_e(r)}</span> ' for r in reasons)


def _review_cell(f, link, back):
    review = f["review"]
    if review is not None:
        return (
            '<span class="badge ok">reviewed</span> <span class="small">Dr. '
            f"{_e(review.reviewed_by.full_name)}, "
            f"{_month_day_year(review.reviewed_at)}: {_e(review.note)}</span>"
        )
    if back is None:
        return NOT_REVIEWED
    href = link("therapy_sessions:flag_review", f["patient"].pk)
    return f'<a href="{href}?next={back}%23flagged">Mark reviewed</a>'


def _flagged_row(f, link, back):
    p = f["patient"]
    href = link("therapy_sessions:patient_hours", p.pk)
    return (
        "\n      <tr>"
        f'\n        <th scope="row"><a href="{href}">'
        f"{_e(p.full_name)}</a>"
        f' <span class="muted small">{_e(p.record_number)}</span></th>'
        f"\n        <td>{_e(f['doctor'] or DASH)}</td>"
        f"\n        <td>{_reason_badges(f['reasons'])}</td>"
        f"\n        <td>{_review_cell(f, link, back)}</td>"
        "\n      </tr>"
    )


@register.simple_tag(takes_context=True)
def flagged_rows(context, rows, can_review):
    """The <tr> of each row of sessions.selectors.attendance.flagged_page: a
    doctor gets a "Mark reviewed" link back to this page's flagged list (the
    `urlencode` filter's quoting)."""
    link = urlcache.Links()
    back = (
        _e(quote(context["request"].get_full_path(), safe="/")) if can_review else None
    )
    rows_html = "".join(_flagged_row(f, link, back) for f in rows)
    return mark_safe(rows_html)  # noqa: S308 (every value is escaped in _flagged_row)


# ---------------------------------------------------- the doctor's dashboard


def _patient_link(p, link):
    return (
        f'<a href="{link("therapy_sessions:patient_hours", p.pk)}">{_e(p.full_name)}'
        f"</a> ({_e(p.record_number)})"
    )


@register.simple_tag
def dashboard_flagged_items(rows):
    """The <li> of each of the dashboard's most urgent flagged patients."""
    link = urlcache.Links()
    items = "".join(
        f"<li>{_patient_link(f['patient'], link)} · {_reason_badges(f['reasons'])}</li>"
        for f in rows
    )
    return mark_safe(items)  # noqa: S308 (every value is escaped)


BELOW_BADGE = ' <span class="badge bad">below</span>'
SHORT_BADGE = ' <span class="badge warn">cannot reach target</span>'


@register.simple_tag
def dashboard_below_items(rows):
    """The <li> of each of the dashboard's patients furthest below target."""
    link = urlcache.Links()
    items = "".join(
        f"<li>{_patient_link(r['patient'], link)} · last week "
        f"{_hours(r['last_week_hours'])} of {_hours(r['last_week_target_hours'])}"
        f" h{BELOW_BADGE if r['last_week_below'] else ''} · this week "
        f"{_hours(r['this_week_hours'])} h so far, "
        f"{_hours(r['this_week_remaining_hours'])} h still scheduled"
        f"{SHORT_BADGE if r['this_week_below'] else ''}</li>"
        for r in rows
    )
    return mark_safe(items)  # noqa: S308 (every value is escaped)


@register.simple_tag
def dashboard_request_items(requests):
    """The <li> of each waiting admission request on the doctor's dashboard
    (dicts from core.selectors.doctor_dashboard)."""
    link = urlcache.Links()
    now = timezone.now()
    items = "".join(
        f'<li><a href="{link("patients:decide", r["pk"])}">'
        f"{_e(r['patient']['full_name'])}</a> ({_e(r['patient']['record_number'])})"
        f" · waiting {_e(timesince(r['requested_at'], now))}</li>"
        for r in requests
    )
    return mark_safe(items)  # noqa: S308 (every value is escaped)


OVERDUE = ' <span class="badge bad">overdue</span>'


@register.simple_tag
def dashboard_review_items(reviews, today):
    """The <li> of each conditional approval due for review on the doctor's
    dashboard (dicts from core.selectors.doctor_dashboard)."""
    link = urlcache.Links()
    items = "".join(
        f'<li><a href="{link("patients:decision", d["pk"])}">'
        f"{_e(d['patient']['full_name'])}</a> ({_e(d['patient']['record_number'])})"
        f" · review {_month_day_year(d['review_date'])}"
        f"{OVERDUE if d['review_date'] < today else ''}</li>"
        for d in reviews
    )
    return mark_safe(items)  # noqa: S308 (every value is escaped)
