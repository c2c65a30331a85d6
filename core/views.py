from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.roles import ADMIN, DOCTOR, SPONSOR, STAFF, require_role, role_of

from . import selectors, services
from .forms import AuditSearchForm, ClinicSettingsForm


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


# --- Administrator and compliance pages ---------------------------------------


@require_role(ADMIN)
@never_cache
def audit_log(request):
    """The audit trail: search by patient, user, action and dates (POST, so that no
    patient name lands in a URL), 50 rows a page, CSV export."""
    from django.core.paginator import Paginator

    form = AuditSearchForm(request.POST or None)
    filters, page_number = {}, 1
    if form.is_bound and form.is_valid():
        filters = dict(form.cleaned_data)
        page_number = filters.pop("page") or 1
    events = selectors.audit_events(**filters)
    if "export" in request.POST and form.is_valid():
        return _audit_csv(request, events)
    page = Paginator(events, selectors.AUDIT_PAGE_SIZE).get_page(page_number)
    return render(request, "core/audit.html", {"form": form, "page": page})


def _csv_cell(value):
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a cell starting like a formula is quoted.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


def _audit_csv(request, events):
    import csv
    import io

    from django.http import HttpResponse

    from .timeutil import local

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "when",
            "user",
            "role",
            "action",
            "model",
            "object id",
            "patient record",
            "changed fields",
            "summary",
            "ip address",
            "user agent",
        ]
    )
    count = 0
    for event in events.iterator(chunk_size=2000):
        count += 1
        writer.writerow(
            [
                _csv_cell(v)
                for v in (
                    local(event.at).isoformat(timespec="seconds"),
                    event.user.email if event.user else "",
                    event.role,
                    event.get_action_display(),
                    event.model,
                    event.object_id,
                    event.patient.record_number if event.patient else "",
                    " ".join(event.changed_fields or []),
                    event.summary,
                    event.ip_address or "",
                    event.user_agent,
                )
            ]
        )
    services.audit_export_record(user=request.user, row_count=count)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_role(STAFF, ADMIN)
@never_cache
@require_GET
def disclosures(request, pk):
    """Accounting of disclosures (42 CFR 2.24 / HIPAA 164.528): everything that
    went out about this patient in the last 3 years."""
    from django.shortcuts import get_object_or_404

    from patients.models import Patient

    patient = get_object_or_404(Patient, pk=pk)
    context = selectors.disclosures_accounting(patient=patient)
    services.disclosures_view_record(user=request.user, patient=patient)
    return render(request, "core/disclosures.html", context)


@require_role(STAFF, ADMIN)
@never_cache
@require_GET
def disclosures_pdf(request, pk):
    from django.http import HttpResponse
    from django.shortcuts import get_object_or_404

    from patients.models import Patient
    from patients.pdf import render_pdf

    patient = get_object_or_404(Patient, pk=pk)
    context = selectors.disclosures_accounting(patient=patient)
    pdf = render_pdf("core/disclosures_pdf.html", context)
    services.disclosures_export_record(
        user=request.user, patient=patient, row_count=len(context["disclosures"])
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="disclosures-{patient.record_number}.pdf"'
    )
    response["Cache-Control"] = "no-store"
    return response


@require_role(ADMIN)
def program_settings(request):
    from django.contrib import messages

    from .models import ClinicSettings

    instance = ClinicSettings.read()  # saved (created if need be) by the service
    form = ClinicSettingsForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        services.clinic_settings_update(user=request.user, form=form)
        messages.success(request, "Program settings saved.")
        return redirect("core:settings")
    return render(request, "core/settings.html", {"form": form})
