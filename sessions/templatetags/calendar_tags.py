"""The calendar's days and session tiles, written in Python: a week or a busy day
of the whole clinic holds hundreds of tiles, and each tile or day costs a dozen
template lookups and filters through the engine (most of the page's time). Same
markup as the template it replaces; every value is escaped."""

from html import escape

from django import template
from django.utils.safestring import mark_safe

from core import urlcache
from core.timeutil import clinic_zone

register = template.Library()


def _tile(s, url, zone):
    """One session as a link (to `url`, already escaped): time, label (and topic),
    room or telehealth, the facilitators, a group's places taken, and whether it
    was cancelled."""
    cancelled = s.status == "cancelled"
    label = s.label
    if s.title and s.topic_id:
        label = f"{label}: {s.topic.name}"
    line = " · ".join(
        [
            s.room.name if s.room_id else "Telehealth",
            ", ".join(s.facilitator_names or ()),
        ]
    )
    if s.kind == "group":
        line += f" · {s.patient_count}/{s.capacity}"
    if cancelled:
        line += " · cancelled"
    return (
        f'<a class="event {escape(s.kind)}{" cancelled" if cancelled else ""}" '
        f'href="{url}">'
        f"<strong>{s.start.astimezone(zone):%H:%M}–{s.end.astimezone(zone):%H:%M}"
        f"</strong> {escape(label)}<br>"
        f'<span class="small">{escape(line)}</span></a>'
    )


def _tiles(sessions):
    """A day's sessions as tiles, or "No sessions"."""
    if not sessions:
        return '<p class="muted small">No sessions</p>'
    zone = clinic_zone()
    link = urlcache.Links()
    return "\n".join(
        _tile(s, escape(link("therapy_sessions:detail", s.pk)), zone) for s in sessions
    )


@register.simple_tag
def session_tiles(sessions):
    """A day's sessions as tiles, or "No sessions"."""
    return mark_safe(_tiles(sessions))  # noqa: S308 (every value is escaped in _tile)


@register.simple_tag(takes_context=True)
def week_day(context, day):
    """One day of the week grid (a dict of calendar_week's "days"): its heading,
    linking to that day's agenda; its sessions; and, for the front desk, links to
    add a session or a weekly series on that day (in the room shown, if any)."""
    iso = escape(day["iso"])
    agenda = escape(urlcache.url("therapy_sessions:agenda"))
    parts = [
        f'<section class="day{" today" if day["today"] else ""}" '
        f'aria-labelledby="d-{iso}">',
        f'<h2 class="small" id="d-{iso}"><a href="{agenda}?day={iso}">'
        f"{escape(day['label'])}</a></h2>",
        _tiles(day["sessions"]),
    ]
    if context.get("can_edit"):
        room = context.get("room")
        in_room = f"&amp;room={int(room.pk)}" if room else ""
        long = escape(day["long"])
        create = escape(urlcache.url("therapy_sessions:create"))
        series = escape(urlcache.url("therapy_sessions:series_create"))
        parts.append(
            f'<p class="small"><a href="{create}?date={iso}{in_room}">'
            f'+ Session<span class="visually-hidden"> on {long}</span></a> · '
            f'<a href="{series}?starts_on={iso}'
            f'&amp;weekdays={int(day["weekday"])}{in_room}">'
            f'+ Weekly<span class="visually-hidden"> series from {long}</span></a></p>'
        )
    parts.append("</section>")
    return mark_safe("\n".join(parts))  # noqa: S308 (every value is escaped)
