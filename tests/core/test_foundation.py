import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from accounts.models import User
from core.models import ClinicSettings
from patients.models import Track
from sessions.models import Room, Topic
from tests.conftest import PASSWORD, browser_login, url_routes

PUBLIC = {"healthz", "account_login", "account_reset_password"}


def test_settings_use_postgresql_and_the_clinic_zone():
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings.USE_TZ is True
    assert settings.TIME_ZONE == settings.CLINIC_TIME_ZONE


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["DJANGO_SETTINGS_MODULE"] = "iop.settings.production"
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_settings_pass_the_deploy_check():
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="iop.settings.production",
        SECRET_KEY="k" * 20 + "a-long-random-production-secret-0123456789",
        ALLOWED_HOSTS="clinic.example.org",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "role, dashboard",
    [
        ("staff", "/dashboard/staff/"),
        ("doctor", "/dashboard/doctor/"),
        ("admin", "/dashboard/admin/"),
    ],
)
def test_each_role_lands_on_its_own_dashboard(client, users, role, dashboard):
    client.force_login(users[role])
    response = client.get("/", follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == dashboard


@pytest.mark.parametrize(
    "role, refused",
    [
        ("staff", ["/dashboard/doctor/", "/dashboard/admin/"]),
        ("doctor", ["/dashboard/staff/", "/dashboard/admin/"]),
        ("sponsor", ["/dashboard/staff/", "/dashboard/doctor/", "/dashboard/admin/"]),
        ("admin", ["/dashboard/doctor/"]),
    ],
)
def test_dashboards_of_other_roles_are_refused(client, users, role, refused):
    client.force_login(users[role])
    for url in refused:
        assert client.get(url).status_code == 403, url


def test_navigation_shows_only_what_the_role_may_use(client, users):
    client.force_login(users["doctor"])
    html = client.get("/dashboard/doctor/").content.decode()
    assert 'href="/admin/"' not in html
    client.force_login(users["admin"])
    html = client.get("/dashboard/admin/").content.decode()
    assert 'href="/admin/"' in html


def test_login_with_email_and_password(client, staff_user):
    response = client.post(
        "/accounts/login/", {"login": staff_user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/").url == "/dashboard/staff/"


def test_wrong_password_gets_a_message_not_a_login(client, staff_user):
    response = client.post(
        "/accounts/login/", {"login": staff_user.email, "password": "wrong-password!"}
    )
    assert response.status_code == 200
    assert b"not correct" in response.content
    assert client.get("/").status_code == 302


def test_public_sign_up_is_closed(client):
    response = client.post(
        "/accounts/signup/",
        {
            "email": "intruder@example.com",
            "password1": "a-strong-pass-2026!",
            "password2": "a-strong-pass-2026!",
        },
    )
    assert b"Sign Up Closed" in response.content
    assert not User.objects.filter(email="intruder@example.com").exists()


def _sample_path(route):
    import re

    path = re.sub(r"<int:[^>]+>|<[^>]+>", "1", route)
    path = path.replace("^", "").replace("$", "").replace("\\Z", "")
    return "/" + path


def test_anonymous_requests_go_to_login_from_every_page(client):
    checked = 0
    for route, pattern, _ in url_routes():
        if pattern.name in PUBLIC or route.startswith("admin/"):
            continue
        if getattr(pattern.callback, "login_required", True) is False:
            # Public by design (a secret token in the URL, or a health check).
            continue
        if "(?P" in route or route.startswith("accounts/"):
            # allauth's own pages handle anonymous users themselves.
            continue
        response = client.get(_sample_path(route))
        assert response.status_code == 302, route
        assert response.url.startswith("/accounts/login/"), route
        checked += 1
    assert checked >= 4


def test_healthz_answers_ok_when_postgres_and_redis_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "ok"},
    }


def test_healthz_names_redis_when_it_is_down(client):
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["redis"]


def _counts():
    return {
        "users": User.objects.count(),
        "rooms": Room.objects.count(),
        "tracks": Track.objects.count(),
        "topics": Topic.objects.count(),
        "settings": ClinicSettings.objects.count(),
    }


def test_seed_demo_twice_gives_the_same_counts(capsys):
    call_command("seed_demo")
    first = _counts()
    call_command("seed_demo")
    assert _counts() == first
    assert first["users"] >= 10
    out = capsys.readouterr().out
    assert "staff@demo.test" in out and "demo-pass-2026" in out


def test_seed_demo_accounts_log_in_with_the_demo_password(client):
    call_command("seed_demo")
    for email, landing in [
        ("admin@demo.test", "/dashboard/admin/"),
        ("staff@demo.test", "/dashboard/staff/"),
        ("doctor@demo.test", "/dashboard/doctor/"),
    ]:
        client.logout()
        assert client.login(username=email, password="demo-pass-2026"), email
        assert client.get("/").url == landing


@pytest.mark.browser
def test_staff_logs_in_through_the_real_login_page(page, staff_user):
    browser_login(page, staff_user.email)
    assert page.url.endswith("/dashboard/staff/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Good day")


def test_password_reset_sends_a_link_that_sets_a_new_password(client, staff_user):
    import re

    from django.core import mail

    response = client.post("/accounts/password/reset/", {"email": staff_user.email})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(
        r"http://[^\s]+/accounts/password/reset/key/[^\s]+", mail.outbox[0].body
    )
    assert link, mail.outbox[0].body
    path = link.group(0).split("testserver", 1)[-1]
    response = client.get(path, follow=True)
    form_url = response.redirect_chain[-1][0] if response.redirect_chain else path
    new_password = "a-new-long-passphrase-2026"
    response = client.post(
        form_url, {"password1": new_password, "password2": new_password}
    )
    assert response.status_code == 302
    staff_user.refresh_from_db()
    assert staff_user.check_password(new_password)


def test_logout_ends_the_session(client, staff_user):
    client.force_login(staff_user)
    assert client.get("/dashboard/staff/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/dashboard/staff/").status_code == 302


def test_navigation_marks_only_the_most_specific_page_as_current(client, users):
    client.force_login(users["staff"])
    html = client.get("/sessions/today/").content.decode()
    assert html.count('aria-current="page"') == 1
    assert 'href="/sessions/today/" aria-current="page"' in html
