import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

from accounts.mfa import current_totp_code, verify_totp
from core.models import AuditEvent
from tests.conftest import PASSWORD

from .conftest import enrol

pytestmark = pytest.mark.usefixtures("security_on")


def _password_login(client, user):
    return client.post("/accounts/login/", {"login": user.email, "password": PASSWORD})


@pytest.mark.parametrize("role", ["staff", "doctor", "admin"])
def test_clinic_roles_without_mfa_reach_only_enrolment(client, users, role):
    response = _password_login(client, users[role])
    assert response.status_code == 302
    for url in ["/", "/dashboard/staff/", "/dashboard/admin/", "/account/", "/admin/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url == "/accounts/2fa/totp/activate/", url
    page = client.get("/accounts/2fa/totp/activate/", follow=True)
    assert page.status_code == 200
    assert b"Activate" in page.content or b"authenticator" in page.content.lower()


def test_htmx_requests_are_sent_to_enrolment_with_hx_redirect(client, staff_user):
    _password_login(client, staff_user)
    response = client.get("/dashboard/staff/", headers={"HX-Request": "true"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/accounts/2fa/totp/activate/"


def test_sponsor_without_mfa_is_not_forced_to_enrol(client, sponsor_user):
    _password_login(client, sponsor_user)
    response = client.get("/account/")
    assert response.status_code == 200
    assert b"Set up an authenticator app" in response.content


def test_enrolment_with_the_right_code_opens_the_app(client, staff_user):
    _password_login(client, staff_user)
    # Right after logging in, the first enrolment asks no second password.
    page = client.get("/accounts/2fa/totp/activate/")
    assert page.status_code == 200
    secret = page.context["form"].secret
    wrong = client.post("/accounts/2fa/totp/activate/", {"code": "000000"})
    assert wrong.status_code == 200
    assert not Authenticator.objects.filter(user=staff_user).exists()
    right = client.post(
        "/accounts/2fa/totp/activate/", {"code": current_totp_code(secret)}
    )
    assert right.status_code == 302
    assert Authenticator.objects.filter(
        user=staff_user, type=Authenticator.Type.TOTP
    ).exists()
    assert client.get("/").url == "/dashboard/staff/"
    assert client.get("/dashboard/staff/").status_code == 200


def test_login_with_mfa_asks_for_the_code_and_refuses_a_wrong_one(client, staff_user):
    secret = enrol(staff_user)
    response = _password_login(client, staff_user)
    assert response.url == "/accounts/2fa/authenticate/"
    assert client.get("/dashboard/staff/").status_code == 302  # not logged in yet
    wrong = client.post("/accounts/2fa/authenticate/", {"code": "123456"})
    assert wrong.status_code == 200
    assert b"Incorrect code" in wrong.content
    assert client.get("/dashboard/staff/").status_code == 302
    assert AuditEvent.objects.filter(
        user=staff_user, action=AuditEvent.Action.LOGIN_FAILED
    ).exists()
    right = client.post(
        "/accounts/2fa/authenticate/", {"code": current_totp_code(secret)}
    )
    assert right.status_code == 302
    assert client.get("/dashboard/staff/").status_code == 200
    assert AuditEvent.objects.filter(
        user=staff_user, action=AuditEvent.Action.LOGIN
    ).exists()


def test_each_recovery_code_works_once(client, staff_user):
    enrol(staff_user)
    codes = RecoveryCodes(
        Authenticator.objects.get(
            user=staff_user, type=Authenticator.Type.RECOVERY_CODES
        )
    ).get_unused_codes()
    assert len(codes) == 10
    _password_login(client, staff_user)
    assert (
        client.post("/accounts/2fa/authenticate/", {"code": codes[0]}).status_code
        == 302
    )
    assert client.get("/dashboard/staff/").status_code == 200
    client.post("/accounts/logout/")
    _password_login(client, staff_user)
    again = client.post("/accounts/2fa/authenticate/", {"code": codes[0]})
    assert again.status_code == 200
    assert client.get("/dashboard/staff/").status_code == 302
    assert (
        client.post("/accounts/2fa/authenticate/", {"code": codes[1]}).status_code
        == 302
    )
    assert client.get("/dashboard/staff/").status_code == 200


def test_clinic_roles_cannot_switch_their_authenticator_off(client, staff_user):
    secret = enrol(staff_user)
    _password_login(client, staff_user)
    client.post("/accounts/2fa/authenticate/", {"code": current_totp_code(secret)})
    client.post("/accounts/2fa/totp/deactivate/")
    assert Authenticator.objects.filter(
        user=staff_user, type=Authenticator.Type.TOTP
    ).exists()


def test_verify_totp_accepts_the_current_code_once(doctor_user):
    secret = enrol(doctor_user)
    code = current_totp_code(secret)
    assert (
        verify_totp(user=doctor_user, code="999999" if code != "999999" else "1")
        is False
    )
    assert verify_totp(user=doctor_user, code=code) is True
    assert verify_totp(user=doctor_user, code=code) is False  # replay refused


def test_verify_totp_refuses_users_without_mfa(doctor_user):
    assert verify_totp(user=doctor_user, code="123456") is False


def test_enrolling_later_asks_for_the_password_again(client, sponsor_user):
    import datetime as dt

    import time_machine

    with time_machine.travel(dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)) as clock:
        _password_login(client, sponsor_user)
        clock.shift(dt.timedelta(minutes=10))
        response = client.get("/accounts/2fa/totp/activate/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/reauthenticate/")


def test_the_admin_login_form_cannot_skip_two_factor(client, admin_user):
    enrol(admin_user)
    response = client.get("/admin/login/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    client.post("/admin/login/", {"username": admin_user.email, "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302
