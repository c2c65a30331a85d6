from django import template

from accounts.roles import ADMIN, STAFF, has_role
from core.timeutil import local

from .. import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def sponsor_invitation(context, sponsor):
    """The open invitation of `sponsor`, or None. The invitations of all of the
    patient's sponsors are read at once and kept on the request, so a patient page
    with many sponsors still costs one query."""
    request = context.get("request")
    cache = getattr(request, "_portal_invitations", None) if request else None
    if cache is None:
        cache = {}
        if request is not None:
            request._portal_invitations = cache
    if sponsor.patient_id not in cache:
        cache[sponsor.patient_id] = selectors.invitations_for_patient(
            sponsor.patient_id
        )
    return cache[sponsor.patient_id].get(sponsor.pk)


@register.simple_tag(takes_context=True)
def can_invite_sponsors(context):
    request = context.get("request")
    return bool(request) and has_role(request.user, STAFF, ADMIN)


# Dates and times in the clinic's zone, as the "D, M j, Y" and "g:i A" formats
# print them in English, without the per-character work of the `date` filter
# (a page of ten patients prints about sixty of them).


def _clock(moment):
    return f"{moment.hour % 12 or 12}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


@register.filter
def day(value):
    """Mon, Nov 30, 2026"""
    moment = local(value)
    return f"{moment:%a, %b} {moment.day}, {moment.year}"


@register.filter
def day_short(value):
    """Mon, Nov 30"""
    moment = local(value)
    return f"{moment:%a, %b} {moment.day}"


@register.filter
def clock(value):
    """9:00 AM"""
    return _clock(local(value))


@register.filter
def moment(value):
    """Nov 30, 9:00 AM"""
    moment = local(value)
    return f"{moment:%b} {moment.day}, {_clock(moment)}"


@register.filter
def span(slot):
    """Mon, Nov 30, 9:00 AM–12:00 PM: a session's day and hours."""
    start = local(slot.start)
    return f"{start:%a, %b} {start.day}, {_clock(start)}–{_clock(local(slot.end))}"
