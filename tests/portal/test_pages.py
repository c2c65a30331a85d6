"""The sponsor's pages: what they show, what they never show, the disclosure log,
consent ending, preferences and the fixed number of queries."""

import datetime
import io
from urllib.parse import urljoin

import pytest
import time_machine
from django.utils import timezone

from core.models import AuditEvent, ClinicSettings
from core.timeutil import clinic_today
from patients.models import PART2_NOTICE, Consent, Disclosure, Patient, Sponsor
from sessions.models import Attendance, FamilyMember, Modality
from tests.factories import RoomFactory, TopicFactory, enrol
from tests.portal.conftest import (
    attended,
    consented_patient,
    sent_alert,
    sponsor_login,
    upcoming,
)


def _get(client, user, url, **extra):
    client.force_login(user)
    return client.get(url, **extra)


# --- what the card shows ---


def test_the_card_shows_attendance_next_sessions_and_alerts_and_nothing_else(
    client, sponsor, consent
):
    patient = consent.patient
    patient.presenting_problems = ["gambling"]
    patient.save()
    miss = attended(patient, hours_ago=30, status=Attendance.Status.UNEXCUSED)
    attended(patient, hours_ago=60)
    room = RoomFactory(name="Room Sunflower 12")
    topic = TopicFactory(name="Cravings and triggers")
    nxt = upcoming(patient, days=2)
    nxt.room, nxt.topic = room, topic
    nxt.save()
    classmate = consented_patient(sponsor_login("x@x.test"), last_name="Classmate")
    enrol(nxt, classmate.patient)
    sent_alert(consent, miss.session)
    secrets = (
        "Sunflower",
        "Cravings",
        "Classmate",
        "Gambling",
        "gambling",
        patient.record_number,
        "1988",
    )

    # The list: the last missed session, the next session.
    body = _get(client, sponsor, "/sponsor/").content.decode()
    assert patient.last_name in body
    assert "Missed" in body and f"{timezone.localtime(miss.session.start):%b %-d}" in (
        body
    )
    assert f"{timezone.localtime(nxt.start):%a, %b %-d}" in body
    assert "In person" in body
    link = f'href="patients/{patient.pk}/"'  # relative to /sponsor/
    assert link in body and urljoin("/sponsor/?page=1", link[6:-1]) == (
        f"/sponsor/patients/{patient.pk}/"
    )
    for secret in secrets:
        assert secret not in body, secret
    assert PART2_NOTICE in body

    # The patient's own page adds the attendance history and the alerts.
    body = client.get(f"/sponsor/patients/{patient.pk}/").content.decode()
    assert "Missed" in body and "In person" in body
    assert "missed session on" in body  # the alert this sponsor received
    assert "Present" in body and "Unexcused absence" in body
    for secret in secrets:
        assert secret not in body, secret
    assert PART2_NOTICE in body


@pytest.mark.parametrize(
    "start",
    [
        datetime.datetime(2026, 3, 2, 0, 5),
        datetime.datetime(2026, 3, 8, 9, 0),  # the day clocks go forward
        datetime.datetime(2026, 11, 30, 12, 30),
        datetime.datetime(2026, 12, 31, 23, 59),
    ],
)
def test_the_list_words_dates_as_the_templates_do(start):
    from django.template.defaultfilters import date, time

    from core.timeutil import clinic_zone
    from portal.selectors import Slot, Summary

    start = start.replace(tzinfo=clinic_zone())
    end = start + datetime.timedelta(hours=3)
    utc = datetime.UTC
    slot = Slot(start.astimezone(utc), end.astimezone(utc), "in_person")
    assert slot.when == f"{date(start, 'D, M j')}, {time(start, 'g:i A')}–" + time(
        end, "g:i A"
    )
    summary = Summary(
        consent=None, shows_hours=False, last_missed=start.astimezone(utc)
    )
    assert summary.last_missed_when == (
        f"{date(start, 'D, M j, Y')} at {time(start, 'g:i A')}"
    )


def test_hours_show_only_when_the_consent_covers_hours(client, sponsor):
    plain = consented_patient(sponsor, last_name="Plainscope")
    hours = consented_patient(
        sponsor, last_name="Hourscope", scope=Consent.Scope.ATTENDANCE_HOURS
    )
    for c in (plain, hours):
        attended(c.patient, hours_ago=1, minutes=150)
    body = _get(client, sponsor, "/sponsor/").content.decode()
    cards = {
        name: next(part for part in body.split("<article")[1:] if name in part)
        for name in ("Plainscope", "Hourscope")
    }
    plain_part, hours_part = cards["Plainscope"], cards["Hourscope"]
    assert "Hours are not part of what" in plain_part
    assert "h target" not in plain_part
    assert "of 9.0 h target" in hours_part
    plain_page = client.get(f"/sponsor/patients/{plain.patient_id}/").content.decode()
    assert "Hours are not part of what" in plain_page and "h target" not in plain_page
    hours_page = client.get(f"/sponsor/patients/{hours.patient_id}/").content.decode()
    assert "of 9.0 h target" in hours_page


def test_this_weeks_hours_count_only_this_week(client, sponsor):
    c = consented_patient(sponsor, scope=Consent.Scope.ATTENDANCE_HOURS)
    monday = clinic_today() - datetime.timedelta(days=clinic_today().weekday())
    hours_since_monday = (
        timezone.now()
        - timezone.make_aware(datetime.datetime.combine(monday, datetime.time()))
    ).total_seconds() / 3600
    attended(c.patient, hours_ago=hours_since_monday + 30, minutes=180)  # last week
    if hours_since_monday > 4:
        attended(c.patient, hours_ago=hours_since_monday - 3.5, minutes=120)
        expected = "2.0 h"
    else:
        expected = "0.0 h"
    body = _get(client, sponsor, "/sponsor/").content.decode()
    assert f"<strong>{expected}</strong> of 9.0 h target" in body


def test_a_session_left_unmarked_past_the_grace_period_counts_as_missed(
    client, sponsor, consent
):
    from tests.factories import past_session

    session = past_session(hours_ago=5)
    enrol(session, consent.patient)
    body = _get(client, sponsor, "/sponsor/").content.decode()
    assert f"{timezone.localtime(session.start):%b %-d, %Y}" in body
    assert "None since the consent began" not in body


def test_the_program_settings_set_the_target_and_the_grace_period(client, sponsor):
    from tests.factories import past_session

    c = consented_patient(sponsor, scope=Consent.Scope.ATTENDANCE_HOURS)
    session = past_session(hours_ago=5)  # ended two hours ago, unmarked
    enrol(session, c.patient)
    url = f"/sponsor/patients/{c.patient_id}/"
    client.force_login(sponsor)
    for body in (client.get("/sponsor/").content, client.get(url).content):
        assert "of 9.0 h target" in body.decode()  # no settings saved: defaults
        assert "None since the consent began" not in body.decode()
    ClinicSettings.objects.update_or_create(
        pk=1, defaults={"weekly_target_minutes_adult": 600, "alert_grace_minutes": 180}
    )
    for body in (client.get("/sponsor/").content, client.get(url).content):
        assert "of 10.0 h target" in body.decode()
        assert "None since the consent began" in body.decode()


def test_history_before_the_consent_is_not_shown(client, sponsor):
    c = consented_patient(sponsor)
    c.effective_on = clinic_today() - datetime.timedelta(days=2)
    c.signed_on = c.effective_on
    c.save()
    old = attended(c.patient, hours_ago=24 * 10, status=Attendance.Status.UNEXCUSED)
    body = _get(client, sponsor, "/sponsor/").content.decode()
    assert f"{timezone.localtime(old.session.start):%b %-d, %Y}" not in body
    assert "None since the consent began" in body


def test_family_sessions_the_sponsor_is_invited_to_are_marked(client, sponsor, consent):
    family = upcoming(consent.patient, days=4)
    family.kind = "family"
    family.topic = None
    family.capacity = 1
    family.modality = Modality.TELEHEALTH
    family.room = None
    family.telehealth_url = "https://video.clinic.test/room-77"
    family.save()
    FamilyMember.objects.create(
        session=family,
        name=consent.sponsor.full_name,
        relationship="sponsor",
        sponsor=consent.sponsor,
    )
    upcoming(consent.patient, days=2)  # a group session, not theirs
    body = _get(client, sponsor, "/sponsor/").content.decode()
    assert "You are invited (family session)" not in body  # the next is a group
    assert "Family session you are invited to" in body
    assert f"{timezone.localtime(family.start):%a, %b %-d}" in body
    assert "Telehealth" in body
    assert "room-77" not in body
    body = client.get(f"/sponsor/patients/{consent.patient_id}/").content.decode()
    assert body.count("You are invited (family session)") == 1
    assert "Family sessions you are invited to" in body
    assert "Telehealth" in body
    assert "room-77" not in body


def test_a_family_session_that_is_the_next_session_is_marked_on_the_list(
    client, sponsor, consent
):
    family = upcoming(consent.patient, days=1)
    FamilyMember.objects.create(
        session=family,
        name=consent.sponsor.full_name,
        relationship="sponsor",
        sponsor=consent.sponsor,
    )
    upcoming(consent.patient, days=3)
    body = _get(client, sponsor, "/sponsor/").content.decode()
    assert body.count("You are invited (family session)") == 1
    assert "Family session you are invited to" not in body  # not said twice


def test_history_is_paginated_and_htmx_gets_the_fragment(client, sponsor, consent):
    for i in range(23):
        attended(consent.patient, hours_ago=6 + 4 * i)
    url = f"/sponsor/patients/{consent.patient_id}/"
    page1 = _get(client, sponsor, url).content.decode()
    assert "Page 1 of 3" in page1
    page3 = client.get(url + "?page=3").content.decode()
    assert "Page 3 of 3" in page3 and page3.count("badge ok") == 3
    fragment = client.get(url + "?page=2", HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "<html" not in html and "Page 2 of 3" in html
    assert PART2_NOTICE in html
    assert "HX-Request" in fragment["Vary"]
    assert client.get(url + "?page=abc").status_code == 200


def test_pages_are_not_cached_by_the_browser(client, sponsor, consent):
    response = _get(client, sponsor, "/sponsor/")
    assert "no-store" in response["Cache-Control"]


# --- the disclosure log ---


def _disclosures():
    return list(Disclosure.objects.order_by("id"))


@pytest.mark.parametrize(
    "url, channel",
    [
        ("/sponsor/", "portal"),
        ("/sponsor/patients/{pk}/", "portal"),
        ("/sponsor/patients/{pk}/?page=2", "portal"),
        ("/sponsor/patients/{pk}/letter/", "portal"),
        ("/sponsor/patients/{pk}/letter/?start=2000-01-01&end=2000-01-02", "portal"),
    ],
)
def test_each_view_writes_exactly_one_disclosure(
    client, sponsor, consent, url, channel
):
    attended(consent.patient, hours_ago=30)
    response = _get(client, sponsor, url.format(pk=consent.patient_id))
    assert response.status_code in (200, 400)
    assert PART2_NOTICE in response.content.decode()
    [row] = _disclosures()
    assert row.patient_id == consent.patient_id
    assert row.consent_id == consent.pk
    assert row.sponsor_id == consent.sponsor_id
    assert row.channel == channel
    assert sponsor.email in row.recipient and consent.sponsor.full_name in row.recipient
    assert row.what and abs(row.at - timezone.now()) < datetime.timedelta(minutes=1)


def test_the_htmx_history_fragment_writes_one_disclosure(client, sponsor, consent):
    _get(
        client,
        sponsor,
        f"/sponsor/patients/{consent.patient_id}/?page=1",
        HTTP_HX_REQUEST="true",
    )
    [row] = _disclosures()
    assert "page 1" in row.what


def test_the_letter_download_writes_one_pdf_disclosure(client, sponsor, consent):
    from pypdf import PdfReader

    attended(consent.patient, hours_ago=30)
    start = consent.effective_on
    end = clinic_today()
    response = _get(
        client,
        sponsor,
        f"/sponsor/patients/{consent.patient_id}/letter/?start={start}&end={end}",
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    text = "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages
    )
    assert consent.patient.last_name in text
    assert "42 CFR part 2" in " ".join(text.split())
    [row] = _disclosures()
    assert row.channel == "pdf" and row.consent_id == consent.pk
    assert f"{start:%Y-%m-%d} to {end:%Y-%m-%d}" in row.what


def _letter_text(client, sponsor, consent):
    from pypdf import PdfReader

    start, end = consent.effective_on, clinic_today()
    response = _get(
        client,
        sponsor,
        f"/sponsor/patients/{consent.patient_id}/letter/?start={start}&end={end}",
    )
    assert response.status_code == 200
    pages = PdfReader(io.BytesIO(response.content)).pages
    return " ".join(" ".join(p.extract_text() for p in pages).split())


def test_the_sponsors_letter_says_no_more_than_the_consent_allows(client, sponsor):
    plain = consented_patient(sponsor, last_name="Plainscope")
    attended(plain.patient, hours_ago=30, minutes=150)
    text = _letter_text(client, sponsor, plain)
    assert "Plainscope" in text and "Present" in text
    assert "of 180" not in text and "hours attended" not in text.lower()
    assert plain.patient.record_number not in text and "1988" not in text

    hours = consented_patient(
        sponsor, last_name="Hourscope", scope=Consent.Scope.ATTENDANCE_HOURS
    )
    attended(hours.patient, hours_ago=30, minutes=150)
    text = _letter_text(client, sponsor, hours)
    assert "Total hours attended" in text and "Hours per week" in text
    assert hours.patient.record_number not in text


def test_a_home_page_with_two_patients_logs_one_disclosure_per_patient(client, sponsor):
    a = consented_patient(sponsor, last_name="Alpha")
    b = consented_patient(sponsor, last_name="Beta")
    _get(client, sponsor, "/sponsor/")
    rows = _disclosures()
    assert sorted((r.patient_id, r.consent_id) for r in rows) == sorted(
        [(a.patient_id, a.pk), (b.patient_id, b.pk)]
    )


def test_the_home_pages_disclosures_are_those_disclosures_record_writes(
    client, sponsor
):
    """The page's statement writes the Disclosure rows itself: the same values as
    portal.services.disclosures_record, in the page's order, a long name cut as
    the model's field allows."""
    from portal import services as portal_services

    consents = [consented_patient(sponsor, last_name=f"Case{i:02d}") for i in range(12)]
    Sponsor.objects.filter(pk=consents[10].sponsor_id).update(full_name="N" * 150)
    sponsor.email = "s" * 60 + "@family.test"
    sponsor.save(update_fields=["email"])
    client.force_login(sponsor)
    client.get("/sponsor/?page=2&x=" + "y" * 100)
    written = _disclosures()
    Disclosure.objects.all().delete()
    for consent in consents[10:]:
        consent.refresh_from_db()
    expected = portal_services.disclosures_record(
        user=sponsor,
        consents=consents[10:],
        what=portal_services.HOME_WHAT.format(number=2),
        channel=Disclosure.Channel.PORTAL,
        reference="/sponsor/?page=2&x=" + "y" * 100,
    )

    def values(row):
        return (
            row.patient_id,
            row.sponsor_id,
            row.consent_id,
            row.recipient,
            row.what,
            row.channel,
            row.reference,
            row.by_id,
        )

    assert [values(r) for r in written] == [values(r) for r in expected]
    assert len(written[0].recipient) == 200 and len(written[0].reference) == 80
    assert all(r.at is not None for r in written)


def test_pages_without_patient_data_log_no_disclosure(client, sponsor):
    _get(client, sponsor, "/sponsor/")
    client.get("/sponsor/preferences/")
    assert _disclosures() == []


def test_a_refused_patient_logs_no_disclosure(client, sponsor, consent):
    other = consented_patient(sponsor_login("o@x.test"))
    _get(client, sponsor, f"/sponsor/patients/{other.patient_id}/")
    assert _disclosures() == []


# --- letters ---


@pytest.mark.parametrize(
    "start, end, message",
    [
        (-40, -1, "only the days the consent covers"),
        (-5, 2, "only the days the consent covers"),
        (-1, -5, "start date is after the end date"),
        ("yesterday", 0, "Enter a valid date"),
    ],
)
def test_letter_dates_outside_the_consent_get_a_message(
    client, sponsor, consent, start, end, message
):
    today = clinic_today()

    def day(value):
        return value if isinstance(value, str) else today + datetime.timedelta(value)

    response = _get(
        client,
        sponsor,
        f"/sponsor/patients/{consent.patient_id}/letter/"
        f"?start={day(start)}&end={day(end)}",
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Disclosure.objects.get().channel == "portal"


# --- consent ends, access ends ---


def _visible(client, sponsor, consent):
    home = client.get("/sponsor/").content.decode()
    detail = client.get(f"/sponsor/patients/{consent.patient_id}/")
    letter = client.get(
        f"/sponsor/patients/{consent.patient_id}/letter/"
        f"?start={consent.effective_on}&end={clinic_today()}"
    )
    shown = consent.patient.last_name in home
    assert (detail.status_code == 200) == shown
    assert (letter.status_code == 200) == shown
    return shown


def test_revocation_takes_effect_on_the_next_request(client, sponsor, consent):
    client.force_login(sponsor)
    assert _visible(client, sponsor, consent)
    consent.revoked_on = clinic_today()
    consent.revoked_how = "Signed note at the front desk"
    consent.revoked_recorded_by = consent.witnessed_by
    consent.save()
    assert not _visible(client, sponsor, consent)
    home = client.get("/sponsor/").content.decode()
    assert "There is nothing to show right now" in home
    assert "(555) 010-4400" in home


def test_expiry_takes_effect_on_the_next_request(client, sponsor, consent):
    consent.expires_on = clinic_today()
    consent.save()
    client.force_login(sponsor)
    assert _visible(client, sponsor, consent)
    with time_machine.travel(timezone.now() + datetime.timedelta(days=1)):
        assert not _visible(client, sponsor, consent)


def test_a_consent_ending_at_discharge_ends_when_the_patient_is_discharged(
    client, sponsor, consent
):
    consent.expires_on_discharge = True
    consent.save()
    client.force_login(sponsor)
    assert _visible(client, sponsor, consent)
    Patient.objects.filter(pk=consent.patient_id).update(
        status=Patient.Status.DISCHARGED,
        discharged_on=clinic_today(),
        discharge_reason=Patient.DischargeReason.COMPLETED,
    )
    assert not _visible(client, sponsor, consent)


@pytest.mark.parametrize(
    "change",
    [
        {"scope": Consent.Scope.ENROLLMENT},
        {"effective_on": "future"},
    ],
)
def test_consents_not_covering_attendance_today_show_nothing(
    client, sponsor, consent, change
):
    if change.get("effective_on") == "future":
        change = {
            "effective_on": clinic_today() + datetime.timedelta(days=3),
            "signed_on": clinic_today(),
        }
    Consent.objects.filter(pk=consent.pk).update(**change)
    client.force_login(sponsor)
    assert not _visible(client, sponsor, consent)


def test_another_sponsors_consent_for_the_same_patient_does_not_help(client, sponsor):
    own = consented_patient(sponsor)
    own.revoked_on = clinic_today()
    own.revoked_how = "Phone call confirmed in writing"
    own.revoked_recorded_by = own.witnessed_by
    own.save()
    from tests.factories import ConsentFactory, SponsorFactory

    ConsentFactory(sponsor=SponsorFactory(patient=own.patient))  # someone else's
    client.force_login(sponsor)
    assert not _visible(client, sponsor, own)


# --- preferences ---


def test_preferences_update_every_entry_and_are_audited(client, sponsor):
    a = consented_patient(sponsor)
    b = consented_patient(sponsor)
    client.force_login(sponsor)
    response = client.post(
        "/sponsor/preferences/", {"channel": "both", "phone": "(555) 777-1212"}
    )
    assert response.status_code == 302
    for entry in Sponsor.objects.filter(pk__in=[a.sponsor_id, b.sponsor_id]):
        assert entry.preferred_channel == "both"
        assert entry.phone == "(555) 777-1212"
    events = AuditEvent.objects.filter(model="patients.Sponsor", action="update")
    assert sorted(e.patient_id for e in events) == sorted([a.patient_id, b.patient_id])
    assert all("preferred_channel" in e.changed_fields for e in events)
    assert all(e.user_id == sponsor.pk for e in events)
    page = client.get("/sponsor/preferences/").content.decode()
    assert 'type="tel"' in page and 'autocomplete="tel"' in page
    assert "saved" in page and 'value="both" checked' in page.replace(
        ' id="id_channel_2"', ""
    ).replace('" required', '"')


def test_a_phone_typed_another_way_is_saved_as_the_clinic_writes_it(
    client, sponsor, consent
):
    client.force_login(sponsor)
    response = client.post(
        "/sponsor/preferences/", {"channel": "sms", "phone": "1-555.777.1212"}
    )
    assert response.status_code == 302
    assert Sponsor.objects.get(pk=consent.sponsor_id).phone == "(555) 777-1212"


def test_preferences_unchanged_write_no_audit(client, sponsor, consent):
    client.force_login(sponsor)
    entry = consent.sponsor
    client.post(
        "/sponsor/preferences/",
        {"channel": entry.preferred_channel, "phone": entry.phone},
    )
    assert not AuditEvent.objects.filter(model="patients.Sponsor").exists()


@pytest.mark.parametrize(
    "data, message",
    [
        ({"channel": "sms", "phone": ""}, "Text messages need a mobile phone"),
        ({"channel": "both", "phone": "12"}, "Enter a 10-digit phone number"),
        ({"channel": "sms", "phone": "201-3344"}, "Enter a 10-digit phone number"),
        ({"channel": "sms", "phone": "(055) 201-3344"}, "cannot exist"),
        ({"channel": "sms", "phone": "555-CALL-NOW"}, "only digits"),
        ({"channel": "pigeon", "phone": ""}, "Select a valid choice"),
    ],
)
def test_bad_preferences_get_a_message_and_change_nothing(
    client, sponsor, consent, data, message
):
    client.force_login(sponsor)
    response = client.post("/sponsor/preferences/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    entry = Sponsor.objects.get(pk=consent.sponsor_id)
    assert entry.preferred_channel == "email" and entry.phone == "(555) 300-1000"


# --- roles ---


@pytest.mark.parametrize("role", ["staff", "doctor", "admin"])
def test_clinic_roles_are_refused_on_the_sponsor_pages(client, users, role, consent):
    client.force_login(users[role])
    for url in (
        "/sponsor/",
        f"/sponsor/patients/{consent.patient_id}/",
        f"/sponsor/patients/{consent.patient_id}/letter/",
        "/sponsor/preferences/",
    ):
        assert client.get(url).status_code == 403, url
    assert not Disclosure.objects.exists()


def test_anonymous_visitors_go_to_login(client, consent):
    for url in ("/sponsor/", f"/sponsor/patients/{consent.patient_id}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


def test_the_home_page_sends_a_sponsor_to_their_page(client, sponsor):
    response = _get(client, sponsor, "/")
    assert response.url == "/sponsor/"


def test_a_sponsor_may_use_the_account_pages(client, sponsor):
    client.force_login(sponsor)
    assert client.get("/accounts/password/change/").status_code == 200


# --- a fixed number of queries ---


def _fill(sponsor, patients, rows):
    consents = []
    for i in range(patients):
        c = consented_patient(
            sponsor, last_name=f"Load{i}", scope=Consent.Scope.ATTENDANCE_HOURS
        )
        for j in range(rows):
            a = attended(
                c.patient,
                hours_ago=6 + 4 * j,
                status=Attendance.Status.UNEXCUSED if j % 3 == 0 else "present",
            )
            if j % 3 == 0:
                sent_alert(c, a.session)
        for d in range(min(rows, 3)):
            upcoming(c.patient, days=d + 1)
        consents.append(c)
    return consents


@pytest.mark.parametrize(
    "url, queries",
    [
        # session, user, role; the page of patients with their facts and the
        # program settings, and its disclosure rows (one statement).
        ("/sponsor/", 4),
        # session, user, role; consent lookup; the facts; next sessions, family
        # sessions, alerts; the history page's count and rows; disclosure insert.
        ("/sponsor/patients/{pk}/", 11),
    ],
)
def test_pages_cost_the_same_queries_with_more_data(
    client, url, queries, django_assert_num_queries
):
    ClinicSettings.load()
    small_user = sponsor_login("small@x.test")
    big_user = sponsor_login("big@x.test")
    [small] = _fill(small_user, 1, 2)
    big = _fill(big_user, 12, 14)
    for user, consent, shown in ((small_user, small, 1), (big_user, big[0], 10)):
        client.force_login(user)
        with django_assert_num_queries(queries):
            response = client.get(url.format(pk=consent.patient_id))
        assert response.status_code == 200
        if url == "/sponsor/":
            assert response.content.decode().count("sponsor-card") == shown


@pytest.mark.parametrize("url", ["/sponsor/", "/sponsor/patients/{pk}/"])
def test_a_consent_without_hours_costs_the_same_queries(client, sponsor, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ClinicSettings.load()
    hours = consented_patient(sponsor, scope=Consent.Scope.ATTENDANCE_HOURS)
    plain_user = sponsor_login("plain@x.test")
    plain = consented_patient(plain_user, scope=Consent.Scope.ATTENDANCE)
    counts = []
    for user, consent in ((sponsor, hours), (plain_user, plain)):
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url.format(pk=consent.patient_id)).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# --- a caseload: ten patients a page ---


def _names(body):
    return [
        part.split("</h2>")[0].split(">")[-1]
        for part in body.split('<article class="card sponsor-card')[1:]
    ]


def test_a_caseload_is_listed_ten_patients_a_page_by_name(client, sponsor):
    for i in (11, 3, 7, 0, 9, 1, 5, 10, 2, 8, 4, 6):
        consented_patient(sponsor, first_name="Pat", last_name=f"Case{i:02d}")
    client.force_login(sponsor)
    page1 = client.get("/sponsor/").content.decode()
    assert _names(page1) == [f"Pat Case{i:02d}" for i in range(10)]
    assert "Patients 1–10 of 12" in page1 and "Page 1 of 2" in page1
    assert 'href="?page=2"' in page1 and "Previous" not in page1
    page2 = client.get("/sponsor/?page=2").content.decode()
    assert _names(page2) == ["Pat Case10", "Pat Case11"]
    assert "Patients 11–12 of 12" in page2 and 'href="?page=1"' in page2
    # Each patient stays one tap away on their own page.
    for body in (page1, page2):
        for part in body.split('<article class="card sponsor-card')[1:]:
            assert "Details and letter" in part


def test_only_the_patients_on_the_page_are_disclosed(client, sponsor):
    consents = [consented_patient(sponsor, last_name=f"Case{i:02d}") for i in range(12)]
    client.force_login(sponsor)
    client.get("/sponsor/?page=2")
    rows = _disclosures()
    assert sorted(r.consent_id for r in rows) == [c.pk for c in consents[10:]]
    assert all("page 2" in r.what for r in rows)
    assert all(r.reference == "/sponsor/?page=2" for r in rows)
    Disclosure.objects.all().delete()
    client.get("/sponsor/")
    assert sorted(r.consent_id for r in _disclosures()) == [c.pk for c in consents[:10]]


@pytest.mark.parametrize(
    "number, shown",
    [
        ("abc", 1),
        ("", 1),
        ("0", 1),
        ("-3", 1),
        ("2", 2),
        ("99999", 2),
        ("1e9", 1),
        ("9" * 40, 2),
    ],
)
def test_a_bad_page_number_gets_a_sensible_page(client, sponsor, number, shown):
    for i in range(12):
        consented_patient(sponsor, last_name=f"Case{i:02d}")
    client.force_login(sponsor)
    response = client.get(f"/sponsor/?page={number}")
    assert response.status_code == 200
    assert f"Page {shown} of 2" in response.content.decode()
    assert Disclosure.objects.count() == (10 if shown == 1 else 2)


def test_one_patient_shows_no_page_numbers(client, sponsor, consent):
    body = _get(client, sponsor, "/sponsor/").content.decode()
    assert "Page 1 of" not in body and "Patients 1" not in body


def test_the_list_applies_the_same_consent_rule_as_the_rest_of_the_site(
    client, sponsor
):
    """The list's query states "in force" in SQL; it must agree with
    active_consent_q, which the patient page and the letter use."""
    from patients.models import active_consent_q
    from tests.factories import ConsentFactory

    today = clinic_today()
    week = datetime.timedelta(days=7)
    cases = [
        {},
        {"scope": Consent.Scope.ATTENDANCE_HOURS},
        {"scope": Consent.Scope.ENROLLMENT},
        {"effective_on": today + week, "signed_on": today},
        {"expires_on": today},
        {"expires_on": today - datetime.timedelta(days=1)},
        {"revoked_on": today},
        {"revoked_on": today + week},
        {"expires_on_discharge": True},
    ]
    for i, change in enumerate(cases):
        c = consented_patient(sponsor, last_name=f"Rule{i}")
        if change.get("revoked_on"):
            change = {
                **change,
                "revoked_how": "Signed note",
                "revoked_recorded_by_id": c.witnessed_by_id,
            }
        Consent.objects.filter(pk=c.pk).update(**change)
    discharged = consented_patient(sponsor, last_name="RuleDischarged")
    Consent.objects.filter(pk=discharged.pk).update(expires_on_discharge=True)
    Patient.objects.filter(pk=discharged.patient_id).update(
        status=Patient.Status.DISCHARGED,
        discharged_on=today,
        discharge_reason=Patient.DischargeReason.COMPLETED,
    )
    # A newer consent replaces an older one for the same patient.
    older = consented_patient(sponsor, last_name="RuleTwice")
    newer = ConsentFactory(sponsor=older.sponsor, effective_on=today, signed_on=today)
    Consent.objects.filter(pk=older.pk).update(
        effective_on=today - week, signed_on=today - week
    )
    expected = {
        pk
        for pk in Consent.objects.filter(active_consent_q(today))
        .filter(sponsor__user=sponsor, scope__in=Consent.ATTENDANCE_SCOPES)
        .values_list("pk", flat=True)
    } - {older.pk}
    client.force_login(sponsor)
    client.get("/sponsor/")
    client.get("/sponsor/?page=2")
    assert {r.consent_id for r in _disclosures()} == expected
    assert newer.pk in expected and len(expected) == 6


def test_the_menu_offers_sponsors_only_their_pages(client, sponsor, staff_user):
    html = _get(client, sponsor, "/sponsor/preferences/").content.decode()
    nav = html[html.index('<nav aria-label="Main">') : html.index("</nav>")]
    assert 'href="/sponsor/"' in nav and 'href="/sponsor/preferences/"' in nav
    assert "/patients/" not in nav and "/sessions/" not in nav
    staff_html = _get(client, staff_user, "/dashboard/staff/").content.decode()
    assert 'href="/sponsor/preferences/"' not in staff_html
