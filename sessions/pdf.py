"""Attendance PDFs (WeasyPrint): the attendance letter and the group sign-in sheet.

`attendance_letter_pdf` is also used by the sponsor portal, which logs its own
disclosure; this module only renders."""

import datetime

from accounts.models import User
from core.auditsql import AUDIT_INSERT, audit_params
from core.db import prepared_cursor
from core.jsonrows import fetch_row, instance, parse_datetime
from core.models import AuditEvent
from core.timeutil import local
from patients.models import Patient
from patients.pdf import kept_html, render_and_keep, render_pdf, render_pdf_kept
from sessions.selectors.attendance import (
    LETTER_SESSIONS_SQL,
    attendance_letter_data,
    letter_data,
    letter_params,
    session_signin_data,
)
from sessions.services.attendance import attendance_export_log


def _render(template_name, context):
    return render_pdf(template_name, context)


def attendance_letter_pdf(
    *,
    patient,
    start: datetime.date,
    end: datetime.date,
    include_hours: bool = True,
    include_identifiers: bool = True,
) -> bytes:
    """The attendance letter for one patient between two local dates (inclusive):
    sessions scheduled and attended with status and minutes, hours per week
    against target, a summary, the counselor's signature line and the 42 CFR 2.32
    notice.

    A sponsor's copy says no more than the consent allows: without
    `include_hours` it lists dates and attendance status only (no minutes, no
    hours), and without `include_identifiers` it leaves out the date of birth and
    the record number.

    The PDF is kept for the day under the digest of its HTML (render_pdf_kept):
    the same letter asked again is not laid out again; a changed mark, name or
    setting makes a new one."""
    data = attendance_letter_data(patient=patient, start=start, end=end)
    _letter_options(data, include_hours, include_identifiers)
    return render_pdf_kept("pdf/attendance_letter.html", data, patient=patient)


def _letter_options(data, include_hours, include_identifiers):
    data["include_hours"] = include_hours
    data["include_identifiers"] = include_identifiers
    data.update(_letter_lines(data, include_hours=include_hours))


# Everything the staff's letter is made from in one statement: the patient (404
# when there is none), the counselor who signs it, and LETTER_SESSIONS_SQL's
# rows (the weekly targets, the sessions and marks) in their order.
_LETTER_INPUTS = """
SELECT to_jsonb(p) AS patient,
       (SELECT to_jsonb(u) - 'password' FROM accounts_user u
         WHERE u.id = p.primary_counselor_id) AS counselor,
       (SELECT jsonb_agg(to_jsonb(l)) FROM ({sessions}) l) AS rows
FROM patients_patient p
WHERE p.id = %(patient)s
"""
LETTER_INPUTS_SQL = _LETTER_INPUTS.format(sessions=LETTER_SESSIONS_SQL)

# The kept copy under its digest and, only when there is one, the audit row for
# handing it out, in one statement (core.auditsql; committed before the PDF is
# sent). Without a kept copy the letter is laid out and audited as before.
_KEPT_LETTER = """
WITH doc AS (
    SELECT body FROM core_rendereddocument WHERE digest = %(digest)s
), logged AS ({audit}
)
SELECT body FROM doc
"""
KEPT_LETTER_SQL = _KEPT_LETTER.format(
    audit=AUDIT_INSERT.format(
        model="%(audit_model)s::text",
        object_id="%(audit_object)s::text",
        patient="%(audit_patient)s::bigint",
        summary="%(audit_summary)s::text",
        source="doc",
    )
)


def letter_inputs(*, pk, start, end):
    """(patient with its counselor, attendance_letter_data) for the patient
    with id `pk`, or None when there is none. One query (LETTER_INPUTS_SQL)."""
    row = fetch_row(LETTER_INPUTS_SQL, letter_params(patient=pk, start=start, end=end))
    if row is None:
        return None
    patient_json, counselor_json, rows_json = row
    patient = instance(Patient, patient_json)
    patient.primary_counselor = instance(User, counselor_json)
    rows = [
        (
            r["adult"],
            r["minor"],
            parse_datetime(r["start"]) if r["start"] is not None else None,
            parse_datetime(r["end"]) if r["end"] is not None else None,
            r["kind"],
            r["modality"],
            r["status"],
            r["minutes"],
        )
        for r in rows_json
    ]
    return patient, letter_data(patient=patient, start=start, end=end, rows=rows)


def attendance_letter_served(*, pk, start, end, user):
    """The staff's attendance letter (attendance_letter_pdf with hours and
    identifiers) for the patient with id `pk` and its audit row, as (patient,
    PDF bytes); None when there is no such patient.

    A letter kept today costs two queries: its inputs (LETTER_INPUTS_SQL), then
    the kept copy looked up by the digest of its HTML with the audit row
    written by the same statement (KEPT_LETTER_SQL). Otherwise it is laid out
    and kept (render_pdf_kept), then audited (attendance_export_log)."""
    found = letter_inputs(pk=pk, start=start, end=end)
    if found is None:
        return None
    patient, data = found
    _letter_options(data, include_hours=True, include_identifiers=True)
    html, digest = kept_html("pdf/attendance_letter.html", data)
    summary = f"Attendance letter {start:%Y-%m-%d} to {end:%Y-%m-%d}"
    body = None
    if digest is not None:
        params = {
            "digest": digest,
            "audit_model": Patient._meta.label,
            "audit_object": str(patient.pk),
            "audit_patient": patient.pk,
            "audit_summary": summary,
            **audit_params(user=user, action=AuditEvent.Action.EXPORT),
        }
        with prepared_cursor() as cursor:
            cursor.execute(KEPT_LETTER_SQL, params)
            row = cursor.fetchone()
        body = None if row is None else bytes(row[0])
    if body is None:
        body = render_and_keep(html, digest, patient=patient)
        attendance_export_log(actor=user, patient=patient, summary=summary)
    return patient, body


# A year of sessions is about 150 rows. WeasyPrint lays out an HTML table cell by
# cell (seconds for a year); a preformatted block in a monospaced font is one box
# per line and keeps the letter well under a second. The columns are padded here.
SESSION_HEAD = (
    f"{'Date':<16}  {'Time':<17}  {'Session':<10} {'Mode':<10} {'Status':<27}"
    f" {'Minutes':>14}"
)
SESSION_HEAD_NO_HOURS = (
    f"{'Date':<16}  {'Time':<17}  {'Session':<10} {'Mode':<10} {'Status':<27}"
)
WEEK_HEAD = f"{'Week (Mon-Sun)':<27} {'Hours':>6} {'Target':>7}  Result"


# strftime's English names ("%a", "%b": Python runs in the C locale), written
# out: strftime took a good part of a long letter's lines.
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = (
    "",
    *("Jan", "Feb", "Mar", "Apr", "May", "Jun"),
    *("Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
)


def _time(dt):
    """f"{dt:%I:%M %p}" without its leading zero: "9:05 AM", "12:30 PM"."""
    return f"{dt.hour % 12 or 12}:{dt.minute:02d} {'PM' if dt.hour >= 12 else 'AM'}"


def _day(d):
    """f"{d:%a %b %d, %Y}": "Mon Mar 02, 2026"."""
    return f"{WEEKDAYS[d.weekday()]} {MONTHS[d.month]} {d.day:02d}, {d.year:04d}"


def _letter_lines(data, *, include_hours=True):
    sessions = []
    for s in data["sessions"]:
        line = (
            f"{_day(s['day'])}  "
            f"{_time(s['start']) + '-' + _time(s['end']):<17}  "
            f"{s['kind']:<10} {s['modality']:<10} {s['status']:<27}"
        )
        if include_hours:
            line += f" {s['minutes']:>5} of {s['scheduled_minutes']:>3}"
        sessions.append(line.rstrip())
    weeks = []
    for w in data["weeks"]:
        span = f"{w['monday']:%b %d, %Y} - {w['sunday']:%b %d}"
        if w["partial"]:
            span += " (part)"
        result = "met" if w["met"] else "part week" if w["partial"] else "below target"
        weeks.append(
            f"{span:<27} {w['hours']:>6.1f} {w['target_hours']:>7.1f}  {result}"
        )
    return {
        "session_head": SESSION_HEAD if include_hours else SESSION_HEAD_NO_HOURS,
        "session_lines": "\n".join(sessions),
        "week_head": WEEK_HEAD,
        "week_lines": "\n".join(weeks),
    }


def signin_sheet_pdf(*, session) -> bytes:
    """A sign-in sheet for a session: each expected patient with a signature box."""
    data = session_signin_data(session=session)
    data["start"] = local(session.start)
    data["end"] = local(session.end)
    return _render("pdf/signin_sheet.html", data)
