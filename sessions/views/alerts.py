"""The staff alerts page: every alert with its status, failed ones first, and a
retry button for failed ones."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import FRONT_DESK, require_role
from sessions.forms.alerts import AlertFilterForm
from sessions.models import Alert
from sessions.selectors import alerts as selectors
from sessions.services import alerts as services

PAGE_SIZE = 50


@require_role(*FRONT_DESK)
@require_GET
def alerts(request):
    form = AlertFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    page = Paginator(selectors.alert_list(**filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    widened = query.copy()
    widened.pop("patient_id", None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "state_counts": selectors.alert_state_counts(),
        "patient_id": filters.get("patient_id"),
        "for_patient": selectors.alert_list_patient(
            patient_id=filters.get("patient_id")
        ),
        "all_patients_query": widened.urlencode(),
    }
    template = (
        "sessions/partials/_alerts_results.html"
        if request.htmx
        else "sessions/alerts.html"
    )
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_role(*FRONT_DESK)
@require_POST
def alert_retry(request, pk):
    alert = get_object_or_404(Alert, pk=pk)
    try:
        services.alert_retry(alert=alert, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Alert {alert.pk} queued again.")
    back = request.POST.get("next", "")
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("therapy_sessions:alerts")
    # Not redirect(): it would try a string like "-1" as a URL name (500).
    return HttpResponseRedirect(back)
