"""Table rows of the patient list and the doctor's approval queue, built in Python.

These are the pages staff and doctors open most, and their rows through the
template engine (a lookup per cell, a reverse, date filters and the status badge
per row) cost more than the rest of the page, as selects did before
core/forms_renderer.py. The markup is the one the templates wrote; every value is
escaped as format_html escapes it (core.htmlrows.esc)."""

from typing import NamedTuple

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from accounts.models import User
from core import htmlrows
from core.htmlrows import esc

register = template.Library()

# A patient status's badge class (the rows here and the status_badge tag).
BADGE_CLASS = {
    "admitted": " ok",
    "awaiting_approval": " warn",
    "on_hold": " warn",
    "discharged": " bad",
}


@register.simple_tag
def status_badge(status, label):
    """A patient's status as a coloured badge."""
    return format_html(
        '<span class="badge{}">{}</span>', BADGE_CLASS.get(status, ""), label
    )


DASH = "—"


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


PREFERRED = ' <span class="muted small">({})</span>'


def _patient_row(p, fmt):
    """PATIENT_ROW's values, each escaped as format_html_join would (esc)."""
    return (
        esc(p.record_number),
        esc(fmt.url("patients:detail", p.pk)),
        esc(p.last_name),
        esc(p.first_name),
        PREFERRED.format(esc(p.preferred_name)) if p.preferred_name else "",
        fmt.day(p.date_of_birth),
        esc(p.phone),
        BADGE_CLASS.get(p.status, ""),
        esc(p.get_status_display()),
        esc(p.track_name or DASH),
        esc(p.counselor_name or DASH),
        esc(p.doctor_name or DASH),
    )


@register.simple_tag
def patient_rows(patients):
    """The <tr> of each patient (patients.selectors.PatientListRow): the markup
    format_html_join wrote, every value escaped by core.htmlrows.esc (the same
    escaping without the lazy-text wrapper around each call)."""
    fmt = htmlrows.RowFormats()
    return SafeString(
        "".join(PATIENT_ROW.format(*_patient_row(p, fmt)) for p in patients)
    )


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
PROBATION = {True: '<span class="badge warn">Yes</span>', False: "No"}  # markup


class _Doctor(NamedTuple):
    full_name: str
    email: str
    credentials: str


def _doctor_asked(r, user):
    if r.doctor_id is None:
        return "Any doctor"
    you = " (you)" if r.doctor_id == getattr(user, "pk", None) else ""
    # The doctor as str(User) writes them (User.display_name).
    name = User.display_name.fget(
        _Doctor(r.doctor_full_name, r.doctor_email, r.doctor_credentials)
    )
    return esc(name) + you


def _approval_row(r, user, now, fmt):
    """APPROVAL_ROW's values, each escaped as format_html_join would (esc)."""
    return (
        esc(timesince(r.requested_at, now)),
        fmt.day_time(r.requested_at),
        esc(fmt.url("patients:detail", r.patient_id)),
        esc(f"{r.first_name} {r.last_name}"),
        esc(r.record_number),
        esc(r.requested_by_name or ""),
        esc(r.track_name or DASH),
        fmt.day(r.proposed_start),
        PROBATION[bool(r.medical_probation)],
        _doctor_asked(r, user),
        esc(fmt.url("patients:decide", r.pk)),
        esc(r.first_name),
    )


@register.simple_tag(takes_context=True)
def approval_rows(context, requests):
    """The <tr> of each pending request (patients.selectors.ApprovalRow);
    "(you)" after the doctor asked when it is the viewer. The markup
    format_html_join wrote, every value escaped by core.htmlrows.esc."""
    user, now = context.get("user"), timezone.now()
    fmt = htmlrows.RowFormats()
    return SafeString(
        "".join(
            APPROVAL_ROW.format(*_approval_row(r, user, now, fmt)) for r in requests
        )
    )
