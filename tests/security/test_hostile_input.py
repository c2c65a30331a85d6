"""Hostile input to every form of the site (hypothesis).

For each page in the permission table that shows a form, the form's fields are
read from its HTML and filled with random and hostile values: very long
strings, control characters, HTML and SQL fragments, far-past and far-future
dates, negative and huge numbers. Then:

- the answer is never a server error (the test client re-raises exceptions);
- the HTML we send back never contains the posted markup unescaped;
- a refused form (an error message on the page) changed nothing saved."""

from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.models import AuditEvent

from .test_permission_matrix import ADMIN, DOCTOR, SPONSOR, STAFF, TABLE
from .world import build_world

MARK = "<script>alert('xss-9f3')</script>"
HOSTILE_TEXT = [
    MARK,
    "\"><img src=x onerror=alert('xss-9f3')>",
    "'; DROP TABLE patients_patient; --",
    "Robert'); DELETE FROM core_auditevent; --",
    "' OR '1'='1",
    "\x00nul",
    "bell\x07 esc\x1b[31m tab\t cr\r",
    "\u202eright-to-left\u200b",
    "𝕳𝖔𝖘𝖙𝖎𝖑𝖊 😈",
    " ",
    "",
    "A" * 5000,
    "{{ 7*7 }} {% debug %}",
    "../../etc/passwd",
    "javascript:alert(1)",
]
HOSTILE_DATES = [
    "0001-01-01",
    "1000-02-29",
    "1900-01-01",
    "2999-12-31",
    "9999-12-31",
    "10000-01-01",
    "2026-02-30",
    "-2026-01-01",
    "yesterday",
]
HOSTILE_NUMBERS = ["-1", "-999999999", "0", "2147483648", "1e308", "NaN", "3.5", "١٢"]
HOSTILE_TIMES = ["25:00", "-01:00", "23:59:60", "noon"]

# Forms that end the session or only move it along: nothing to store.
SKIP_ACTIONS = (
    "/accounts/logout/",
    "/account/logout-everywhere/",
    "/account/keepalive/",
)


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []
        self._form = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = {"action": a.get("action") or "", "fields": []}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            self._form["fields"].append(
                {
                    "name": a["name"],
                    "type": a.get("type", "text"),
                    "value": a.get("value", ""),
                }
            )
        elif tag == "textarea" and a.get("name"):
            self._form["fields"].append(
                {"name": a["name"], "type": "textarea", "value": ""}
            )
        elif tag == "select" and a.get("name"):
            self._select = {"name": a["name"], "type": "select", "options": []}
            self._form["fields"].append(self._select)
        elif tag == "option" and self._select is not None:
            self._select["options"].append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _strategy(field):
    kind = field["type"]
    hostile = st.sampled_from(HOSTILE_TEXT)
    if kind in ("submit", "button", "image", "reset", "file"):
        return st.none()
    if kind == "hidden":
        if field["name"] == "csrfmiddlewaretoken":
            return st.just(field["value"])
        return st.one_of(
            st.just(field["value"]), hostile, st.sampled_from(HOSTILE_NUMBERS)
        )
    if kind in ("checkbox", "radio"):
        return st.sampled_from([field["value"] or "on", None, MARK])
    if kind == "select":
        options = [o for o in field["options"]] or [""]
        return st.one_of(
            st.sampled_from(options), hostile, st.sampled_from(HOSTILE_NUMBERS)
        )
    if kind == "date":
        return st.one_of(st.sampled_from(HOSTILE_DATES), hostile)
    if kind == "time":
        return st.one_of(st.sampled_from(HOSTILE_TIMES), hostile)
    if kind == "number":
        return st.one_of(st.sampled_from(HOSTILE_NUMBERS), hostile)
    return st.one_of(hostile, st.text(max_size=300), st.sampled_from(HOSTILE_NUMBERS))


SNAPSHOT_APPS = ("patients", "therapy_sessions", "portal", "core", "accounts")


def snapshot():
    rows = {}
    for label in SNAPSHOT_APPS:
        for model in apps.get_app_config(label).get_models():
            if model is AuditEvent:
                continue
            rows[model._meta.label] = list(model.objects.order_by("pk").values())
    return rows


def _best_role(allowed):
    for role in (ADMIN, STAFF, DOCTOR, SPONSOR):
        if role in allowed:
            return role
    return None


def _html(response):
    if "html" not in response.get("Content-Type", ""):
        return ""
    return response.content.decode(errors="replace")


def _assert_escaped(html, where):
    assert MARK not in html, f"unescaped markup in {where}"
    assert "<img src=x onerror" not in html, f"unescaped markup in {where}"


# Pages that certainly carry a form: guards against a parser that finds none.
MUST_HAVE_FORMS = {
    "core:audit",
    "core:settings",
    "patients:create",
    "patients:edit",
    "patients:decide",
    "patients:sponsor_create",
    "sponsor:preferences",
    "therapy_sessions:create",
    "therapy_sessions:series_create",
    "therapy_sessions:series_reschedule",
    "roster of an ended session",
    "family session",
    "flag review of a flagged patient",
    "login",
}

# (label, url name, role, kwargs): every page of the permission table, as the
# most privileged role that may open it, plus pages whose forms show only for
# other objects, plus the forms anyone sees before logging in.
FORM_PAGES = [
    (name, name, _best_role(allowed), kwargs)
    for name, (allowed, kwargs) in sorted(TABLE.items())
    if _best_role(allowed)
    and not name.startswith(("admin:", "mfa_", "account_"))
    and name not in ("accounts:logout_everywhere", "accounts:keepalive", "healthz")
] + [
    (
        "roster of an ended session",
        "therapy_sessions:roster",
        STAFF,
        lambda w: {"pk": w["ended_session"].pk},
    ),
    (
        "family session",
        "therapy_sessions:detail",
        STAFF,
        lambda w: {"pk": w["family_session"].pk},
    ),
    (
        "flag review of a flagged patient",
        "therapy_sessions:flag_review",
        DOCTOR,
        lambda w: {"pk": w["flagged_patient"].pk},
    ),
    ("login", "account_login", None, None),
    ("password reset", "account_reset_password", None, None),
]


@pytest.mark.parametrize(
    "label, name, role, kwargs_for", FORM_PAGES, ids=[p[0] for p in FORM_PAGES]
)
def test_hostile_values_in_every_form(label, name, role, kwargs_for, users, client):
    world = build_world(users)
    if role is not None:
        client.force_login(users[role])
    url = reverse(name, kwargs=kwargs_for(world) if kwargs_for else None)
    page = client.get(url)
    parser = FormParser()
    parser.feed(_html(page))
    forms = [f for f in parser.forms if not f["action"].startswith(SKIP_ACTIONS)]
    print(f"\n{label}: {[(f['action'], len(f['fields'])) for f in forms]}")
    if label in MUST_HAVE_FORMS:
        assert forms, f"no form found on {label}: the form parser missed it"
    if not forms:
        return  # a page without a form of its own
    if role == SPONSOR:
        display = [reverse("sponsor:patient", args=[world["patient"].pk])]
    elif role is None:
        display = []
    else:
        display = [
            reverse("patients:detail", kwargs={"pk": world["patient"].pk}),
            reverse("therapy_sessions:detail", kwargs={"pk": world["session"].pk}),
            reverse("therapy_sessions:roster", args=[world["ended_session"].pk]),
        ]

    @settings(
        max_examples=10,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def post_hostile(data):
        form = data.draw(st.sampled_from(forms))
        payload = {}
        for field in form["fields"]:
            value = data.draw(_strategy(field), label=field["name"])
            if value is not None:
                payload[field["name"]] = value
        before = snapshot()
        response = client.post(form["action"] or url, payload)
        assert response.status_code < 500, (form["action"], payload)
        html = _html(response)
        _assert_escaped(html, form["action"])
        refused = response.status_code in (200, 400, 403, 404, 409, 422) and (
            "errorlist" in html or response.status_code >= 400
        )
        if refused:
            assert snapshot() == before, f"a refused post changed data: {payload}"
        else:
            if response.status_code in (301, 302, 303):
                follow = client.get(response.headers["Location"])
                assert follow.status_code < 500
                _assert_escaped(_html(follow), response.headers["Location"])
            for display_url in display:
                _assert_escaped(_html(client.get(display_url)), display_url)
        if role is not None and "_auth_user_id" not in client.session:
            client.force_login(users[role])

    post_hostile()
