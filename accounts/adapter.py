from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings


class ClinicAccountAdapter(DefaultAccountAdapter):
    """Accounts are created by administrators or by invitation, never by sign-up."""

    def is_open_for_signup(self, request):
        return False

    def logout(self, request):
        from accounts.services import audit_logout

        if request.user.is_authenticated:
            audit_logout(user=request.user)
        super().logout(request)


class ClinicMFAAdapter(DefaultMFAAdapter):
    """Clinic roles that must use MFA cannot switch their authenticator app off."""

    def can_delete_authenticator(self, authenticator):
        from accounts.roles import role_of

        if authenticator.type == Authenticator.Type.TOTP and role_of(
            authenticator.user
        ) in getattr(settings, "MFA_REQUIRED_ROLES", ()):
            return False
        return super().can_delete_authenticator(authenticator)
