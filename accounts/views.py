from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .mfa import has_totp
from .roles import ALL_ROLES, require_role
from .services import user_sessions_end_all


@require_role(*ALL_ROLES)
def account(request):
    """The account page: two-factor status, password, log out everywhere."""
    return render(
        request,
        "account/account.html",
        {"has_totp": has_totp(request.user)},
    )


@require_POST
@require_role(*ALL_ROLES)
def logout_everywhere(request):
    user_sessions_end_all(user=request.user)
    logout(request)
    messages.success(request, "You were logged out on every device, this one included.")
    return redirect("account_login")


@require_POST
@require_role(*ALL_ROLES)
def keepalive(request):
    """The "stay logged in" button: the session middleware records activity."""
    return JsonResponse({"remaining": getattr(request, "session_remaining", None)})
