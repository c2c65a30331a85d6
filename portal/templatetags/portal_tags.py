from django import template

from accounts.roles import ADMIN, STAFF, has_role

from .. import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def sponsor_invitation(context, sponsor):
    """The open invitation of `sponsor`, or None. The invitations of all of the
    patient's sponsors are read at once and kept on the request, so a patient page
    with many sponsors still costs one query. A sponsor loaded with its open
    invitation (`open_invitation`, as the patient page's selector does) costs none."""
    if hasattr(sponsor, "open_invitation"):
        return sponsor.open_invitation
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
