"""Multi-factor helpers on top of allauth.mfa (TOTP and recovery codes)."""

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.conf import settings

from .roles import role_of

MFA_OK_SESSION_KEY = "iop_mfa_ok"


def mfa_required_for(user):
    """True when the user's role must use an authenticator app."""
    required = getattr(settings, "MFA_REQUIRED_ROLES", ())
    return bool(required) and role_of(user) in required


def has_totp(user):
    return Authenticator.objects.filter(
        user_id=user.pk, type=Authenticator.Type.TOTP
    ).exists()


def verify_totp(*, user, code):
    """True when `code` is the user's current one-time code (each code works once).

    Uses allauth.mfa's own TOTP validation: the secret is decrypted by the MFA
    adapter and a code already used is refused (kept in the cache)."""
    code = (code or "").strip().replace(" ", "")
    if not code.isdigit():
        return False
    authenticator = Authenticator.objects.filter(
        user_id=user.pk, type=Authenticator.Type.TOTP
    ).first()
    if authenticator is None:
        return False
    if not TOTP(authenticator).validate_code(code):
        return False
    authenticator.record_usage()
    return True


def current_totp_code(secret):
    """The code an authenticator app shows now for a base32 `secret` (for the
    demo's fixed secret and for tests)."""
    import time

    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    return format_hotp_value(
        hotp_value(secret, int(time.time()) // app_settings.TOTP_PERIOD)
    )
