"""The staff alerts page: every alert with its status, failed ones first, and a
retry button for failed ones."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import FRONT_DESK, require_role
from core import searches
from sessions.forms.alerts import AlertFilterForm
from sessions.models import Alert
from sessions.selectors import alerts as selectors
from sessions.services import alerts as services

PAGE_SIZE = 50


SEARCHES_KEY = "alert_searches"
# Filters that name a person: accepted only from a POSTed search kept in the
# session (core.searches), never from the query string.
NAMED = ("patient", "sponsor")


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def alerts(request):
    """Every alert, failed first, filtered. The filter form is POSTed and kept in the
    session (the URLs carry `?s=<key>`); status, kind, dates and a patient's id may
    also come in the query string (the dashboard's and patient page's links)."""
    posted = None
    if request.method == "POST":
        posted = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
    key, data, expired = searches.take(request, SEARCHES_KEY, posted)
    if posted is not None and not request.htmx:
        return redirect(f"{request.path}?s={key}")
    if expired:
        data = {}
        messages.info(request, "That search has expired; showing every alert.")
    elif data is None:
        data = {k: v for k, v in request.GET.items() if k not in (*NAMED, "page")}
    form = AlertFilterForm(data or None)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    page = Paginator(selectors.alert_list(**filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = f"s={key}" if key else urlencode(data)
    # Every patient's alerts with the other filters kept (those that fit in a URL).
    widened = {k: v for k, v in data.items() if k not in (*NAMED, "patient_id")}
    context = {
        "form": form,
        "page": page,
        "query": query,
        "state_counts": selectors.alert_state_counts(),
        "patient_id": filters.get("patient_id"),
        "for_patient": selectors.alert_list_patient(
            patient_id=filters.get("patient_id")
        ),
        "all_patients_query": urlencode(widened),
    }
    template = (
        "sessions/partials/_alerts_results.html"
        if request.htmx
        else "sessions/alerts.html"
    )
    response = render(request, template, context)
    if request.htmx and key:
        response["HX-Push-Url"] = f"{request.path}?s={key}"
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
