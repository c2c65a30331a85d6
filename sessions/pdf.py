"""Attendance PDFs (WeasyPrint): the attendance letter and the group sign-in sheet.

`attendance_letter_pdf` is also used by the sponsor portal, which logs its own
disclosure; this module only renders."""

import datetime

from django.conf import settings
from django.template.loader import render_to_string

from core.timeutil import clinic_now, local
from patients.models import PART2_NOTICE
from sessions.selectors.attendance import attendance_letter_data, session_signin_data


def _context(**extra):
    return {
        "CLINIC_NAME": settings.CLINIC_NAME,
        "CLINIC_ADDRESS": settings.CLINIC_ADDRESS,
        "CLINIC_PHONE": settings.CLINIC_PHONE,
        "PART2_NOTICE": PART2_NOTICE,
        "printed_at": clinic_now(),
        **extra,
    }


def _render(template_name, context):
    import weasyprint

    html = render_to_string(template_name, _context(**context))
    return weasyprint.HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def attendance_letter_pdf(
    *, patient, start: datetime.date, end: datetime.date
) -> bytes:
    """The attendance letter for one patient between two local dates (inclusive):
    sessions scheduled and attended with status and minutes, hours per week
    against target, a summary, the counselor's signature line and the 42 CFR 2.32
    notice."""
    data = attendance_letter_data(patient=patient, start=start, end=end)
    return _render("pdf/attendance_letter.html", data)


def signin_sheet_pdf(*, session) -> bytes:
    """A sign-in sheet for a session: each expected patient with a signature box."""
    data = session_signin_data(session=session)
    data["start"] = local(session.start)
    data["end"] = local(session.end)
    return _render("pdf/signin_sheet.html", data)
