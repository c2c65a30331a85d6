"""Every URL of the site, requested as anonymous, sponsor, staff, doctor and
administrator, compared with a table of who may. A URL missing from the table
fails `test_every_url_is_in_the_table`.

"May" means the view did its work: any answer but 403, 404 or a redirect to a
login page. A view that only answers POST (405 to GET) is requested with an
empty POST. Each URL gets a fresh little clinic (tests.security.world)."""

import pytest
from django.urls import reverse

from tests.conftest import url_routes

from .world import build_world

ANON, SPONSOR, STAFF, DOCTOR, ADMIN = "anon", "sponsor", "staff", "doctor", "admin"
ROLES = (ANON, SPONSOR, STAFF, DOCTOR, ADMIN)
EVERYONE = frozenset({SPONSOR, STAFF, DOCTOR, ADMIN})
PUBLIC = frozenset(ROLES)
CLINICAL = frozenset({STAFF, DOCTOR, ADMIN})
FRONT = frozenset({STAFF, ADMIN})
ONLY_ADMIN = frozenset({ADMIN})
ONLY_DOCTOR = frozenset({DOCTOR})
ONLY_SPONSOR = frozenset({SPONSOR})


def _pk(key):
    return lambda w: {"pk": w[key].pk}


patient_pk = _pk("patient")
session_pk = _pk("session")

# url name -> (who may, kwargs from the world)
TABLE = {
    # The sponsor boundary (portal.middleware) refuses a logged-in sponsor
    # everything outside the portal, public URLs included.
    "healthz": (PUBLIC - ONLY_SPONSOR, None),
    "accounts:account": (EVERYONE, None),
    "accounts:logout_everywhere": (EVERYONE, None),
    "accounts:keepalive": (EVERYONE, None),
    "core:home": (EVERYONE, None),
    "core:staff_dashboard": (FRONT, None),
    "core:doctor_dashboard": (ONLY_DOCTOR, None),
    "core:admin_dashboard": (ONLY_ADMIN, None),
    "core:audit": (ONLY_ADMIN, None),
    "core:settings": (ONLY_ADMIN, None),
    "core:disclosures": (FRONT, patient_pk),
    "core:disclosures_pdf": (FRONT, patient_pk),
    "patients:list": (CLINICAL, None),
    "patients:create": (FRONT, None),
    "patients:detail": (CLINICAL, patient_pk),
    "patients:edit": (FRONT, patient_pk),
    "patients:hold": (FRONT, patient_pk),
    "patients:resume": (FRONT, patient_pk),
    "patients:discharge": (FRONT, patient_pk),
    "patients:request_admission": (FRONT, patient_pk),
    "patients:request_withdraw": (FRONT, _pk("pending_request")),
    "patients:sponsor_create": (FRONT, patient_pk),
    "patients:sponsor_edit": (FRONT, _pk("sponsor")),
    "patients:consent_create": (FRONT, _pk("sponsor")),
    "patients:consent_blank_pdf": (FRONT, _pk("sponsor")),
    "patients:consent_revoke": (FRONT, _pk("consent")),
    "patients:consent_pdf": (FRONT, _pk("consent")),
    "patients:approvals": (ONLY_DOCTOR, None),
    "patients:decide": (ONLY_DOCTOR, _pk("pending_request")),
    "patients:decision": (CLINICAL, _pk("decision")),
    "patients:decision_supersede": (ONLY_DOCTOR, _pk("decision")),
    "patients:decision_letter": (CLINICAL, _pk("decision")),
    "sponsor:home": (ONLY_SPONSOR, None),
    "sponsor:patient": (ONLY_SPONSOR, lambda w: {"patient_id": w["patient"].pk}),
    "sponsor:letter": (ONLY_SPONSOR, lambda w: {"patient_id": w["patient"].pk}),
    "sponsor:preferences": (ONLY_SPONSOR, None),
    # The invitation link is for someone without a login yet: whoever is logged
    # in with another account is refused.
    "sponsor:accept": (
        frozenset({ANON}),
        lambda w: {"token": w["invitation_token"]},
    ),
    "sponsor:invite": (FRONT, lambda w: {"sponsor_id": w["sponsor"].pk}),
    "sponsor:invite_resend": (FRONT, _pk("invitation")),
    "sponsor:invite_withdraw": (FRONT, _pk("invitation")),
    "therapy_sessions:roster": (CLINICAL, session_pk),
    "therapy_sessions:roster_all_present": (FRONT, session_pk),
    "therapy_sessions:signin_sheet": (CLINICAL, session_pk),
    "therapy_sessions:unmarked_sessions": (FRONT, None),
    "therapy_sessions:compliance": (CLINICAL, None),
    "therapy_sessions:attendance_export": (FRONT, None),
    "therapy_sessions:patient_hours": (CLINICAL, patient_pk),
    "therapy_sessions:attendance_letter": (CLINICAL, patient_pk),
    "therapy_sessions:flag_review": (ONLY_DOCTOR, patient_pk),
    "therapy_sessions:calendar": (CLINICAL, None),
    "therapy_sessions:agenda": (CLINICAL, None),
    "therapy_sessions:create": (FRONT, None),
    "therapy_sessions:series_create": (FRONT, None),
    "therapy_sessions:series": (CLINICAL, _pk("series")),
    "therapy_sessions:series_reschedule": (FRONT, _pk("series")),
    "therapy_sessions:topics": (FRONT, None),
    "therapy_sessions:rooms": (FRONT, None),
    "therapy_sessions:my_feed": (CLINICAL, None),
    # The calendar feed is public by design: a secret token in the URL.
    "therapy_sessions:feed": (
        PUBLIC - ONLY_SPONSOR,
        lambda w: {"token": w["feed"].token},
    ),
    "therapy_sessions:patient_feed_regenerate": (
        FRONT,
        lambda w: {"patient_pk": w["patient"].pk},
    ),
    "therapy_sessions:detail": (CLINICAL, session_pk),
    "therapy_sessions:edit": (FRONT, session_pk),
    "therapy_sessions:cancel": (FRONT, session_pk),
    "therapy_sessions:participant_add": (FRONT, session_pk),
    "therapy_sessions:participant_remove": (
        FRONT,
        lambda w: {"pk": w["session"].pk, "patient_pk": w["patient"].pk},
    ),
    "therapy_sessions:family_member_add": (FRONT, _pk("family_session")),
    "therapy_sessions:family_member_remove": (
        FRONT,
        lambda w: {"pk": w["family_session"].pk, "member_pk": w["member"].pk},
    ),
    "therapy_sessions:alerts": (FRONT, None),
    "therapy_sessions:alert_retry": (FRONT, _pk("alert")),
    # The Django admin as a whole (every admin URL goes through admin_view).
    "admin:index": (ONLY_ADMIN, None),
    "admin:patients_patient_changelist": (ONLY_ADMIN, None),
    # allauth's own pages: login is public, the two-factor pages need a login.
    "account_login": (PUBLIC, None),
    "mfa_index": (EVERYONE, None),
}

# Routes under these prefixes are not enumerated one by one: the Django admin
# guards all of its URLs in admin_view (two samples are in the table) and
# allauth's pages handle anonymous users themselves (two samples too).
NOT_ENUMERATED = ("admin/", "accounts/")


def site_url_names():
    names = set()
    for route, _, name in url_routes():
        if route.startswith(NOT_ENUMERATED):
            continue
        assert name, f"URL {route!r} has no name: name it and add it to TABLE"
        names.add(name)
    return names


def test_every_url_is_in_the_table():
    missing = site_url_names() - set(TABLE)
    assert not missing, f"add these URLs to the permission TABLE: {sorted(missing)}"


def test_the_table_names_only_existing_urls():
    from django.urls import NoReverseMatch

    for name, (_, kwargs) in TABLE.items():
        if kwargs is None:
            try:
                reverse(name)
            except NoReverseMatch:
                pytest.fail(f"{name} is in the table but not in the URL configuration")


# Views that, having done their work, send the user to the login page.
ENDS_AT_LOGIN = {"accounts:logout_everywhere"}


def _refused(response, name, role):
    if response.status_code in (403, 404):
        return True
    ends_at_login = name in ENDS_AT_LOGIN and role != ANON
    if response.status_code in (301, 302, 303) and not ends_at_login:
        location = response.headers.get("Location", "")
        return "/login/" in location
    return False


def _request(client, url):
    response = client.get(url)
    if response.status_code == 405:
        response = client.post(url, {})
    return response


@pytest.mark.parametrize("name", sorted(TABLE))
def test_permission_matrix(name, users, client):
    allowed, kwargs_for = TABLE[name]
    problems = []
    for role in ROLES:
        # A fresh clinic for each role: an allowed POST may remove the object.
        world = build_world(users)
        url = reverse(name, kwargs=kwargs_for(world) if kwargs_for else None)
        client.logout()
        if role != ANON:
            client.force_login(users[role])
        response = _request(client, url)
        assert response.status_code < 500, (name, role, response.status_code)
        refused = _refused(response, name, role)
        if role in allowed and refused:
            problems.append(f"{role} may open {url} but got {response.status_code}")
        if role not in allowed and not refused:
            problems.append(
                f"{role} must not open {url} but got {response.status_code}"
            )
        if role == ANON and role not in allowed:
            assert response.status_code == 302, (name, response.status_code)
    assert not problems, problems
