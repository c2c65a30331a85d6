import pytest
from django.core.management import call_command

from accounts.mfa import current_totp_code
from core.demo import DEMO_TOTP_SECRET, password

pytestmark = pytest.mark.usefixtures("security_on")


def test_seed_demo_enrols_clinic_logins_with_the_printed_secret(client, capsys):
    call_command("seed_demo")
    call_command("seed_demo")  # safe to run again: same secret
    out = capsys.readouterr().out
    assert DEMO_TOTP_SECRET in out
    call_command("demo_totp_code")
    code = capsys.readouterr().out.strip()
    assert code == current_totp_code(DEMO_TOTP_SECRET)
    for email, landing in [
        ("admin@demo.test", "/dashboard/admin/"),
        ("doctor@demo.test", "/dashboard/doctor/"),
    ]:
        client.logout()
        response = client.post(
            "/accounts/login/", {"login": email, "password": password()}
        )
        assert response.url == "/accounts/2fa/authenticate/", email
        # The replay guard refuses a code used twice: use a recovery code for
        # the second account.
        if email == "admin@demo.test":
            client.post("/accounts/2fa/authenticate/", {"code": code})
        else:
            from allauth.mfa.models import Authenticator
            from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

            rc = Authenticator.objects.get(
                user__email=email, type=Authenticator.Type.RECOVERY_CODES
            )
            client.post(
                "/accounts/2fa/authenticate/",
                {"code": RecoveryCodes(rc).get_unused_codes()[0]},
            )
        assert client.get("/").url == landing, email
        assert client.get(landing).status_code == 200


def test_sponsors_in_the_demo_have_no_authenticator(client):
    from allauth.mfa.models import Authenticator

    call_command("seed_demo")
    assert not Authenticator.objects.filter(user__email="sponsor@demo.test").exists()
