"""Patients, admission requests, doctors' decisions, sponsors and consents.

Each view checks the role, binds a form, calls one service or selector, then
renders or redirects. Services refuse with ValidationError; the message goes on
the form."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods

from accounts.roles import CLINICAL, DOCTOR, FRONT_DESK, has_role, require_role
from core import searches
from core.timeutil import clinic_today
from sessions.views import alerts as alert_views

from . import forms, page, selectors, services

PAGE_SIZE = 25


def _form_error(form, exc):
    """Put a service's ValidationError on the form (by field when it names one)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                message = " ".join(error.messages)
                form.add_error(field if field in form.fields else None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def _posted(request):
    """The POST data to bind, or None on GET (an empty POST is still a submission)."""
    return request.POST if request.method == "POST" else None


def _pdf_response(data, filename):
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------ patients


SEARCHES_KEY = "patient_searches"


@require_role(*CLINICAL)
@require_http_methods(["GET", "POST"])
def patient_list(request):
    """The patient list. The search form is POSTed; its parameters are kept in the
    session and the URLs carry only `?s=<key>&page=N`."""
    choices = selectors.filter_choices()
    posted = None
    if request.method == "POST":
        posted = forms.PatientFilterForm(request.POST, choices=choices).stored()
    key, data, expired = searches.take(request, SEARCHES_KEY, posted)
    if posted is not None and not request.htmx:
        return redirect(f"{request.path}?s={key}")
    form = forms.PatientFilterForm(data, choices=choices)
    page = selectors.patient_list_page(
        user=request.user,
        filters=form.filters(),
        page_number=request.GET.get("page"),
        per_page=PAGE_SIZE,
    )
    context = {
        "form": form,
        "page": page,
        "query": f"s={key}" if key else "",
        "search_expired": expired,
        "can_register": has_role(request.user, *FRONT_DESK),
    }
    fragment = request.htmx and not request.htmx.history_restore_request
    template = (
        "patients/partials/_list_results.html" if fragment else "patients/list.html"
    )
    response = render(request, template, context)
    if fragment and request.method == "POST":
        response["HX-Push-Url"] = f"{request.path}?s={key}"
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def patient_create(request):
    form = forms.PatientForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(
                actor=request.user,
                confirm_duplicate=form.cleaned_data["confirm_duplicate"],
                **form.service_fields(),
            )
        except services.DuplicatePatient as exc:
            form.show_duplicate_confirm = True
            form.duplicates = exc.duplicates
            form.add_error(None, exc.messages[0])
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request, f"{patient.full_name} registered as {patient.record_number}."
            )
            return redirect("patients:detail", pk=patient.pk)
    return render(request, "patients/patient_form.html", {"form": form})


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def patient_edit(request, pk):
    patient = selectors.patient_get(pk=pk, user=request.user)
    form = forms.PatientForm(_posted(request), instance=patient)
    if request.method == "POST" and form.is_valid():
        try:
            services.patient_update(
                patient=patient,
                actor=request.user,
                confirm_duplicate=form.cleaned_data["confirm_duplicate"],
                **form.service_fields(),
            )
        except services.DuplicatePatient as exc:
            form.show_duplicate_confirm = True
            form.add_error(None, exc.messages[0])
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Patient details saved.")
            return redirect("patients:detail", pk=patient.pk)
    return render(
        request, "patients/patient_form.html", {"form": form, "patient": patient}
    )


@require_role(*CLINICAL)
def patient_detail(request, pk):
    # One statement for every section and the audit row (patients.page).
    context = page.patient_page(pk=pk, user=request.user)
    context["can_manage"] = has_role(request.user, *FRONT_DESK)
    context["can_schedule"] = context["can_manage"]
    context["can_decide"] = has_role(request.user, DOCTOR)
    context["can_review_flags"] = context["can_decide"]  # flag_review: doctors
    # The alerts list and its Retry button keep their own roles.
    context["can_list_alerts"] = has_role(
        request.user, *alert_views.alerts.allowed_roles
    )
    context["can_retry_alerts"] = has_role(
        request.user, *alert_views.alert_retry.allowed_roles
    )
    return render(request, "patients/detail.html", context)


def _status_view(request, pk, form_class, action, title, initial=None):
    patient = selectors.patient_get(pk=pk, user=request.user)
    form = form_class(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            action(patient, form.cleaned_data)
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request, f"{patient.full_name} is now {patient.get_status_display()}."
            )
            return redirect("patients:detail", pk=patient.pk)
    return render(
        request,
        "patients/status_form.html",
        {"form": form, "patient": patient, "title": title},
    )


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def patient_hold(request, pk):
    return _status_view(
        request,
        pk,
        forms.HoldForm,
        lambda p, d: services.patient_hold(patient=p, actor=request.user, **d),
        "Put on hold",
    )


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def patient_resume(request, pk):
    return _status_view(
        request,
        pk,
        forms.ResumeForm,
        lambda p, d: services.patient_resume(patient=p, actor=request.user, **d),
        "Resume after hold",
    )


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def patient_discharge(request, pk):
    def act(patient, data):
        services.patient_discharge(
            patient=patient,
            actor=request.user,
            on=data["on"],
            reason=data["reason"],
            note=data["note"],
        )

    return _status_view(
        request,
        pk,
        forms.DischargeForm,
        act,
        "Discharge",
        initial={"on": clinic_today()},
    )


# ---------------------------------------------------------- admission requests


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def admission_request_create(request, pk):
    patient = selectors.patient_get(pk=pk, user=request.user)
    form = forms.AdmissionRequestForm(
        _posted(request),
        initial={
            "presenting_problems": patient.presenting_problems,
            "proposed_track": patient.track_id,
            "proposed_start": clinic_today(),
            "medical_probation": patient.medical_probation,
            "medical_probation_details": patient.medical_probation_details,
            "doctor": patient.attending_doctor_id,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.admission_request_create(
                patient=patient, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Admission requested; it waits for a doctor.")
            return redirect("patients:detail", pk=patient.pk)
    return render(
        request,
        "patients/request_form.html",
        {"form": form, "patient": patient},
    )


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def admission_request_withdraw(request, pk):
    req = selectors.admission_request_get(pk=pk)
    patient = selectors.patient_get(pk=req.patient_id, user=request.user)
    form = forms.WithdrawForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.admission_request_withdraw(
                request=req, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Admission request withdrawn.")
            return redirect("patients:detail", pk=patient.pk)
    return render(
        request,
        "patients/status_form.html",
        {"form": form, "patient": patient, "title": "Withdraw admission request"},
    )


# ------------------------------------------------------------ doctors' decisions


APPROVALS_PAGE_SIZE = 20


@require_role(DOCTOR)
def approval_queue(request):
    page = selectors.approval_queue_page(
        page_number=request.GET.get("page"), per_page=APPROVALS_PAGE_SIZE
    )
    return render(request, "patients/approvals.html", {"page": page})


def _decide(request, req_pk, supersedes=None):
    context = selectors.request_for_decision(pk=req_pk, user=request.user)
    form = forms.DecisionForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            decision = services.decision_sign(
                request=context["req"],
                doctor=request.user,
                decision=d["decision"],
                password=d["password"],
                otp_code=d.get("otp_code"),
                conditions=d["conditions"],
                review_date=d["review_date"],
                reason=d["reason"],
                supersedes=supersedes,
            )
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request, f"Decision signed: {decision.get_decision_display()}."
            )
            return redirect("patients:decision", pk=decision.pk)
    context.update({"form": form, "supersedes": supersedes})
    return render(request, "patients/decide.html", context)


@require_role(DOCTOR)
@require_http_methods(["GET", "POST"])
def decide(request, pk):
    return _decide(request, pk)


@require_role(DOCTOR)
@require_http_methods(["GET", "POST"])
def decision_supersede(request, pk):
    decision = selectors.decision_get(pk=pk, user=request.user, audit_read=False)
    return _decide(request, decision.request_id, supersedes=decision)


@require_role(*CLINICAL)
def decision_detail(request, pk):
    decision = selectors.decision_get(pk=pk, user=request.user)
    sponsors = selectors.sponsors_with_active_consent(patient=decision.patient)
    return render(
        request,
        "patients/decision.html",
        {
            "decision": decision,
            "patient": decision.patient,
            "superseded_by": selectors.decision_superseded_by(decision),
            "sponsor_form": forms.SponsorChoiceForm(sponsors=sponsors),
            "sponsors": sponsors,
            "can_decide": has_role(request.user, DOCTOR),
            # Who may give the letter to a sponsor (decision_letter's POST).
            "can_give_letter": has_role(request.user, *FRONT_DESK),
        },
    )


@require_role(*CLINICAL)
@require_http_methods(["GET", "POST"])
def decision_letter(request, pk):
    """GET: the clinic's copy. POST (staff): a copy for a sponsor, logged."""
    decision = selectors.decision_get(pk=pk, user=request.user, audit_read=False)
    sponsor = None
    if request.method == "POST":
        if not has_role(request.user, *FRONT_DESK):
            return HttpResponse("Only staff give letters to sponsors.", status=403)
        sponsors = selectors.sponsors_with_active_consent(patient=decision.patient)
        form = forms.SponsorChoiceForm(request.POST, sponsors=sponsors)
        if not form.is_valid():
            messages.error(
                request, "Choose a sponsor who has an active consent from the patient."
            )
            return redirect("patients:decision", pk=decision.pk)
        sponsor = form.cleaned_data["sponsor"]
    try:
        data = services.decision_letter_render(
            decision=decision, actor=request.user, sponsor=sponsor
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("patients:decision", pk=decision.pk)
    return _pdf_response(data, f"admission-{decision.patient.record_number}.pdf")


# ------------------------------------------------------------ sponsors, consents


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def sponsor_create(request, pk):
    patient = selectors.patient_get(pk=pk, user=request.user)
    form = forms.SponsorForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            sponsor = services.sponsor_create(
                patient=patient, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                f"{sponsor.full_name} added. Record the patient's signed consent "
                "before anything is disclosed to them.",
            )
            return redirect("patients:consent_create", pk=sponsor.pk)
    return render(
        request, "patients/sponsor_form.html", {"form": form, "patient": patient}
    )


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def sponsor_edit(request, pk):
    sponsor = selectors.sponsor_get(pk=pk)
    patient = selectors.patient_get(pk=sponsor.patient_id, user=request.user)
    form = forms.SponsorForm(_posted(request), instance=sponsor)
    if request.method == "POST" and form.is_valid():
        try:
            services.sponsor_update(
                sponsor=sponsor, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, "Sponsor saved.")
            return redirect("patients:detail", pk=patient.pk)
    return render(
        request,
        "patients/sponsor_form.html",
        {"form": form, "patient": patient, "sponsor": sponsor},
    )


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def consent_create(request, pk):
    sponsor = selectors.sponsor_get(pk=pk)
    patient = selectors.patient_get(pk=sponsor.patient_id, user=request.user)
    replaces = selectors.sponsor_consent(
        sponsor=sponsor, pk=request.GET.get("replaces", "")
    )
    today = clinic_today()
    initial = {
        "purpose": services.DEFAULT_PURPOSE,
        "effective_on": today,
        "signed_on": today,
        "signed_name": "",
    }
    if replaces is not None:
        initial.update(
            scope=replaces.scope,
            purpose=replaces.purpose,
            expiry="discharge" if replaces.expires_on_discharge else "date",
            expires_on=replaces.expires_on,
        )
    form = forms.ConsentForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        kwargs = form.service_kwargs()
        if kwargs is not None:
            try:
                services.consent_create(
                    sponsor=sponsor, actor=request.user, replaces=replaces, **kwargs
                )
            except ValidationError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"Consent to {sponsor.full_name} recorded.")
                return redirect("patients:detail", pk=patient.pk)
    return render(
        request,
        "patients/consent_form.html",
        {"form": form, "patient": patient, "sponsor": sponsor, "replaces": replaces},
    )


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def consent_revoke(request, pk):
    consent = selectors.consent_get(pk=pk)
    patient = selectors.patient_get(pk=consent.patient_id, user=request.user)
    form = forms.RevokeForm(_posted(request), initial={"on": clinic_today()})
    if request.method == "POST" and form.is_valid():
        try:
            services.consent_revoke(
                consent=consent, actor=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request, f"Consent to {consent.sponsor.full_name} revoked."
            )
            return redirect("patients:detail", pk=patient.pk)
    return render(
        request,
        "patients/revoke_form.html",
        {"form": form, "patient": patient, "consent": consent},
    )


@require_role(*FRONT_DESK)
def consent_blank_pdf(request, pk):
    """The consent form for the patient to sign on paper."""
    sponsor = selectors.sponsor_get(pk=pk)
    data = services.consent_form_render(actor=request.user, sponsor=sponsor)
    return _pdf_response(data, f"consent-{sponsor.patient.record_number}.pdf")


@require_role(*FRONT_DESK)
@require_http_methods(["GET", "POST"])
def consent_pdf(request, pk):
    """GET: the recorded consent, for the file. POST: a copy for its recipient."""
    consent = selectors.consent_get(pk=pk)
    try:
        data = services.consent_form_render(
            actor=request.user,
            consent=consent,
            sponsor_copy=request.method == "POST",
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("patients:detail", pk=consent.patient_id)
    return _pdf_response(data, f"consent-{consent.patient.record_number}.pdf")
