"""Writing audit rows. Services call `audit()` inside their own transaction.

The IP address and user agent come from the request being served, which
`AuditContextMiddleware` puts in a context variable, so that services need not
be handed the request.
"""

import contextvars

from .models import AuditEvent

_request_meta = contextvars.ContextVar("audit_request_meta", default=None)


def request_meta(request):
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    ip = (
        forwarded.split(",")[0].strip()
        if forwarded
        else request.META.get("REMOTE_ADDR")
    )
    return {
        "ip_address": ip or None,
        "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
    }


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request_meta.set(request_meta(request))
        try:
            return self.get_response(request)
        finally:
            _request_meta.reset(token)


def actor_fields(user):
    """Whom an audit row names: the user (None when not logged in), their role,
    and the current request's IP address and user agent (when there is one)."""
    from accounts.roles import role_of

    actor = user if getattr(user, "is_authenticated", False) else None
    return {
        "user": actor,
        "role": (role_of(actor) or "") if actor else "",
        **(_request_meta.get() or {}),
    }


def audit(*, user, action, obj=None, patient=None, changed_fields=(), summary=""):
    """Write one audit row: who did what to which record, and whose record it is."""
    return AuditEvent.objects.create(
        **actor_fields(user),
        action=action,
        model=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        patient=patient,
        changed_fields=sorted(changed_fields),
        summary=summary[:200],
    )
