import json
import os
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from accounts.mfa import current_totp_code
from tests.conftest import browser_login, csp_violations

from .conftest import enrol


def test_pages_carry_a_strict_content_security_policy(client_for, users):
    response = client_for(users["staff"]).get("/dashboard/staff/")
    policy = response.headers["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:])
        for part in policy.split(";")
        if part.strip()
    )
    assert directives["script-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy


def test_security_headers(client_for, users):
    response = client_for(users["staff"]).get("/dashboard/staff/")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"


def test_login_page_carries_the_policy_too(client):
    response = client.get("/accounts/login/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_htmx_is_told_not_to_inject_inline_styles(client_for, users):
    html = client_for(users["staff"]).get("/dashboard/staff/").content.decode()
    assert (
        '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false, '
        '"defaultSettleDelay": 0}\'>' in html
    )


def test_production_cookies_and_hsts():
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="iop.settings.production",
        SECRET_KEY="k" * 20 + "a-long-random-production-secret-0123456789",
    )
    code = (
        "import json, django; django.setup(); from django.conf import settings as s;"
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SESSION_COOKIE_HTTPONLY, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT,"
        " s.X_FRAME_OPTIONS, s.SECURE_REFERRER_POLICY, s.MFA_REQUIRED_ROLES,"
        " s.SESSION_LIMITS_ENFORCED]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values[:3] == [True, True, True]
    assert values[3] >= 31536000
    assert values[4] is True
    assert values[5:7] == ["DENY", "same-origin"]
    assert set(values[7]) == {"Administrator", "Doctor", "Clinic staff"}
    assert values[8] is True


@pytest.mark.browser
def test_browser_enrolment_login_and_session_warning_without_csp_violations(
    page, staff_user, security_on
):
    security_on.SESSION_IDLE_MINUTES_STAFF = 2
    violations = csp_violations(page)
    page.clock.install()
    # First login: sent to enrolment, scan (read) the key, activate.
    browser_login(page, staff_user.email)
    assert "/accounts/2fa/totp/activate/" in page.url
    secret = page.locator("#totp-secret").inner_text().strip()
    page.get_by_label("Authenticator code").fill(current_totp_code(secret))
    page.get_by_role("button", name="Activate").click()
    page.wait_for_load_state("networkidle")
    assert "recovery-codes" in page.url
    page.goto("/dashboard/staff/")
    assert page.evaluate("typeof window.htmx") == "object"
    assert page.evaluate("window.iopSession.secondsLeft()") > 100
    # A minute before the idle limit the warning appears; "Stay" restarts it.
    page.clock.fast_forward("01:05")
    dialog = page.get_by_role("alertdialog")
    dialog.wait_for()
    assert "logged out in" in dialog.inner_text()
    dialog.get_by_role("button", name="Stay logged in").click()
    # (wait_for_function would need 'unsafe-eval'; poll with evaluate instead)
    for _ in range(50):
        if page.evaluate("window.iopSession.secondsLeft()") > 100:
            break
        page.wait_for_timeout(100)
    assert page.evaluate("window.iopSession.secondsLeft()") > 100
    expect(dialog).to_be_hidden()
    assert violations == []


@pytest.mark.browser
def test_browser_login_with_an_enrolled_authenticator(page, doctor_user, security_on):
    secret = enrol(doctor_user)
    browser_login(page, doctor_user.email, totp_secret=secret)
    assert page.url.endswith("/dashboard/doctor/")


class _InlineFinder:
    """Collects what a strict CSP would block: inline scripts, style and on*
    attributes, javascript: URLs."""

    def __init__(self, html):
        from html.parser import HTMLParser

        self.problems = []
        finder = self

        class Parser(HTMLParser):
            def handle_starttag(self, tag, attrs):
                a = dict(attrs)
                if (
                    tag == "script"
                    and not a.get("src")
                    and a.get("type") != "application/json"
                ):
                    finder.problems.append("inline <script>")
                if "style" in a:
                    finder.problems.append(f"style attribute on <{tag}>")
                for key, value in a.items():
                    if key.startswith("on"):
                        finder.problems.append(f"{key} handler on <{tag}>")
                    if key in ("href", "src", "action") and (value or "").startswith(
                        "javascript:"
                    ):
                        finder.problems.append(f"javascript: URL on <{tag}>")

        Parser().feed(html)


def test_no_page_needs_inline_script_or_style(users, client):
    """Every page of the permission table, as a role that may open it: nothing
    the Content-Security-Policy would block."""
    from django.urls import reverse

    from .test_permission_matrix import ANON, TABLE
    from .world import build_world

    world = build_world(users)
    checked = 0
    problems = {}
    for name, (allowed, kwargs_for) in sorted(TABLE.items()):
        if name.startswith("admin:") or name == "accounts:logout_everywhere":
            continue  # the Django admin ships its own pages
        role = next(
            r for r in ("admin", "staff", "doctor", "sponsor", ANON) if r in allowed
        )
        client.logout()
        if role != ANON:
            client.force_login(users[role])
        url = reverse(name, kwargs=kwargs_for(world) if kwargs_for else None)
        response = client.get(url, follow=True)
        if "html" not in response.get("Content-Type", ""):
            continue
        found = _InlineFinder(response.content.decode()).problems
        if found:
            problems[url] = sorted(set(found))
        checked += 1
    client.force_login(users["staff"])
    for url in (
        reverse("therapy_sessions:detail", args=[world["family_session"].pk]),
        reverse("therapy_sessions:roster", args=[world["ended_session"].pk]),
    ):
        found = _InlineFinder(client.get(url).content.decode()).problems
        if found:
            problems[url] = sorted(set(found))
    assert checked >= 40
    assert not problems, problems


def test_logs_never_carry_query_strings(settings):
    import logging

    from core.logfilters import RedactQueryStrings

    console = settings.LOGGING["handlers"]["console"]
    assert "no_query_strings" in console["filters"]
    assert settings.LOGGING["filters"]["no_query_strings"]["()"] == (
        "core.logfilters.RedactQueryStrings"
    )
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        ("GET /patients/?q=Maria+Lopez&status=admitted HTTP/1.1", "200", "5120"),
        None,
    )
    assert RedactQueryStrings().filter(record)
    line = record.getMessage()
    assert "Maria" not in line and "Lopez" not in line
    assert line.startswith('"GET /patients/?[redacted] HTTP/1.1" 200')


def test_patient_page_links_to_the_accounting_of_disclosures(client_for, users):
    from .world import build_world

    world = build_world(users)
    url = f"/patients/{world['patient'].pk}/"
    link = f'href="/patients/{world["patient"].pk}/disclosures/"'
    assert link in client_for(users["staff"]).get(url).content.decode()
    assert link not in client_for(users["doctor"]).get(url).content.decode()
