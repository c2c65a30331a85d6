"""Table rows of the patient list and the doctor's approval queue, built in Python.

These are the pages staff and doctors open most, and their rows through the
template engine (a lookup per cell, a reverse, date filters and the status badge
per row) cost more than the rest of the page, as selects did before
core/forms_renderer.py. The markup is the one the templates wrote; every value is
escaped by format_html."""

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

register = template.Library()

# The classes of partials/_status_badge.html.
BADGE_CLASS = {
    "admitted": " ok",
    "awaiting_approval": " warn",
    "on_hold": " warn",
    "discharged": " bad",
}
DASH = "—"


def _or_dash(obj, attr):
    return (getattr(obj, attr) if obj is not None else "") or DASH


# ---------------------------------------------------------------- patient list

PATIENT_ROW = (
    "\n    <tr>"
    "\n      <td>{}</td>"
    '\n      <td><a href="{}">{}, {}</a>{}</td>'
    "\n      <td>{}</td>"
    "\n      <td>{}</td>"
    '\n      <td><span class="badge{}">{}</span></td>'
    "\n      <td>{}</td>"
    "\n      <td>{}</td>"
    "\n      <td>{}</td>"
    "\n    </tr>"
)


def _patient_row(p):
    return (
        p.record_number,
        reverse("patients:detail", args=[p.pk]),
        p.last_name,
        p.first_name,
        format_html(' <span class="muted small">({})</span>', p.preferred_name)
        if p.preferred_name
        else "",
        date_format(p.date_of_birth, "M j, Y") if p.date_of_birth else "",
        p.phone,
        BADGE_CLASS.get(p.status, ""),
        p.get_status_display(),
        _or_dash(p.track, "name"),
        _or_dash(p.primary_counselor, "full_name"),
        _or_dash(p.attending_doctor, "full_name"),
    )


@register.simple_tag
def patient_rows(patients):
    """The <tr> of each patient (track, counselor and doctor selected with it)."""
    return format_html_join("", PATIENT_ROW, (_patient_row(p) for p in patients))


# ------------------------------------------------------------- approval queue

APPROVAL_ROW = (
    "\n  <tr>"
    '\n    <td>{}<br><span class="muted small">since {}</span></td>'
    '\n    <td><a href="{}">{}</a><br><span class="muted small">{}</span></td>'
    "\n    <td>{}</td>"
    "\n    <td>{}, {}</td>"
    "\n    <td>{}</td>"
    "\n    <td>{}</td>"
    '\n    <td><a class="button" href="{}">Review {}</a></td>'
    "\n  </tr>"
)
PROBATION = {True: mark_safe('<span class="badge warn">Yes</span>'), False: "No"}


def _doctor_asked(doctor, user):
    if doctor is None:
        return "Any doctor"
    you = " (you)" if doctor.pk == getattr(user, "pk", None) else ""
    return format_html("{}{}", str(doctor), you)


def _approval_row(r, user, now):
    return (
        timesince(r.requested_at, now),
        date_format(timezone.localtime(r.requested_at), "M j, g:i A"),
        reverse("patients:detail", args=[r.patient.pk]),
        r.patient.full_name,
        r.patient.record_number,
        r.requested_by.full_name if r.requested_by else "",
        _or_dash(r.proposed_track, "name"),
        date_format(r.proposed_start, "M j, Y") if r.proposed_start else "",
        PROBATION[bool(r.medical_probation)],
        _doctor_asked(r.doctor, user),
        reverse("patients:decide", args=[r.pk]),
        r.patient.first_name,
    )


@register.simple_tag(takes_context=True)
def approval_rows(context, requests):
    """The <tr> of each pending request (patient, requester, doctor and track
    selected with it); "(you)" after the doctor asked when it is the viewer."""
    user, now = context.get("user"), timezone.now()
    return format_html_join(
        "", APPROVAL_ROW, (_approval_row(r, user, now) for r in requests)
    )
