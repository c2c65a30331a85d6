"""A sponsor sees only the patients who consented to them, and nothing outside the
portal. The routes come from the URL configuration, so that a URL added later is
covered without anyone remembering to add it here."""

import re
import secrets

import pytest
from django.urls import Resolver404, resolve
from django.utils import timezone

from core.timeutil import clinic_today
from portal.middleware import sponsor_may_open
from portal.models import SponsorInvitation, token_digest
from sessions.models import Alert, Attendance, CalendarFeed, FamilyMember
from tests.conftest import url_routes
from tests.factories import (
    AdmittedPatientFactory,
    ConsentFactory,
    SponsorFactory,
    UserFactory,
    enrol,
)
from tests.portal.conftest import attended, consented_patient, sent_alert, upcoming

VICTIM_NAMES = ["Vera Victimson", "Otto Outsider"]


def _all_routes():
    """Every route of the site, as (route, URLPattern)."""
    for route, pattern, _name in url_routes():
        yield route, pattern


PARAM = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)")


def _has_params(route):
    return bool(PARAM.search(route))


def _fill(route, value):
    """A concrete path for `route` with every parameter set to `value`."""
    path = PARAM.sub(str(value), route)
    for token in ("^", "$", r"\Z", r"\A"):
        path = path.replace(token, "")
    path = path.replace("\\", "")
    return "/" + path


def _param_routes():
    return [(route, p) for route, p in _all_routes() if _has_params(route)]


@pytest.fixture
def world(db):
    """The sponsor's own consented patient, and two patients they must not see:
    one whose consent to them was revoked, one who never named them."""
    sponsor_user = UserFactory(role="Sponsor", full_name="Sid Sponsor")
    own = consented_patient(sponsor_user, first_name="Olive", last_name="Ownpatient")
    attended(own.patient, hours_ago=30)

    victims = []
    revoked = consented_patient(sponsor_user, first_name="Vera", last_name="Victimson")
    revoked.revoked_on = clinic_today()
    revoked.revoked_how = "Signed note at the front desk"
    revoked.revoked_recorded_by = revoked.witnessed_by
    revoked.save()
    victims.append(revoked)
    other = ConsentFactory(
        sponsor=SponsorFactory(
            patient=AdmittedPatientFactory(first_name="Otto", last_name="Outsider")
        )
    )
    victims.append(other)

    ids, tokens = set(), set()
    for consent in victims:
        patient, sponsor = consent.patient, consent.sponsor
        miss = attended(patient, hours_ago=50, status=Attendance.Status.UNEXCUSED)
        future = upcoming(patient, days=2)
        alert = sent_alert(consent, miss.session)
        family = FamilyMember.objects.create(
            session=future, name=sponsor.full_name, relationship="family"
        )
        token = secrets.token_urlsafe(16)
        feed = CalendarFeed.objects.create(token=token, patient=patient)
        invite_token = secrets.token_urlsafe(16)
        invitation = SponsorInvitation.objects.create(
            sponsor=sponsor,
            email=sponsor.email,
            token_digest=token_digest(invite_token),
            created_by=consent.witnessed_by,
            expires_at=timezone.now() + timezone.timedelta(days=7),
        )
        tokens.update({token, invite_token})
        ids.update(
            {
                patient.pk,
                sponsor.pk,
                consent.pk,
                miss.pk,
                miss.session_id,
                future.pk,
                alert.pk,
                family.pk,
                feed.pk,
                invitation.pk,
            }
        )
        ids.update(p.pk for p in future.participants.all())
    # A group session shared with the sponsor's own patient.
    shared = upcoming(other.patient, days=3)
    enrol(shared, own.patient)
    ids.add(shared.pk)
    assert Alert.objects.count() == 2
    ids.discard(own.patient_id)  # the one id this sponsor may open
    return {
        "user": sponsor_user,
        "own": own,
        "victims": victims,
        "ids": sorted(ids),
        "tokens": sorted(tokens),
    }


def _assert_refused(response, path, allowed=(403, 404)):
    body = response.content.decode(errors="replace")
    for name in VICTIM_NAMES:
        for part in name.split():
            assert part not in body, (path, name)
    assert response.status_code in allowed, (path, response.status_code)


def test_every_route_with_an_id_refuses_another_patients_id(client, world):
    client.force_login(world["user"])
    # Our own address, so that allauth's per-IP rate limits (kept in Redis for
    # the whole run) are not used up for the other tests.
    client.defaults["REMOTE_ADDR"] = "10.77.0.7"
    routes = _param_routes()
    names = {p.name for _, p in routes}
    # The crawl really covers the portal, the staff pages and the admin.
    assert {"patient", "letter", "accept", "invite"} <= names
    assert "change" in {p.name.rsplit("_", 1)[-1] for _, p in routes if p.name}
    victim_patients = [c.patient_id for c in world["victims"]]
    checked = set()
    for route, _pattern in routes:
        account_page = route.startswith(("accounts/", "account/"))
        if account_page:
            # allauth's own pages (password-reset keys, email confirmation)
            # answer for themselves and are rate-limited: a few GETs suffice
            # to show they never name a patient.
            values, methods = victim_patients, ("get",)
            allowed = (200, 302, 400, 403, 404, 405, 410, 429)
        else:
            values = world["ids"] + (
                world["tokens"] if re.search(r"<(str|slug|path):|\(\?P", route) else []
            )
            methods, allowed = ("get", "post"), (403, 404)
        for value in values:
            path = _fill(route, value)
            try:
                resolve(path)
            except Resolver404:
                continue
            for method in methods:
                _assert_refused(getattr(client, method)(path), path, allowed)
            checked.add(route)
    assert len(checked) >= 10, checked


def test_a_sponsor_is_refused_on_every_page_outside_the_portal(client, world):
    client.force_login(world["user"])
    refused = 0
    for route, _pattern in _all_routes():
        path = _fill(route, world["ids"][0])
        if sponsor_may_open(path):
            continue
        response = client.get(path)
        assert response.status_code == 403, path
        refused += 1
    assert refused >= 10
    for path in ("/admin/", "/admin/patients/patient/", "/admin/accounts/user/"):
        assert client.get(path).status_code == 403, path


def test_the_sponsor_still_sees_their_own_patient(client, world):
    client.force_login(world["user"])
    own = world["own"]
    response = client.get(f"/sponsor/patients/{own.patient_id}/")
    assert response.status_code == 200
    assert "Ownpatient" in response.content.decode()
    home = client.get("/sponsor/").content.decode()
    assert "Ownpatient" in home
    for name in VICTIM_NAMES:
        assert name.split()[1] not in home


def test_other_participants_of_a_shared_group_are_never_named(client, world):
    client.force_login(world["user"])
    own = world["own"]
    for path in ("/sponsor/", f"/sponsor/patients/{own.patient_id}/"):
        body = client.get(path).content.decode()
        assert "Outsider" not in body and "Otto" not in body
