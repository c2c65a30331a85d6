"""Security middleware: session limits and required multi-factor enrolment."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

AUTH_AT = "iop_auth_at"
SEEN_AT = "iop_seen_at"
IDLE = "iop_idle_seconds"
# Write the "last seen" time at most this often, so that most requests do not
# have to save the session.
TOUCH_EVERY_SECONDS = 60


def idle_seconds_for(user):
    from accounts.roles import SPONSOR, role_of

    if role_of(user) == SPONSOR:
        return settings.SESSION_IDLE_MINUTES_SPONSOR * 60
    return settings.SESSION_IDLE_MINUTES_STAFF * 60


def _log_out(request, user, *, summary, message):
    """End the session (audited with `summary`) and send the person to the login
    page with `message`."""
    from accounts.services import audit_logout

    audit_logout(user=user, summary=summary)
    logout(request)
    messages.info(request, message)
    login_url = reverse(settings.LOGIN_URL)
    if getattr(request, "htmx", False):
        return HttpResponse(status=204, headers={"HX-Redirect": login_url})
    if request.method == "GET":
        return redirect_to_login(request.get_full_path(), login_url)
    return redirect(login_url)


class SessionLimitsMiddleware:
    """Log out after SESSION_IDLE_MINUTES_* without a request, and after
    SESSION_MAX_HOURS in all, whatever the activity. Sets
    `request.session_remaining` (seconds) for the warning script."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            getattr(settings, "SESSION_LIMITS_ENFORCED", True)
            and user is not None
            and user.is_authenticated
        ):
            response = self._check(request, user)
            if response is not None:
                return response
        response = self.get_response(request)
        remaining = getattr(request, "session_remaining", None)
        if remaining is not None:
            response.headers["X-Session-Remaining"] = str(remaining)
        return response

    def _check(self, request, user):
        session = request.session
        now = time.time()
        auth_at = session.get(AUTH_AT)
        seen_at = session.get(SEEN_AT)
        idle = session.get(IDLE)
        if auth_at is None or seen_at is None or idle is None:
            # A session from before these limits: start its clocks now.
            auth_at = session.setdefault(AUTH_AT, now)
            seen_at = session[SEEN_AT] = now
            idle = session[IDLE] = idle_seconds_for(user)
        maximum = settings.SESSION_MAX_HOURS * 3600
        if now - auth_at >= maximum:
            return _log_out(
                request,
                user,
                summary="Session ended: time limit reached",
                message=f"You were logged out: sessions last at most "
                f"{settings.SESSION_MAX_HOURS} hours. Please log in again.",
            )
        if now - seen_at >= idle:
            return _log_out(
                request,
                user,
                summary="Session ended: inactivity",
                message=f"You were logged out after {idle // 60} minutes without "
                f"activity. Please log in again.",
            )
        if now - seen_at >= TOUCH_EVERY_SECONDS or request.path == reverse(
            "accounts:keepalive"
        ):
            session[SEEN_AT] = seen_at = now
        request.session_remaining = int(
            max(0, min(idle - (now - seen_at), maximum - (now - auth_at)))
        )
        return None


class MFARequiredMiddleware:
    """Roles in MFA_REQUIRED_ROLES must enrol an authenticator app before they
    can open anything but allauth's own pages (login, logout, enrolment),
    static files and the health check."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from accounts.mfa import MFA_OK_SESSION_KEY, has_totp, mfa_required_for

        user = getattr(request, "user", None)
        if (
            getattr(settings, "MFA_REQUIRED_ROLES", ())
            and user is not None
            and user.is_authenticated
            and not request.session.get(MFA_OK_SESSION_KEY)
            and not self._exempt(request.path)
            and mfa_required_for(user)
        ):
            if has_totp(user):
                request.session[MFA_OK_SESSION_KEY] = True
            else:
                target = reverse("mfa_activate_totp")
                if getattr(request, "htmx", False):
                    return HttpResponse(status=204, headers={"HX-Redirect": target})
                messages.info(
                    request,
                    "Your role needs two-factor authentication. Set up an "
                    "authenticator app to continue.",
                    fail_silently=True,
                )
                return redirect(target)
        return self.get_response(request)

    @staticmethod
    def _exempt(path):
        allowed = ("/accounts/", settings.STATIC_URL, "/healthz")
        return path.startswith(allowed) or path == reverse("accounts:keepalive")
