from core.models import AuditEvent
from tests.factories import AdmittedPatientFactory


def test_viewing_a_patient_writes_exactly_one_audit_row(client_for, users):
    patient = AdmittedPatientFactory()
    other = AdmittedPatientFactory()
    client = client_for(users["doctor"])
    before = AuditEvent.objects.count()
    response = client.get(f"/patients/{patient.pk}/")
    assert response.status_code == 200
    assert AuditEvent.objects.count() == before + 1
    event = AuditEvent.objects.latest("id")
    assert event.action == AuditEvent.Action.VIEW
    assert event.patient == patient
    assert event.user == users["doctor"]
    assert event.role == "Doctor"
    assert event.ip_address == "127.0.0.1"
    assert not AuditEvent.objects.filter(patient=other).exists()


def test_a_refused_view_writes_no_view_row(client_for, users):
    patient = AdmittedPatientFactory()
    client = client_for(users["sponsor"])
    assert client.get(f"/patients/{patient.pk}/").status_code == 403
    assert not AuditEvent.objects.filter(patient=patient).exists()
