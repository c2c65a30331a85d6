import pytest

from tests.factories import ConsentFactory

from .conftest import approve, register, request_admission


@pytest.mark.parametrize(
    "model",
    [
        "patient",
        "admissionrequest",
        "doctordecision",
        "sponsor",
        "consent",
        "disclosure",
        "track",
    ],
)
def test_admin_lists_patient_models(
    client_for, admin_user, staff_user, doctor_user, model
):
    patient = register(staff_user)
    approve(request_admission(patient, staff_user), doctor_user)
    ConsentFactory(sponsor__patient=patient)
    response = client_for(admin_user).get(f"/admin/patients/{model}/")
    assert response.status_code == 200


def test_admin_cannot_change_a_signed_decision(
    client_for, admin_user, staff_user, doctor_user
):
    patient = register(staff_user)
    decision = approve(request_admission(patient, staff_user), doctor_user)
    client = client_for(admin_user)
    url = f"/admin/patients/doctordecision/{decision.pk}/change/"
    html = client.get(url).content.decode()
    assert 'name="_save"' not in html
    assert (
        client.post(
            f"/admin/patients/doctordecision/{decision.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
