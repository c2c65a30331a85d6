import datetime as dt

import pytest
import time_machine

from core.models import AuditEvent
from tests.conftest import PASSWORD

from .conftest import enrol

pytestmark = pytest.mark.usefixtures("security_on")

START = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)


def _login(client, user):
    client.force_login(user)


@pytest.mark.parametrize(
    "role, idle_minutes", [("staff", 15), ("doctor", 15), ("admin", 15)]
)
def test_clinic_roles_are_logged_out_after_15_idle_minutes(
    client, users, role, idle_minutes
):
    user = users[role]
    enrol(user)
    with time_machine.travel(START, tick=False) as clock:
        _login(client, user)
        assert client.get("/").status_code == 302
        assert client.get("/account/").status_code == 200
        clock.shift(dt.timedelta(minutes=idle_minutes - 1))
        assert client.get("/account/").status_code == 200
        clock.shift(dt.timedelta(minutes=idle_minutes - 1))
        # Activity a minute before the limit kept the session alive.
        assert client.get("/account/").status_code == 200
        clock.shift(dt.timedelta(minutes=idle_minutes, seconds=1))
        response = client.get("/account/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(
        user=user, action=AuditEvent.Action.LOGOUT, summary__contains="inactivity"
    ).exists()


def test_sponsors_get_60_idle_minutes(client, sponsor_user):
    with time_machine.travel(START, tick=False) as clock:
        _login(client, sponsor_user)
        clock.shift(dt.timedelta(minutes=45))
        assert client.get("/account/").status_code == 200
        clock.shift(dt.timedelta(minutes=60, seconds=1))
        assert client.get("/account/").status_code == 302


def test_sessions_end_after_12_hours_however_active(client, staff_user):
    enrol(staff_user)
    with time_machine.travel(START, tick=False) as clock:
        _login(client, staff_user)
        for _ in range(71):  # every 10 minutes for 11 hours 50 minutes
            clock.shift(dt.timedelta(minutes=10))
            assert client.get("/account/").status_code == 200
        clock.shift(dt.timedelta(minutes=9, seconds=59))
        assert client.get("/account/").status_code == 200
        clock.shift(dt.timedelta(seconds=2))
        response = client.get("/account/")
    assert response.status_code == 302
    assert AuditEvent.objects.filter(
        user=staff_user, summary__contains="time limit"
    ).exists()


def test_page_carries_the_seconds_left_for_the_warning_script(client, staff_user):
    enrol(staff_user)
    with time_machine.travel(START, tick=False) as clock:
        _login(client, staff_user)
        clock.shift(dt.timedelta(seconds=30))
        response = client.get("/account/")
    assert 'data-session-remaining="870"' in response.content.decode()
    assert response.headers["X-Session-Remaining"] == "870"
    assert 'src="/static/js/session-timeout.js"' in response.content.decode()


def test_stay_button_endpoint_restarts_the_idle_clock(client, staff_user):
    enrol(staff_user)
    with time_machine.travel(START, tick=False) as clock:
        _login(client, staff_user)
        clock.shift(dt.timedelta(minutes=14))
        response = client.post("/account/keepalive/")
        assert response.json() == {"remaining": 15 * 60}
        clock.shift(dt.timedelta(minutes=14))
        assert client.get("/account/").status_code == 200


def test_keepalive_refuses_get(client, staff_user):
    enrol(staff_user)
    _login(client, staff_user)
    assert client.get("/account/keepalive/").status_code == 405


def test_log_out_everywhere_ends_other_sessions(client, staff_user, settings):
    from django.test import Client

    enrol(staff_user)
    other = Client()
    other.force_login(staff_user)
    _login(client, staff_user)
    assert other.get("/account/").status_code == 200
    response = client.post("/account/logout-everywhere/")
    assert response.status_code == 302
    assert response.url == "/accounts/login/"
    assert other.get("/account/").status_code == 302
    assert client.get("/account/").status_code == 302
    assert AuditEvent.objects.filter(summary="Logged out everywhere").count() == 1
    # The password still works afterwards.
    assert client.login(username=staff_user.email, password=PASSWORD)


def test_logout_and_failed_logins_are_audited(client, staff_user):
    client.post(
        "/accounts/login/", {"login": staff_user.email, "password": "nope-nope"}
    )
    failed = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert failed.user == staff_user
    assert failed.ip_address == "127.0.0.1"
    enrol(staff_user)
    client.force_login(staff_user)
    client.post("/accounts/logout/")
    assert AuditEvent.objects.filter(
        user=staff_user, action=AuditEvent.Action.LOGOUT
    ).exists()


def test_login_rate_limit_gives_a_clear_message(client, staff_user):
    for _ in range(5):
        client.post(
            "/accounts/login/", {"login": staff_user.email, "password": "wrong-guess!"}
        )
    response = client.post(
        "/accounts/login/", {"login": staff_user.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    "password, message",
    [
        ("short-pw-1", "too short"),
        ("password1234", "too common"),
        ("12345678901234", "entirely numeric"),
        ("samstaffclinic", "too similar"),
    ],
)
def test_password_rules(staff_user, password, message):
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    staff_user.email = "samstaffclinic@clinic.test"
    with pytest.raises(ValidationError) as excinfo:
        validate_password(password, staff_user)
    assert message in " ".join(excinfo.value.messages)


def test_a_long_plain_passphrase_is_accepted(staff_user):
    from django.contrib.auth.password_validation import validate_password

    validate_password("walnut harbor lantern", staff_user)
