"""The sponsor portal, and the staff controls that invite sponsors to it.

Every sponsor page that shows anything about a patient writes one Disclosure row
per patient shown and carries the 42 CFR 2.32 notice (templates/portal/base.html).
"""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import ADMIN, SPONSOR, STAFF, require_role
from accounts.selectors import user_by_email
from patients.models import PART2_NOTICE, Disclosure, Sponsor

from . import selectors, services
from .forms import LetterForm, PreferencesForm, SetPasswordForm
from .models import SponsorInvitation


def _private(response):
    """Disclosed pages are never stored by browsers or proxies."""
    patch_cache_control(response, no_store=True, private=True)
    return response


def with_consent(view):
    """Look up this login's consent for the patient in the URL first: any other
    patient id is a 404, whatever the method."""

    @wraps(view)
    def wrapper(request, patient_id, *args, **kwargs):
        consent = selectors.consent_for_patient(
            user=request.user, patient_id=patient_id
        )
        if consent is None:
            raise Http404("No patient to show.")
        return view(request, consent, *args, **kwargs)

    return wrapper


# --- the sponsor's pages ---------------------------------------------------------


@require_role(SPONSOR)
@require_http_methods(["GET", "HEAD"])
def home(request):
    # The page and its Disclosure rows in one statement.
    page = services.patients_page_disclose(
        user=request.user,
        page_number=request.GET.get("page"),
        reference=request.get_full_path(),
    )
    return _private(
        render(request, "portal/home.html", {"page": page, "notice": PART2_NOTICE})
    )


@require_role(SPONSOR)
@with_consent
@require_http_methods(["GET", "HEAD"])
def patient(request, consent):
    page = selectors.attendance_history_page(
        consent=consent, page_number=request.GET.get("page")
    )
    if request.htmx:
        services.disclosures_record(
            user=request.user,
            consents=[consent],
            what=f"Attendance history (date and status), page {page.number}",
            channel=Disclosure.Channel.PORTAL,
            reference=request.get_full_path(),
        )
        response = render(
            request,
            "portal/partials/_history.html",
            {"consent": consent, "page": page, "notice": PART2_NOTICE},
        )
        patch_vary_headers(response, ["HX-Request"])
        return _private(response)
    card = selectors.patient_card(consent=consent)
    services.disclosures_record(
        user=request.user,
        consents=[consent],
        what="Sponsor page for one patient: attendance this week, last missed "
        f"session, next sessions, attendance history (page {page.number}), alerts",
        channel=Disclosure.Channel.PORTAL,
        reference=request.get_full_path(),
    )
    response = render(
        request,
        "portal/patient.html",
        {
            "card": card,
            "consent": consent,
            "page": page,
            "letter_form": LetterForm(consent=consent),
            "notice": PART2_NOTICE,
        },
    )
    patch_vary_headers(response, ["HX-Request"])
    return _private(response)


@require_role(SPONSOR)
@with_consent
@require_http_methods(["GET", "HEAD"])
def letter(request, consent):
    form = LetterForm(request.GET or None, consent=consent)
    if not form.is_valid():
        services.disclosures_record(
            user=request.user,
            consents=[consent],
            what="Attendance letter request form (patient name, consent dates)",
            channel=Disclosure.Channel.PORTAL,
            reference=request.get_full_path(),
        )
        status = 400 if request.GET else 200
        return _private(
            render(
                request,
                "portal/letter.html",
                {"consent": consent, "form": form, "notice": PART2_NOTICE},
                status=status,
            )
        )
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    pdf = services.attendance_letter_render(
        user=request.user,
        consent=consent,
        start=start,
        end=end,
        reference=request.get_full_path(),
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    filename = f"attendance-letter-{start:%Y%m%d}-{end:%Y%m%d}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return _private(response)


@require_role(SPONSOR)
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request):
    form = PreferencesForm(
        request.POST or None, initial=selectors.sponsor_preferences(request.user)
    )
    if request.method == "POST" and form.is_valid():
        services.sponsor_preferences_update(
            user=request.user,
            channel=form.cleaned_data["channel"],
            phone=form.cleaned_data["phone"],
        )
        messages.success(request, "Your alert preferences are saved.")
        return redirect("sponsor:preferences")
    return render(request, "portal/preferences.html", {"form": form})


# --- accepting an invitation (no login yet) ------------------------------------


@login_not_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def accept(request, token):
    invitation = selectors.invitation_by_token(token)
    try:
        services.invitation_check(invitation)
    except services.InvitationError as exc:
        # Unknown, used, withdrawn or expired: the link does not lead anywhere.
        return render(
            request,
            "portal/invitation_invalid.html",
            {"reason": exc.message, "code": exc.code},
            status=404,
        )
    if request.user.is_authenticated and request.user.email.lower() != (
        invitation.email
    ):
        return render(
            request,
            "portal/invitation_invalid.html",
            {
                "reason": "You are logged in with a different account. Log out, "
                "then open the link again.",
                "code": "other_user",
            },
            status=403,
        )
    existing = user_by_email(invitation.email)
    try:
        services.invitation_login_check(existing)
    except services.InvitationError as exc:
        return render(
            request,
            "portal/invitation_invalid.html",
            {"reason": exc.message, "code": exc.code},
            status=403,
        )
    form = None
    if existing is None:
        form = SetPasswordForm(
            request.POST or None,
            email=invitation.email,
            full_name=invitation.sponsor.full_name,
        )
    if request.method == "POST" and (form is None or form.is_valid()):
        try:
            user, created = services.invitation_accept(
                token=token,
                password=form.cleaned_data["password1"] if form else None,
            )
        except services.InvitationError as exc:
            return render(
                request,
                "portal/invitation_invalid.html",
                {"reason": exc.message, "code": exc.code},
                status=409,
            )
        if created or request.user.is_authenticated:
            if created:
                login(
                    request, user, backend="django.contrib.auth.backends.ModelBackend"
                )
                messages.success(request, "Your password is set. Welcome.")
            else:
                messages.success(request, "The patient was added to your sponsor page.")
            return redirect("sponsor:home")
        messages.success(
            request,
            "The patient was added to your sponsor account. Log in with your "
            "existing password to see them.",
        )
        return redirect(f"{reverse('account_login')}?next={reverse('sponsor:home')}")
    return render(
        request,
        "portal/accept.html",
        {"invitation": invitation, "form": form, "existing": existing},
    )


# --- staff: invite, re-send, withdraw -------------------------------------------


def _back(request, sponsor):
    target = request.POST.get("next", "")
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        # Not redirect(): it would try a string like "-1" as a URL name (500).
        return HttpResponseRedirect(target)
    try:
        return redirect(reverse("patients:detail", args=[sponsor.patient_id]))
    except NoReverseMatch:
        return redirect("core:home")


@require_role(STAFF, ADMIN)
@require_POST
def invite(request, sponsor_id):
    sponsor = get_object_or_404(
        Sponsor.objects.select_related("patient"), pk=sponsor_id
    )
    try:
        invitation = services.invitation_send(sponsor=sponsor, by=request.user)
    except services.InvitationError as exc:
        messages.error(request, exc.message)
        return _back(request, sponsor)
    _report_sent(request, invitation)
    return _back(request, sponsor)


@require_role(STAFF, ADMIN)
@require_POST
def invite_resend(request, pk):
    invitation = get_object_or_404(
        SponsorInvitation.objects.select_related("sponsor__patient"), pk=pk
    )
    try:
        new = services.invitation_resend(invitation=invitation, by=request.user)
    except services.InvitationError as exc:
        messages.error(request, exc.message)
        return _back(request, invitation.sponsor)
    _report_sent(request, new)
    return _back(request, invitation.sponsor)


@require_role(STAFF, ADMIN)
@require_POST
def invite_withdraw(request, pk):
    invitation = get_object_or_404(
        SponsorInvitation.objects.select_related("sponsor__patient"), pk=pk
    )
    try:
        services.invitation_withdraw(invitation=invitation, by=request.user)
    except services.InvitationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"The invitation to {invitation.sponsor.full_name} is withdrawn; "
            "its link no longer works.",
        )
    return _back(request, invitation.sponsor)


def _report_sent(request, invitation):
    if invitation.send_error:
        messages.error(
            request,
            f"The invitation to {invitation.sponsor.full_name} was saved but the "
            "email could not be sent. Try “Re-send” in a few minutes.",
        )
    else:
        messages.success(
            request,
            f"Invitation sent to {invitation.email}. The link works once and "
            "expires in 7 days.",
        )
