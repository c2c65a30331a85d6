import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

from accounts import roles


@pytest.fixture
def security_on(settings):
    """MFA enrolment and session limits as in production."""
    settings.MFA_REQUIRED_ROLES = (roles.ADMIN, roles.DOCTOR, roles.STAFF)
    settings.SESSION_LIMITS_ENFORCED = True
    return settings


def enrol(user, secret=None):
    """Give `user` an authenticator app (and recovery codes); returns the secret."""
    secret = secret or generate_totp_secret()
    Authenticator.objects.filter(user=user).delete()
    TOTP.activate(user, secret)
    RecoveryCodes.activate(user)
    return secret
