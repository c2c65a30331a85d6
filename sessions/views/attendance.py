"""Attendance pages: the roster (htmx in place, plain forms without JavaScript),
compliance, a patient's hours, the attendance letter, the sign-in sheet and CSV
exports."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.roles import ADMIN, DOCTOR, STAFF, has_role, require_role
from core.timeutil import clinic_today, local
from patients.models import Patient
from sessions import pdf
from sessions.forms.attendance import AttendanceForm, DateRangeForm, ExportForm
from sessions.models import Attendance, TherapySession
from sessions.selectors import attendance as selectors
from sessions.services.attendance import (
    attendance_export_log,
    attendance_mark_rest_present,
    attendance_record,
    attendance_view_log,
)

ROSTER_ERRORS_KEY = "roster_errors"


def _message_of(exc):
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


def roster_context(*, request, session, errors=None, values=None):
    """The roster's template context, for this view and the session page.

    Errors from a refused submission without JavaScript travel through the
    session (post/redirect/get) and show once, in the patient's row."""
    if errors is None:
        errors, values = roster_errors(request, session.pk)
    return selectors.session_roster(
        session=session, user=request.user, errors=errors, values=values
    )


def roster_errors(request, session_pk):
    """A refused submission's (errors, values) kept in the session for this
    session's roster (taken out: they show once), else (None, None)."""
    if ROSTER_ERRORS_KEY in request.session:
        stored = request.session.pop(ROSTER_ERRORS_KEY)
        if stored.get("session") == session_pk:
            return (
                {int(k): v for k, v in stored.get("errors", {}).items()},
                {int(k): v for k, v in stored.get("values", {}).items()},
            )
    return None, None


def _session_page_url(session):
    try:
        return reverse("therapy_sessions:detail", args=[session.pk]) + "#roster"
    except NoReverseMatch:
        return reverse("therapy_sessions:roster", args=[session.pk])


def _render_roster(request, session, errors=None, values=None, status=200):
    context = {
        "session": session,
        "roster": roster_context(
            request=request, session=session, errors=errors, values=values
        ),
    }
    template = (
        "sessions/partials/_roster.html"
        if request.htmx
        else "sessions/partials/_roster_page.html"
    )
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _after_post(request, session, errors=None, values=None):
    if request.htmx:
        return _render_roster(request, session, errors=errors, values=values)
    if errors:
        request.session[ROSTER_ERRORS_KEY] = {
            "session": session.pk,
            "errors": {str(k): v for k, v in errors.items()},
            "values": {str(k): v for k, v in (values or {}).items()},
        }
    response = redirect(_session_page_url(session))
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_http_methods(["GET", "POST"])
@require_role(ADMIN, STAFF, DOCTOR)
def roster(request, pk):
    """GET: the roster (the fragment for htmx, a page otherwise).
    POST (staff, administrators): record or correct one patient's attendance."""
    session = get_object_or_404(TherapySession.objects.select_related("topic"), pk=pk)
    if request.method == "GET":
        return _render_roster(request, session)
    if not has_role(request.user, ADMIN, STAFF):
        raise PermissionDenied("Doctors read attendance; staff record it.")
    form = AttendanceForm(request.POST)
    if not form.is_valid():
        patient_id = form.cleaned_data.get("patient")
        if patient_id is None:
            messages.error(request, "Choose a patient on the roster.")
            return _after_post(request, session)
        error = (
            " ".join(f"{e}" for errs in form.errors.values() for e in errs)
            or "Check the entry."
        )
        return _after_post(
            request,
            session,
            errors={patient_id: error},
            values={patient_id: form.data.dict()},
        )
    data = form.cleaned_data
    patient = Patient.objects.filter(pk=data["patient"]).first()
    if patient is None:
        messages.error(request, "That patient does not exist.")
        return _after_post(request, session)
    minutes = data["minutes"]
    if request.POST.get("form") == "correction" and data["status"] not in (
        Attendance.PARTIAL
    ):
        # The correction form keeps the earlier minutes in its box; a full
        # attendance or an absence sets its own minutes.
        minutes = None
    try:
        attendance_record(
            session=session,
            patient=patient,
            status=data["status"],
            minutes=minutes,
            note=data["note"],
            reason=data["reason"],
            actor=request.user,
        )
    except (ValidationError, PermissionDenied) as exc:
        return _after_post(
            request,
            session,
            errors={patient.pk: _message_of(exc)},
            values={patient.pk: form.data.dict()},
        )
    return _after_post(request, session)


@require_POST
@require_role(ADMIN, STAFF)
def roster_all_present(request, pk):
    """Mark every patient not yet marked as present."""
    session = get_object_or_404(TherapySession, pk=pk)
    try:
        count = attendance_mark_rest_present(session=session, actor=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, _message_of(exc))
    else:
        if not request.htmx:
            messages.success(request, f"Marked {count} present.")
    return _after_post(request, session)


UNMARKED_PAGE_SIZE = 25


@require_GET
@require_role(ADMIN, STAFF)
def unmarked_sessions(request):
    """Every ended session with patients still unmarked, however old, most recent
    first (the staff dashboard shows the first few and the total)."""
    page = selectors.unmarked_sessions_page(
        page_number=request.GET.get("page"), per_page=UNMARKED_PAGE_SIZE
    )
    return render(request, "sessions/unmarked.html", {"page": page})


@require_GET
@require_role(ADMIN, STAFF, DOCTOR)
def compliance(request):
    """Admitted patients below their weekly target this week or last week, and
    the patients the attendance rules flag for a doctor's review: a page of each,
    sorted as asked, with the counts."""
    mine = request.GET.get("mine") == "1"
    reviewed = request.GET.get("reviewed") == "1"
    context = selectors.compliance_overview(
        doctor=request.user if mine else None,
        order=request.GET.get("sort", "name"),
        page=request.GET.get("page", 1),
        flagged_order=request.GET.get("flag_sort", "name"),
        flagged_page_number=request.GET.get("flagged_page", 1),
        include_reviewed=reviewed,
    )
    context["mine"] = mine
    context["show_reviewed"] = reviewed
    context["can_export"] = has_role(request.user, ADMIN, STAFF)  # attendance_export
    context["can_review_flags"] = has_role(request.user, DOCTOR)  # flag_review
    return render(request, "sessions/compliance.html", context)


def _hours_page(request, patient, letter_form=None, status=200):
    context = {
        "patient": patient,
        "hours": selectors.patient_hours_section(patient=patient),
        "letter_form": letter_form,
        "can_review_flags": has_role(request.user, DOCTOR),  # flag_review
    }
    return render(request, "sessions/partials/_hours_page.html", context, status=status)


@require_GET
@require_role(ADMIN, STAFF, DOCTOR)
def patient_hours(request, pk):
    """A patient's hours week by week (chart and table) with the letter form."""
    patient = get_object_or_404(Patient, pk=pk)
    attendance_view_log(
        actor=request.user, patient=patient, summary="Viewed hours and attendance"
    )
    return _hours_page(request, patient)


@require_GET
@require_role(ADMIN, STAFF, DOCTOR)
def attendance_letter(request, pk):
    """The attendance letter PDF for a date range (?start=YYYY-MM-DD&end=...).
    The patient, the counselor who signs it and the sessions in one query; a
    letter kept today then in one more with its audit row
    (pdf.attendance_letter_served)."""
    form = DateRangeForm(request.GET)
    if not form.is_valid():
        patient = get_object_or_404(Patient, pk=pk)
        return _hours_page(request, patient, letter_form=form, status=400)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    served = pdf.attendance_letter_served(
        pk=pk, start=start, end=end, user=request.user
    )
    if served is None:
        raise Http404("No such patient.")
    patient, body = served
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="attendance-{patient.record_number}-'
        f'{start:%Y%m%d}-{end:%Y%m%d}.pdf"'
    )
    return response


@require_GET
@require_role(ADMIN, STAFF, DOCTOR)
def signin_sheet(request, pk):
    """A printable sign-in sheet for a session: names and a signature column."""
    session = get_object_or_404(
        TherapySession.objects.select_related("topic", "room"), pk=pk
    )
    body = pdf.signin_sheet_pdf(session=session)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="sign-in-{local(session.start):%Y%m%d-%H%M}.pdf"'
    )
    return response


def _csv_response(filename, chunks):
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@require_role(ADMIN, STAFF)
def attendance_export(request):
    """CSV exports for a date range: per patient per session, or per patient per
    day (per-diem billing). Without parameters, the form."""
    if "start" not in request.GET:
        today = clinic_today()
        form = ExportForm(
            initial={
                "start": today.replace(day=1),
                "end": today,
                "report": "sessions",
            }
        )
        return render(request, "sessions/compliance_export.html", {"form": form})
    form = ExportForm(request.GET)
    if not form.is_valid():
        return render(
            request, "sessions/compliance_export.html", {"form": form}, status=400
        )
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    report = form.cleaned_data["report"]
    attendance_export_log(
        actor=request.user,
        patient=None,
        summary=f"Attendance CSV ({report}) {start:%Y-%m-%d} to {end:%Y-%m-%d}",
    )
    stamp = f"{start:%Y%m%d}-{end:%Y%m%d}"
    if report == "daily":
        return _csv_response(
            f"attendance-daily-{stamp}.csv",
            selectors.daily_summary_csv(start=start, end=end),
        )
    return _csv_response(
        f"attendance-sessions-{stamp}.csv",
        selectors.attendance_export_csv(start=start, end=end),
    )
