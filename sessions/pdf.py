"""Attendance PDFs (WeasyPrint): the attendance letter and the group sign-in sheet.

`attendance_letter_pdf` is also used by the sponsor portal, which logs its own
disclosure; this module only renders."""

import datetime

from core.timeutil import local
from patients.pdf import render_pdf, render_pdf_kept
from sessions.selectors.attendance import attendance_letter_data, session_signin_data


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
    data["include_hours"] = include_hours
    data["include_identifiers"] = include_identifiers
    data.update(_letter_lines(data, include_hours=include_hours))
    return render_pdf_kept("pdf/attendance_letter.html", data, patient=patient)


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
