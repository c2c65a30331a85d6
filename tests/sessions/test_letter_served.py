"""The staff's attendance letter served in two statements when kept
(sessions.pdf.attendance_letter_served): its inputs read in one statement are
what attendance_letter_data reads, the PDF is attendance_letter_pdf's, and the
audit row is the one attendance_export_log writes, on a kept copy as on a fresh
one."""

import datetime

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.models import AuditEvent, RenderedDocument
from core.timeutil import clinic_today, week_start
from sessions import pdf
from sessions.models import TherapySession
from sessions.selectors.attendance import attendance_letter_data
from sessions.services.attendance import attendance_export_log
from tests.factories import AdmittedPatientFactory, PatientFactory, enrol, mark, staff
from tests.sessions.helpers import session_on

pytestmark = pytest.mark.django_db
DAY = datetime.timedelta(days=1)


@pytest.fixture
def letter_patient():
    counselor = staff(full_name="Casey <Counselor>", credentials="LCSW")
    p = AdmittedPatientFactory(
        first_name="Jordan", last_name="Ames", primary_counselor=counselor
    )
    monday = week_start(clinic_today()) - 14 * DAY
    for offset, status, minutes in (
        (0, "present", None),
        (2, "late", 150),
        (4, "unexcused", None),
        (9, "left_early", 100),
    ):
        mark(session_on(monday + offset * DAY), p, status, minutes)
    cancelled = session_on(monday + 3 * DAY)
    enrol(cancelled, p)
    TherapySession.objects.filter(pk=cancelled.pk).update(
        status="cancelled", cancel_reason="Snow"
    )
    enrol(session_on(monday + 5 * DAY), p)  # not recorded
    enrol(session_on(clinic_today() + 2 * DAY), p)  # still to come
    return p, monday


@pytest.mark.parametrize("span_days", [0, 6, 13, 30, 200])
def test_letter_inputs_are_what_attendance_letter_data_reads(letter_patient, span_days):
    p, monday = letter_patient
    start, end = monday, monday + span_days * DAY
    patient, data = pdf.letter_inputs(pk=p.pk, start=start, end=end)
    want = attendance_letter_data(patient=p, start=start, end=end)
    assert data.pop("patient") is patient and want.pop("patient") == p
    assert data == want
    assert model_to_dict(patient) == model_to_dict(p)
    assert patient.primary_counselor == p.primary_counselor
    assert patient.primary_counselor.credentials == "LCSW"


def test_letter_inputs_of_a_patient_without_counselor_or_sessions():
    p = PatientFactory(primary_counselor=None)
    today = clinic_today()
    patient, data = pdf.letter_inputs(pk=p.pk, start=today - 30 * DAY, end=today)
    assert patient.primary_counselor is None and data["sessions"] == []
    assert data == {
        **attendance_letter_data(patient=p, start=today - 30 * DAY, end=today),
        "patient": patient,
    }
    assert pdf.letter_inputs(pk=p.pk + 1000, start=today, end=today) is None


def _audit_rows():
    return [
        model_to_dict(e, exclude=["id", "at"])
        for e in AuditEvent.objects.order_by("id")
    ]


def test_served_letter_is_the_kept_pdf_in_two_queries_with_its_audit_row(
    letter_patient, staff_user
):
    p, monday = letter_patient
    period = {"start": monday, "end": monday + 13 * DAY}
    want = pdf.attendance_letter_pdf(patient=p, **period)  # laid out and kept
    attendance_export_log(actor=staff_user, patient=p, summary="reference")
    reference = _audit_rows()[-1]
    before = AuditEvent.objects.count()
    with CaptureQueriesContext(connection) as ctx:
        patient, body = pdf.attendance_letter_served(pk=p.pk, user=staff_user, **period)
    assert body == want and patient.pk == p.pk
    assert len(ctx.captured_queries) == 2
    assert RenderedDocument.objects.count() == 1
    rows = _audit_rows()
    assert len(rows) == before + 1
    summary = (
        f"Attendance letter {period['start']:%Y-%m-%d} to {period['end']:%Y-%m-%d}"
    )
    assert rows[-1] == {**reference, "summary": summary}


def test_served_letter_not_kept_is_laid_out_kept_and_audited_once(
    letter_patient, staff_user
):
    p, monday = letter_patient
    period = {"start": monday, "end": monday + 20 * DAY}
    patient, body = pdf.attendance_letter_served(pk=p.pk, user=staff_user, **period)
    assert bytes(RenderedDocument.objects.get().body) == body
    assert AuditEvent.objects.filter(action="export", patient=p).count() == 1
    # Asked again: the kept copy, one more audit row.
    assert pdf.attendance_letter_served(pk=p.pk, user=staff_user, **period)[1] == body
    assert AuditEvent.objects.filter(action="export", patient=p).count() == 2
    assert RenderedDocument.objects.count() == 1
    # The same bytes as the sponsor portal's path (attendance_letter_pdf) lays out.
    RenderedDocument.objects.all().delete()
    assert pdf.attendance_letter_pdf(patient=p, **period) == body


def test_letter_view_for_no_such_patient_is_404_without_audit(client_for, staff_user):
    today = clinic_today()
    params = {"start": (today - 7 * DAY).isoformat(), "end": today.isoformat()}
    for query in (params, {}):
        response = client_for(staff_user).get(
            reverse("therapy_sessions:attendance_letter", args=[999999]), query
        )
        assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="export").exists()


def test_letter_view_kept_costs_the_same_queries_as_before_less_two(
    letter_patient, client_for, staff_user
):
    p, monday = letter_patient
    client = client_for(staff_user)
    url = reverse("therapy_sessions:attendance_letter", args=[p.pk])
    params = {"start": monday.isoformat(), "end": (monday + 13 * DAY).isoformat()}
    first = client.get(url, params)
    with CaptureQueriesContext(connection) as ctx:
        again = client.get(url, params)
    assert again.content == first.content
    app = [q for q in ctx.captured_queries if "django_session" not in q["sql"]]
    # the user, their groups, the letter's inputs, the kept copy with the audit row
    assert len(app) == 4, [q["sql"][:60] for q in app]
    assert AuditEvent.objects.filter(action="export", patient=p).count() == 2
