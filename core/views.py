from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.roles import ADMIN, DOCTOR, SPONSOR, STAFF, require_role, role_of

from . import selectors


def home(request):
    """Send each role to its own dashboard."""
    role = role_of(request.user)
    if role == SPONSOR:
        return redirect("sponsor:home")
    if role == DOCTOR:
        return redirect("core:doctor_dashboard")
    if role == ADMIN:
        return redirect("core:admin_dashboard")
    if role == STAFF:
        return redirect("core:staff_dashboard")
    return render(request, "core/no_role.html", status=403)


@require_role(STAFF, ADMIN)
def staff_dashboard(request):
    context = selectors.staff_dashboard(user=request.user)
    return render(request, "core/staff_dashboard.html", context)


@require_role(DOCTOR)
def doctor_dashboard(request):
    context = selectors.doctor_dashboard(doctor=request.user)
    return render(request, "core/doctor_dashboard.html", context)


@require_role(ADMIN)
def admin_dashboard(request):
    context = selectors.admin_dashboard()
    return render(request, "core/admin_dashboard.html", context)


def _redis_ok():
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _database_ok():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:  # noqa: BLE001 - any failure means "down"
        return False


@login_not_required
@never_cache
@require_GET
def healthz(request):
    checks = {"database": _database_ok(), "redis": _redis_ok()}
    down = [name for name, ok in checks.items() if not ok]
    body = {
        "status": "ok" if not down else "unavailable",
        "checks": {name: "ok" if ok else "down" for name, ok in checks.items()},
    }
    if down:
        body["down"] = down
    return JsonResponse(body, status=503 if down else 200)
