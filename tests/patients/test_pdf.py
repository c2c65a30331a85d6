import io

from django.urls import reverse
from pypdf import PdfReader

from core.models import AuditEvent
from patients.models import PART2_NOTICE
from tests.factories import ConsentFactory

from .conftest import approve, register, request_admission


def _text(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_conditional_approval_letter_renders(client_for, staff_user, doctor_user):
    import datetime

    from core.timeutil import clinic_today

    patient = register(
        staff_user,
        first_name="Rosalind",
        last_name="Okafor",
        medical_probation=True,
        medical_probation_details="Liver panel",
    )
    req = request_admission(patient, staff_user)
    review = clinic_today() + datetime.timedelta(days=12)
    decision = approve(
        req,
        doctor_user,
        decision="conditional",
        conditions="Weekly liver panel",
        review_date=review,
    )
    text = _text(
        client_for(staff_user).get(
            reverse("patients:decision_letter", kwargs={"pk": decision.pk})
        )
    )
    assert "Rosalind Okafor" in text
    assert PART2_NOTICE in text
    assert "Weekly liver panel" in text
    assert review.strftime("%B") in text
    assert "Dora Doctor" in text and patient.record_number in text
    assert AuditEvent.objects.filter(action="export", patient=patient).exists()


def test_sponsor_copy_of_the_letter_leaves_out_the_conditions(
    client_for, staff_user, doctor_user
):
    import datetime

    from core.timeutil import clinic_today

    patient = register(staff_user, first_name="Noor", last_name="Haddad")
    req = request_admission(patient, staff_user)
    decision = approve(
        req,
        doctor_user,
        decision="conditional",
        conditions="Secret clinical note",
        review_date=clinic_today() + datetime.timedelta(days=5),
    )
    consent = ConsentFactory(sponsor__patient=patient)
    text = _text(
        client_for(staff_user).post(
            reverse("patients:decision_letter", kwargs={"pk": decision.pk}),
            {"sponsor": consent.sponsor.pk},
        )
    )
    assert "Noor Haddad" in text and PART2_NOTICE in text
    assert "Secret clinical note" not in text
    assert consent.sponsor.full_name in text


def test_consent_forms_render_blank_and_signed(client_for, staff_user):
    consent = ConsentFactory()
    client = client_for(staff_user)
    blank = _text(
        client.get(
            reverse("patients:consent_blank_pdf", kwargs={"pk": consent.sponsor.pk})
        )
    )
    assert consent.patient.full_name in blank and PART2_NOTICE in blank
    assert consent.sponsor.full_name in blank
    assert "Signature of patient" in blank
    signed = _text(
        client.get(reverse("patients:consent_pdf", kwargs={"pk": consent.pk}))
    )
    assert consent.patient.full_name in signed and PART2_NOTICE in signed
    assert "Attendance status and dates of scheduled sessions" in signed
    assert "revoke" in signed
