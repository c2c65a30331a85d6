"""Sponsors stay inside the sponsor portal.

A sponsor is outside the clinic: whatever page exists or is added later, a
sponsor's request for anything but the portal, the account pages (password,
log out, two-factor) and the home redirect is refused with 403 before any view
runs. This also covers the Django admin and views that forget a role check."""

from django.core.exceptions import PermissionDenied

from accounts.roles import SPONSOR, role_of

SPONSOR_ALLOWED_PREFIXES = ("/sponsor/", "/accounts/", "/account/", "/static/")
SPONSOR_ALLOWED_PATHS = ("/",)


def sponsor_may_open(path):
    return path in SPONSOR_ALLOWED_PATHS or path.startswith(SPONSOR_ALLOWED_PREFIXES)


class SponsorBoundaryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not sponsor_may_open(request.path_info)
            and role_of(user) == SPONSOR
        ):
            raise PermissionDenied("Sponsors may use only the sponsor portal.")
        return self.get_response(request)
