"""Receivers: audit rows for logins, logouts and failed attempts; session stamps."""

import time

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver

from core.middleware import AUTH_AT, IDLE, SEEN_AT, idle_seconds_for

from . import services
from .mfa import MFA_OK_SESSION_KEY


@receiver(auth_signals.user_logged_in, dispatch_uid="iop_session_stamps")
def stamp_session(sender, request, user, **kwargs):
    """Every login (also the test client's force_login) starts both clocks."""
    session = getattr(request, "session", None)
    if session is None:
        return
    now = time.time()
    session[AUTH_AT] = now
    session[SEEN_AT] = now
    session[IDLE] = idle_seconds_for(user)


@receiver(account_signals.user_logged_in, dispatch_uid="iop_audit_login")
def audit_login(sender, request, user, **kwargs):
    services.audit_login(user=user)


@receiver(auth_signals.user_login_failed, dispatch_uid="iop_audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    login = credentials.get("email") or credentials.get("username") or ""
    services.audit_login_failed(login=login)


@receiver(mfa_signals.authentication_failed, dispatch_uid="iop_audit_mfa_failed")
def audit_mfa_failed(sender, request, user, **kwargs):
    services.audit_mfa_failed(user=user)


@receiver(mfa_signals.authenticator_added, dispatch_uid="iop_mfa_added")
def mfa_added(sender, request, user, authenticator, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[MFA_OK_SESSION_KEY] = True
    services.audit_authenticator_added(user=user, authenticator=authenticator)
