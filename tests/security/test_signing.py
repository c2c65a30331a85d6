from accounts.mfa import current_totp_code
from patients.models import DoctorDecision
from tests.conftest import PASSWORD

from .conftest import enrol
from .world import build_world


def _sign(client, req, **extra):
    data = {"decision": "approved", "password": PASSWORD, **extra}
    return client.post(f"/approvals/{req.pk}/", data)


def test_a_doctor_with_mfa_signs_with_password_and_a_one_time_code(client, users):
    world = build_world(users)
    req = world["pending_request"]
    secret = enrol(users["doctor"])
    client.force_login(users["doctor"])

    missing = _sign(client, req)
    assert missing.status_code == 200
    assert "authenticator app; the decision was not signed" in missing.content.decode()
    wrong = _sign(client, req, otp_code="000000")
    assert wrong.status_code == 200
    assert not DoctorDecision.objects.filter(request=req).exists()

    code = current_totp_code(secret)
    signed = _sign(client, req, otp_code=code)
    assert signed.status_code == 302
    decision = DoctorDecision.objects.get(request=req)
    assert decision.signature_method == "password+totp"
    assert decision.signed_by == users["doctor"]


def test_a_one_time_code_cannot_sign_twice(client, users):
    world = build_world(users)
    secret = enrol(users["doctor"])
    client.force_login(users["doctor"])
    code = current_totp_code(secret)
    assert _sign(client, world["pending_request"], otp_code=code).status_code == 302
    other = build_world(users)["pending_request"]
    replay = _sign(client, other, otp_code=code)
    assert replay.status_code == 200
    assert not DoctorDecision.objects.filter(request=other).exists()


def test_a_doctor_without_mfa_still_signs_with_the_password(client, users):
    world = build_world(users)
    client.force_login(users["doctor"])
    assert _sign(client, world["pending_request"]).status_code == 302
    decision = DoctorDecision.objects.get(request=world["pending_request"])
    assert decision.signature_method == "password"


def test_a_wrong_one_time_code_is_audited(client, users):
    from core.models import AuditEvent

    world = build_world(users)
    enrol(users["doctor"])
    client.force_login(users["doctor"])
    _sign(client, world["pending_request"], otp_code="12")
    assert AuditEvent.objects.filter(
        user=users["doctor"],
        action=AuditEvent.Action.LOGIN_FAILED,
        summary__contains="one-time code",
    ).exists()
