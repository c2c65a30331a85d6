"""Account writes: audit rows for logins, logouts and two-factor events, "log out
everywhere"."""

from django.db import transaction
from django.db.models import F

from core.audit import audit
from core.models import AuditEvent

from .models import User
from .selectors import user_by_email


def audit_login(*, user, summary="Logged in"):
    with transaction.atomic():
        audit(user=user, action=AuditEvent.Action.LOGIN, obj=user, summary=summary)


def audit_logout(*, user, summary="Logged out"):
    with transaction.atomic():
        audit(user=user, action=AuditEvent.Action.LOGOUT, obj=user, summary=summary)


def audit_login_failed(*, login):
    """A failed password attempt. `login` is what was typed as the email."""
    login = (login or "").strip()[:150]
    user = user_by_email(login)
    with transaction.atomic():
        audit(
            user=user,
            action=AuditEvent.Action.LOGIN_FAILED,
            obj=user,
            summary="Failed login"
            + (" (unknown email)" if user is None and login else ""),
        )


def audit_mfa_failed(*, user):
    with transaction.atomic():
        audit(
            user=user,
            action=AuditEvent.Action.LOGIN_FAILED,
            obj=user,
            summary="Wrong one-time code",
        )


def audit_authenticator_added(*, user, authenticator):
    with transaction.atomic():
        audit(
            user=user,
            action=AuditEvent.Action.UPDATE,
            obj=user,
            summary=f"Added {authenticator.get_type_display()}",
        )


def user_sessions_end_all(*, user):
    """Invalidate every session of `user` (all browsers, this one included).

    Each session carries a hash that includes `session_generation`; bumping it
    makes Django refuse all existing sessions on their next request."""
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(
            session_generation=F("session_generation") + 1
        )
        audit(
            user=user,
            action=AuditEvent.Action.LOGOUT,
            obj=user,
            summary="Logged out everywhere",
        )
    user.refresh_from_db(fields=["session_generation"])
