"""A doctor marks a patient's attendance-rule flag reviewed, with a note."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from accounts.roles import DOCTOR, require_role
from patients.models import Patient
from sessions.forms.flags import FlagReviewForm
from sessions.selectors.attendance import patient_flag_state
from sessions.services.flags import flag_review_record


def _next_url(request, value, patient):
    """Where to go back to: a page of this site, else the patient's page."""
    if (
        value
        and value.isprintable()
        and not any(c.isspace() for c in value)
        and url_has_allowed_host_and_scheme(
            value,
            allowed_hosts={request.get_host()},
            require_https=request.is_secure(),
        )
    ):
        return value
    return reverse("patients:detail", args=[patient.pk]) + "#hours"


@require_http_methods(["GET", "POST"])
@require_role(DOCTOR)
def flag_review(request, pk):
    """The flag's reasons and a note to mark it reviewed (GET); the review
    itself (POST), then back to the page the doctor came from."""
    patient = get_object_or_404(Patient, pk=pk)
    status = 200
    if request.method == "POST":
        form = FlagReviewForm(request.POST)
        if form.is_valid():
            try:
                flag_review_record(
                    patient=patient,
                    doctor=request.user,
                    note=form.cleaned_data["note"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(
                    request, f"Attendance flag of {patient.full_name} reviewed."
                )
                return redirect(_next_url(request, form.cleaned_data["next"], patient))
        status = 400
    else:
        form = FlagReviewForm(initial={"next": request.GET.get("next", "")})
    context = {
        "patient": patient,
        "form": form,
        "flag": patient_flag_state(patient=patient),
        "back": _next_url(request, form["next"].value(), patient),
    }
    return render(request, "sessions/flag_review.html", context, status=status)
