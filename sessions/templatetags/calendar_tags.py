"""The calendar's session tiles, written in Python: a week or a busy day of the
whole clinic holds hundreds of them, and each costs a dozen template lookups and
filters through the engine. Same markup as the template it replaces; every value
is escaped."""

from html import escape

from django import template
from django.urls import reverse
from django.utils.safestring import mark_safe

from core.timeutil import clinic_zone

register = template.Library()

_PK = 2147483647  # a placeholder id, replaced by each session's own


def _detail_url(context, pk):
    """The session page's URL, reversed once per render."""
    cache = context.render_context
    if "calendar_detail_url" not in cache:
        cache["calendar_detail_url"] = reverse("therapy_sessions:detail", args=[_PK])
    return cache["calendar_detail_url"].replace(str(_PK), str(pk))


def _tile(s, url, zone):
    """One session as a link: time, label (and topic), room or telehealth, the
    facilitators, a group's places taken, and whether it was cancelled."""
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
        f'href="{escape(url)}">'
        f"<strong>{s.start.astimezone(zone):%H:%M}–{s.end.astimezone(zone):%H:%M}"
        f"</strong> {escape(label)}<br>"
        f'<span class="small">{escape(line)}</span></a>'
    )


@register.simple_tag(takes_context=True)
def session_tiles(context, sessions):
    """A day's sessions as tiles, or "No sessions"."""
    if not sessions:
        return mark_safe('<p class="muted small">No sessions</p>')
    zone = clinic_zone()
    html = "\n".join(_tile(s, _detail_url(context, s.pk), zone) for s in sessions)
    return mark_safe(html)  # noqa: S308 (every value is escaped in _tile)
