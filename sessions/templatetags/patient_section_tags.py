"""Rows of the sessions app's sections on the patient page (schedule, alerts to
sponsors), built in Python as attendance_tags.py builds the hours table: the
template engine's loops (a reverse, date filters and a dozen lookups per row)
cost more than the page's data. The markup is the partials', whitespace
included; every value is escaped (core.htmlrows)."""

from django import template
from django.template.defaultfilters import truncatechars
from django.utils.safestring import SafeString, mark_safe

from core import htmlrows, urlcache
from core.choices import display

register = template.Library()


# ---------------------------------------------------------------- schedule

SCHEDULE_ROW = (
    "\n      <tr><td>{start}–{end}</td>"
    '\n      <td><a href="{url}">{label}</a>{cancelled}</td>'
    "\n      <td>{room}</td></tr>"
    "\n    "
)
CANCELLED = mark_safe(' <span class="badge bad">Cancelled</span>')


@register.simple_tag
def schedule_rows(sessions):
    """The upcoming sessions' <tr> (room and topic read with them)."""
    url, _date = urlcache.Links(), htmlrows.dates()
    return htmlrows.join(
        htmlrows.format(
            SCHEDULE_ROW,
            start=_date(s.start, "D M j, H:i"),
            end=_date(s.end, "H:i"),
            url=url("therapy_sessions:detail", s.pk),
            label=s.label,
            cancelled=CANCELLED if s.status == "cancelled" else "",
            room=s.room.name if s.room else "Telehealth",
        )
        for s in sessions
    )


@register.simple_tag
def recent_sessions(sessions):
    """The last sessions as links, "; " between them."""
    url, _date = urlcache.Links(), htmlrows.dates()
    return SafeString(
        "; ".join(
            htmlrows.format(
                '<a href="{}">{} {}</a>',
                url("therapy_sessions:detail", s.pk),
                _date(s.start, "M j"),
                s.label,
            )
            for s in sessions
        )
    )


# ---------------------------------------------------------------- alerts

ALERT_ROW = (
    '\n      <tr id="sponsor-alert-{pk}">'
    '\n        <td><a href="{url}">{start}</a>'
    ' <span class="muted small">{kind}</span></td>'
    "\n        <td>{sponsor}</td>"
    "\n        <td>{channel}</td>"
    "\n        <td>{state}</td>"
    "\n        <td>{sent}</td>"
    "\n        {retry}"
    "\n      </tr>"
    "\n    "
)
RETRY = "<td>{}</td>"
RETRY_FORM = (
    "\n          "
    '<form method="post" action="{action}">'
    "\n            {csrf}"
    '\n            <input type="hidden" name="next" value="{next}#sponsor-alerts">'
    '\n            <button type="submit" class="primary">Retry</button>'
    "\n          </form>"
    "\n        "
)


def _alert_state(a, _date):
    if a.held_for_quiet_hours:
        return htmlrows.format(
            '<span class="badge warn">Held for quiet hours</span>'
            ' <span class="muted small">until {}</span>',
            _date(a.next_attempt_at, "M j, H:i"),
        )
    if a.state == "failed":
        error = (
            htmlrows.format(
                ' <span class="small error">{}</span>', truncatechars(a.last_error, 80)
            )
            if a.last_error
            else ""
        )
        return htmlrows.format('<span class="badge bad">Failed</span>{}', error)
    if a.state == "pending":
        return mark_safe('<span class="badge warn">Pending</span>')
    if a.state == "sent":
        return mark_safe('<span class="badge ok">Sent</span>')
    reason = (
        htmlrows.format(' <span class="muted small">{}</span>', a.reason)
        if a.reason
        else ""
    )
    return htmlrows.format(
        '<span class="badge">{}</span>{}', display(a, "state"), reason
    )


@register.simple_tag(takes_context=True)
def sponsor_alert_rows(context, alerts, can_retry):
    """The <tr> of each alert shown (session and sponsor read with it), with the
    Retry button of a failed one for those who may retry."""
    url = urlcache.Links()
    _date = htmlrows.dates()
    request = context.get("request")
    path = request.path if request is not None else ""
    csrf = htmlrows.csrf_input(context) if can_retry else ""
    rows = []
    for a in alerts:
        retry = ""
        if can_retry:
            form = ""
            if a.state == "failed":
                form = htmlrows.format(
                    RETRY_FORM,
                    action=url("therapy_sessions:alert_retry", a.pk),
                    csrf=csrf,
                    next=path,
                )
            retry = htmlrows.format(RETRY, form)
        rows.append(
            htmlrows.format(
                ALERT_ROW,
                pk=a.pk,
                url=url("therapy_sessions:detail", a.session_id),
                start=_date(a.session.start, "D M j, H:i"),
                kind=display(a.session, "kind"),
                sponsor=a.sponsor.full_name if a.sponsor is not None else "",
                channel=display(a, "channel"),
                state=_alert_state(a, _date),
                sent=_date(a.sent_at, "M j, H:i") if a.sent_at else "—",
                retry=retry,
            )
        )
    return htmlrows.join(rows)
