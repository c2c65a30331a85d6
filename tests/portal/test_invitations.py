"""Inviting a sponsor: send, re-send, withdraw, accept once, expire after 7 days."""

import datetime
import re
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.db import IntegrityError, transaction
from django.template import engines
from django.test import RequestFactory
from django.utils import timezone

from accounts import roles
from accounts.models import User
from core.models import AuditEvent
from patients.models import Sponsor
from portal import services
from portal.models import SponsorInvitation
from tests.conftest import make_user
from tests.factories import ConsentFactory, SponsorFactory
from tests.portal.conftest import consented_patient, sponsor_login

NEW_PASSWORD = "lantern-harbor-meadow-42"


def _link(message):
    match = re.search(r"https?://\S+/sponsor/invitation/[\w-]+/", message.body)
    assert match, message.body
    return urlsplit(match.group(0)).path


def _invite(client, staff_user, sponsor):
    client.force_login(staff_user)
    response = client.post(f"/sponsor/invitations/new/{sponsor.pk}/")
    assert response.status_code == 302
    return _link(mail.outbox[-1])


@pytest.fixture
def sponsor_entry(db):
    return ConsentFactory(
        sponsor=SponsorFactory(full_name="Rita Recovery", email="Rita@Family.test")
    ).sponsor


def test_staff_sends_an_invitation_that_names_no_patient(
    client, staff_user, sponsor_entry
):
    link = _invite(client, staff_user, sponsor_entry)
    message = mail.outbox[0]
    assert message.to == ["rita@family.test"]
    assert "Rita Recovery" in message.body
    patient = sponsor_entry.patient
    for text in (message.subject, message.body, message.alternatives[0][0]):
        assert patient.last_name not in text and patient.first_name not in text
    assert "42 CFR part 2" in message.body
    invitation = SponsorInvitation.objects.get()
    assert invitation.state == "open" and invitation.sent_at is not None
    assert invitation.expires_at - invitation.created_at == datetime.timedelta(days=7)
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert token not in invitation.token_digest  # only the digest is stored
    assert AuditEvent.objects.filter(
        model="portal.SponsorInvitation", patient=patient, action="create"
    ).exists()


@pytest.mark.parametrize(
    "role, allowed",
    [("staff", True), ("admin", True), ("doctor", False), ("sponsor", False)],
)
def test_only_staff_and_administrators_invite_resend_and_withdraw(
    client, users, sponsor_entry, role, allowed
):
    client.force_login(users[role])

    def open_invitation():
        return SponsorInvitation.objects.filter(state="open").first()

    services.invitation_send(sponsor=sponsor_entry, by=users["staff"])
    steps = [
        lambda: f"/sponsor/invitations/new/{sponsor_entry.pk}/",
        lambda: f"/sponsor/invitations/{open_invitation().pk}/resend/",
        lambda: f"/sponsor/invitations/{open_invitation().pk}/withdraw/",
    ]
    for step in steps:
        url = step()
        before = list(SponsorInvitation.objects.values_list("id", "state"))
        response = client.post(url)
        after = list(SponsorInvitation.objects.values_list("id", "state"))
        if allowed:
            assert response.status_code == 302, url
            assert after != before, url
        else:
            assert response.status_code == 403, url
            assert after == before, url
    assert (open_invitation() is None) == allowed


def test_anonymous_staff_pages_go_to_login(client, sponsor_entry):
    response = client.post(f"/sponsor/invitations/new/{sponsor_entry.pk}/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_invitation_views_refuse_get(client, staff_user, sponsor_entry):
    client.force_login(staff_user)
    assert client.get(f"/sponsor/invitations/new/{sponsor_entry.pk}/").status_code == (
        405
    )
    assert not SponsorInvitation.objects.exists()


def test_sponsor_sets_a_password_and_lands_on_their_page(
    client, staff_user, sponsor_entry
):
    link = _invite(client, staff_user, sponsor_entry)
    client.logout()
    page = client.get(link)
    assert page.status_code == 200
    assert b"Choose a password" in page.content
    response = client.post(
        link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/sponsor/"
    user = User.objects.get(email="rita@family.test")
    assert user.role == roles.SPONSOR and user.check_password(NEW_PASSWORD)
    assert Sponsor.objects.get(pk=sponsor_entry.pk).user == user
    assert sponsor_entry.patient.last_name in response.content.decode()
    invitation = SponsorInvitation.objects.get()
    assert invitation.state == "accepted" and invitation.accepted_user == user


@pytest.mark.parametrize(
    "password, message",
    [
        ("short-pw-1", "too short"),
        ("123456789012345", "entirely numeric"),
        ("password1234", "too common"),
        ("rita@family.test", "too similar"),
    ],
)
def test_weak_passwords_get_a_message_and_no_account(
    client, staff_user, sponsor_entry, password, message
):
    link = _invite(client, staff_user, sponsor_entry)
    client.logout()
    response = client.post(link, {"password1": password, "password2": password})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(email="rita@family.test").exists()
    assert SponsorInvitation.objects.get().state == "open"


def test_mismatched_passwords_get_a_message(client, staff_user, sponsor_entry):
    link = _invite(client, staff_user, sponsor_entry)
    client.logout()
    response = client.post(
        link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}
    )
    assert b"The two passwords are different." in response.content
    assert not User.objects.filter(email="rita@family.test").exists()


def test_a_used_link_does_not_work_again(client, staff_user, sponsor_entry):
    link = _invite(client, staff_user, sponsor_entry)
    client.logout()
    client.post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    client.logout()
    again = client.get(link)
    assert again.status_code == 404
    assert b"already been used" in again.content
    second = client.post(link, {"password1": "another-long-pw-77", "password2": "x"})
    assert second.status_code == 404
    assert User.objects.filter(email="rita@family.test").count() == 1
    assert User.objects.get(email="rita@family.test").check_password(NEW_PASSWORD)


def test_an_invitation_expires_after_seven_days(client, staff_user, sponsor_entry):
    link = _invite(client, staff_user, sponsor_entry)
    client.logout()
    with time_machine.travel(timezone.now() + datetime.timedelta(days=6, hours=23)):
        assert client.get(link).status_code == 200
    with time_machine.travel(timezone.now() + datetime.timedelta(days=7, minutes=1)):
        response = client.get(link)
        assert response.status_code == 404
        assert b"expired" in response.content
        post = client.post(link, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
        assert post.status_code == 404
    assert not User.objects.filter(email="rita@family.test").exists()


def test_the_database_refuses_an_invitation_state_outside_the_list(
    client, staff_user, sponsor_entry
):
    """Expiry is read from expires_at; no code path stores a state for it."""
    _invite(client, staff_user, sponsor_entry)
    with pytest.raises(IntegrityError), transaction.atomic():
        SponsorInvitation.objects.update(state="expired")
    assert SponsorInvitation.objects.get().state == "open"


def test_a_withdrawn_invitation_stops_working(client, staff_user, sponsor_entry):
    link = _invite(client, staff_user, sponsor_entry)
    invitation = SponsorInvitation.objects.get()
    client.post(f"/sponsor/invitations/{invitation.pk}/withdraw/")
    client.logout()
    response = client.get(link)
    assert response.status_code == 404
    assert b"withdrawn" in response.content
    assert AuditEvent.objects.filter(
        summary="Sponsor portal invitation withdrawn"
    ).exists()


def test_resending_replaces_the_old_link(client, staff_user, sponsor_entry):
    old = _invite(client, staff_user, sponsor_entry)
    invitation = SponsorInvitation.objects.get()
    client.post(f"/sponsor/invitations/{invitation.pk}/resend/")
    assert len(mail.outbox) == 2
    new = _link(mail.outbox[1])
    assert new != old
    client.logout()
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    assert SponsorInvitation.objects.filter(state="open").count() == 1
    assert SponsorInvitation.objects.filter(state="replaced").count() == 1


def test_an_existing_sponsor_account_gets_the_patient_added(client, staff_user):
    user = sponsor_login(email="sid@family.test")
    first = consented_patient(user, first_name="Anna", last_name="Firstpatient")
    second_entry = ConsentFactory(
        sponsor=SponsorFactory(full_name="Sid Sponsor", email="SID@family.test")
    ).sponsor
    link = _invite(client, staff_user, second_entry)
    client.logout()
    page = client.get(link)
    assert b"You already have a sponsor login" in page.content
    assert b"Choose a password" not in page.content
    response = client.post(link)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
    assert User.objects.filter(email__iexact="sid@family.test").count() == 1
    assert Sponsor.objects.get(pk=second_entry.pk).user == user
    client.force_login(user)
    home = client.get("/sponsor/").content.decode()
    assert first.patient.last_name in home
    assert second_entry.patient.last_name in home


def test_an_existing_sponsor_who_is_logged_in_goes_straight_to_the_page(
    client, staff_user
):
    user = sponsor_login(email="sid@family.test")
    consented_patient(user)
    entry = ConsentFactory(sponsor=SponsorFactory(email="sid@family.test")).sponsor
    link = _invite(client, staff_user, entry)
    client.force_login(user)
    response = client.post(link)
    assert response.url == "/sponsor/"


def test_a_clinic_account_email_cannot_become_a_sponsor_login(client, staff_user):
    colleague = make_user(roles.STAFF, email="nurse@clinic.test")
    entry = ConsentFactory(sponsor=SponsorFactory(email="nurse@clinic.test")).sponsor
    link = _invite(client, staff_user, entry)
    client.logout()
    for response in (client.get(link), client.post(link)):
        assert response.status_code == 403
        assert b"belongs to a clinic account" in response.content
    assert Sponsor.objects.get(pk=entry.pk).user is None
    assert colleague.role == roles.STAFF


def test_a_sponsor_logged_in_as_someone_else_cannot_use_the_link(
    client, staff_user, sponsor_entry
):
    link = _invite(client, staff_user, sponsor_entry)
    other = sponsor_login(email="other@family.test")
    client.force_login(other)
    assert client.get(link).status_code == 403
    assert client.post(link).status_code == 403
    assert Sponsor.objects.get(pk=sponsor_entry.pk).user is None


def test_a_sponsor_with_access_or_without_email_is_not_invited(client, staff_user):
    linked = consented_patient(sponsor_login()).sponsor
    no_email = SponsorFactory(email="", preferred_channel="sms")
    client.force_login(staff_user)
    for entry, text in (
        (linked, "already has access"),
        (no_email, "Add an email address"),
    ):
        response = client.post(f"/sponsor/invitations/new/{entry.pk}/", follow=True)
        assert text in response.content.decode()
    assert not SponsorInvitation.objects.exists()
    assert not mail.outbox


def test_a_mail_server_that_is_down_is_reported_not_a_500(
    client, staff_user, sponsor_entry, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = 9  # nothing listens on the discard port
    settings.EMAIL_TIMEOUT = 2
    client.force_login(staff_user)
    response = client.post(f"/sponsor/invitations/new/{sponsor_entry.pk}/", follow=True)
    assert response.status_code == 200
    assert "could not be sent" in response.content.decode()
    invitation = SponsorInvitation.objects.get()
    assert invitation.state == "open" and invitation.sent_at is None
    assert invitation.send_error


def test_unknown_links_are_not_found(client):
    response = client.get("/sponsor/invitation/not-a-real-token/")
    assert response.status_code == 404
    assert b"not valid" in response.content


def _render_controls(user, sponsors):
    request = RequestFactory().get("/patients/1/")
    request.user = user
    template = engines["django"].from_string(
        "{% for sponsor in sponsors %}"
        '{% include "portal/partials/_invite_controls.html" %}'
        "{% endfor %}"
    )
    return template.render({"sponsors": sponsors, "request": request}, request)


def test_invite_controls_show_each_sponsors_state_in_one_query(
    staff_user, django_assert_num_queries
):
    entry = ConsentFactory().sponsor
    patient = entry.patient
    invited = SponsorFactory(patient=patient, full_name="Ivy Invited")
    services.invitation_send(sponsor=invited, by=staff_user)
    linked = SponsorFactory(patient=patient, user=sponsor_login())
    no_email = SponsorFactory(patient=patient, email="", preferred_channel="sms")
    many = [entry, invited, linked, no_email] + [
        SponsorFactory(patient=patient) for _ in range(6)
    ]
    staff_user.groups.all()  # warm the role cache as a real page would
    staff_user.role  # noqa: B018
    with django_assert_num_queries(1):
        html = _render_controls(staff_user, many)
    assert html.count("Invite to sponsor portal") == 7
    assert "Re-send invitation" in html and "Withdraw invitation" in html
    assert "Has sponsor portal access" in html
    assert "Add an email address" in html


def test_invite_controls_are_hidden_from_doctors(doctor_user):
    doctor_user.role  # noqa: B018
    assert "Invite" not in _render_controls(doctor_user, [SponsorFactory()])


def test_staff_invite_from_the_patient_page_and_come_back_to_it(
    client, staff_user, sponsor_entry
):
    client.force_login(staff_user)
    url = f"/patients/{sponsor_entry.patient_id}/"
    page = client.get(url).content.decode()
    assert "Invite to sponsor portal" in page
    assert f'action="/sponsor/invitations/new/{sponsor_entry.pk}/"' in page
    response = client.post(
        f"/sponsor/invitations/new/{sponsor_entry.pk}/", {"next": url}, follow=True
    )
    assert response.redirect_chain[-1][0] == url
    html = response.content.decode()
    assert "Invitation sent to rita@family.test" in html
    assert "Re-send invitation" in html and "Withdraw invitation" in html


def test_the_patient_page_shows_no_invite_controls_to_doctors(
    client, doctor_user, sponsor_entry
):
    client.force_login(doctor_user)
    page = client.get(f"/patients/{sponsor_entry.patient_id}/").content.decode()
    assert page.count("sponsor portal") == 0


def test_an_outside_next_address_is_ignored(client, staff_user, sponsor_entry):
    client.force_login(staff_user)
    response = client.post(
        f"/sponsor/invitations/new/{sponsor_entry.pk}/",
        {"next": "https://evil.example/"},
    )
    assert response.url == f"/patients/{sponsor_entry.patient_id}/"


def test_administrators_see_invitations_in_the_admin_without_the_token(
    client, admin_user, staff_user, sponsor_entry
):
    invitation = services.invitation_send(sponsor=sponsor_entry, by=staff_user)
    client.force_login(admin_user)
    listing = client.get("/admin/portal/sponsorinvitation/")
    assert listing.status_code == 200
    assert "rita@family.test" in listing.content.decode()
    detail = client.get(f"/admin/portal/sponsorinvitation/{invitation.pk}/change/")
    assert detail.status_code == 200
    assert invitation.token_digest not in detail.content.decode()


def test_invitations_are_read_only_in_the_admin(
    client, admin_user, staff_user, sponsor_entry
):
    invitation = services.invitation_send(sponsor=sponsor_entry, by=staff_user)
    client.force_login(admin_user)
    url = f"/admin/portal/sponsorinvitation/{invitation.pk}/"
    assert 'name="_save"' not in client.get(f"{url}change/").content.decode()
    assert client.get("/admin/portal/sponsorinvitation/add/").status_code == 403
    assert client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    assert SponsorInvitation.objects.filter(pk=invitation.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_two_clicks_at_once_make_one_account(staff_user):
    import threading

    from django.db import connection

    sponsor = ConsentFactory(sponsor=SponsorFactory(email="twice@family.test")).sponsor
    invitation = services.invitation_send(sponsor=sponsor, by=staff_user)
    token = re.search(r"/sponsor/invitation/([\w-]+)/", mail.outbox[-1].body)[1]
    assert invitation.pk
    barrier = threading.Barrier(2)
    outcomes = []

    def accept():
        try:
            barrier.wait()
            services.invitation_accept(token=token, password=NEW_PASSWORD)
            outcomes.append("ok")
        except services.InvitationError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["ok", "used"]
    assert User.objects.filter(email="twice@family.test").count() == 1
