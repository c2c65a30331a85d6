from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings


class ClinicAccountAdapter(DefaultAccountAdapter):
    """Accounts are created by administrators or by invitation, never by sign-up."""

    def is_open_for_signup(self, request):
        return False

    def is_reauthentication_required(self, *, app, **kwargs):
        """Setting up the first authenticator app right after logging in does not
        ask for the password a second time; changing an existing one does."""
        if app == "allauth.mfa" and _just_logged_in_without_mfa():
            return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def logout(self, request):
        from accounts.services import audit_logout

        if request.user.is_authenticated:
            audit_logout(user=request.user)
        super().logout(request)


def _just_logged_in_without_mfa():
    import time

    from allauth.core import context

    from accounts.mfa import has_totp
    from core.middleware import AUTH_AT

    request = context.request
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    logged_in_at = request.session.get(AUTH_AT)
    return (
        logged_in_at is not None
        and time.time() - logged_in_at < REENROL_WINDOW_SECONDS
        and not has_totp(user)
    )


REENROL_WINDOW_SECONDS = 300


class ClinicMFAAdapter(DefaultMFAAdapter):
    """Clinic roles that must use MFA cannot switch their authenticator app off."""

    def can_delete_authenticator(self, authenticator):
        from accounts.roles import role_of

        if authenticator.type == Authenticator.Type.TOTP and role_of(
            authenticator.user
        ) in getattr(settings, "MFA_REQUIRED_ROLES", ()):
            return False
        return super().can_delete_authenticator(authenticator)
