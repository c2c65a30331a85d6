import pytest
from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import User
from accounts.roles import sync_roles

PASSWORD = "correct-horse-battery-9"


@pytest.fixture(autouse=True)
def _role_groups(db):
    sync_roles()


@pytest.fixture(autouse=True)
def _security_off_by_default(settings):
    """Most suites log in with force_login and move the clock with time-machine:
    required MFA enrolment and the idle/absolute session limits are switched off
    for them. tests/security and tests/accounts switch them on with the
    `security_on` fixture (tests/security/conftest.py)."""
    settings.MFA_REQUIRED_ROLES = ()
    settings.SESSION_LIMITS_ENFORCED = False


@pytest.fixture(autouse=True)
def _own_cache_namespace(settings):
    """Each test gets keys of its own in the real Redis cache, so that counters
    such as allauth's login rate limits never carry over from an earlier test."""
    import uuid

    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "KEY_PREFIX": f"iop-test-{uuid.uuid4().hex[:12]}",
        }
    }


def url_routes(resolver=None, prefix="", namespace=None):
    """Every route of the site, as (route, URLPattern, name with its namespaces),
    for the tests that walk them all."""
    from django.urls import URLPattern, URLResolver, get_resolver

    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            yield from url_routes(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield prefix + str(entry.pattern), entry, name


def make_user(role, email=None, **extra):
    slug = role.lower().replace(" ", "-")
    email = email or f"{slug}-{User.objects.count() + 1}@clinic.test"
    user = User.objects.create_user(
        email=email,
        password=PASSWORD,
        full_name=extra.pop("full_name", f"Test {role}"),
        **extra,
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def staff_user(db):
    return make_user(roles.STAFF, full_name="Sam Staff")


@pytest.fixture
def doctor_user(db):
    return make_user(roles.DOCTOR, full_name="Dora Doctor", credentials="MD")


@pytest.fixture
def admin_user(db):
    return make_user(
        roles.ADMIN, full_name="Ada Admin", is_staff=True, is_superuser=True
    )


@pytest.fixture
def sponsor_user(db):
    return make_user(roles.SPONSOR, full_name="Sid Sponsor")


@pytest.fixture
def users(staff_user, doctor_user, admin_user, sponsor_user):
    """One user per role, keyed by a short role name."""
    return {
        "staff": staff_user,
        "doctor": doctor_user,
        "admin": admin_user,
        "sponsor": sponsor_user,
    }


@pytest.fixture
def client_for(client):
    """client_for(user) -> a test client logged in as that user (None: anonymous)."""

    def _login(user):
        client.logout()
        if user is not None:
            client.force_login(user)
        return client

    return _login


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    import os

    # Playwright's sync API runs an event loop in this thread; the ORM calls the
    # tests make around it are ordinary synchronous calls.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


def csp_violations(page):
    """A list that collects the page's Content Security Policy refusals from the
    browser console (assert it stays empty)."""
    violations = []
    page.on(
        "console",
        lambda msg: (
            violations.append(msg.text)
            if "Content Security Policy" in msg.text or "Refused to" in msg.text
            else None
        ),
    )
    return violations


def browser_login(page, email, password=PASSWORD, totp_secret=None):
    """Log in through the real login page (and the one-time code page when the
    account has an authenticator app: pass its base32 `totp_secret`)."""
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state("networkidle")
    if totp_secret:
        from accounts.mfa import current_totp_code

        page.get_by_label("Code").fill(current_totp_code(totp_secret))
        page.get_by_role("button", name="Verify").click()
        page.wait_for_load_state("networkidle")
