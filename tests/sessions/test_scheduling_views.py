"""Scheduling pages: roles, forms, calendar, agenda, feeds, query counts."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.timeutil import clinic_today, local, make_local, week_start
from sessions.models import (
    CalendarFeed,
    Kind,
    Modality,
    Participant,
    SessionFacilitator,
    TherapySession,
)
from sessions.selectors.scheduling import iso_week
from sessions.services import scheduling as svc
from tests.factories import (
    AdmittedPatientFactory,
    PatientFactory,
    RoomFactory,
    SessionFactory,
    TopicFactory,
    enrol,
    facilitate,
    staff,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(staff_user):
    s = enrol(
        facilitate(SessionFactory(), staff_user),
        AdmittedPatientFactory(first_name="Ann", last_name="Lee"),
    )
    return s


@pytest.fixture
def series(staff_user):
    return svc.series_create(
        kind=Kind.GROUP,
        weekdays=[0, 2],
        start_time=datetime.time(9),
        duration_minutes=180,
        starts_on=clinic_today(),
        occurrences=4,
        facilitators=[staff_user],
        actor=staff_user,
        room=RoomFactory(),
        topic=TopicFactory(),
    )


# ------------------------------------------------------------------- role checks

READ_PAGES = ["calendar", "agenda", "detail", "series", "my_feed"]
WRITE_GET_PAGES = ["create", "series_create", "edit", "cancel", "topics"]


def _url(name, session, series):
    if name in ("detail", "edit", "cancel", "participant_add", "family_member_add"):
        return reverse(f"therapy_sessions:{name}", args=[session.pk])
    if name == "series":
        return reverse("therapy_sessions:series", args=[series.pk])
    if name == "participant_remove":
        patient_id = session.participants.first().patient_id
        return reverse(
            "therapy_sessions:participant_remove", args=[session.pk, patient_id]
        )
    if name == "patient_feed_regenerate":
        patient_id = session.participants.first().patient_id
        return reverse("therapy_sessions:patient_feed_regenerate", args=[patient_id])
    return reverse(f"therapy_sessions:{name}")


@pytest.mark.parametrize("page", READ_PAGES + WRITE_GET_PAGES)
@pytest.mark.parametrize(
    "role,can_read,can_write",
    [
        ("staff", True, True),
        ("admin", True, True),
        ("doctor", True, False),
        ("sponsor", False, False),
    ],
)
def test_role_checks_on_every_scheduling_page(
    page, role, can_read, can_write, users, client_for, session, series
):
    response = client_for(users[role]).get(_url(page, session, series))
    allowed = can_write if page in WRITE_GET_PAGES else can_read
    assert response.status_code == (200 if allowed else 403)


POST_ACTIONS = [
    "participant_add",
    "participant_remove",
    "family_member_add",
    "patient_feed_regenerate",
    "cancel",
    "series",
]


@pytest.mark.parametrize("action", POST_ACTIONS)
@pytest.mark.parametrize("role", ["doctor", "sponsor"])
def test_doctors_and_sponsors_cannot_change_the_schedule(
    action, role, users, client_for, session, series
):
    before = Participant.objects.count()
    response = client_for(users[role]).post(
        _url(action, session, series), {"reason": "x", "patient": ""}
    )
    assert response.status_code == 403
    assert Participant.objects.count() == before
    session.refresh_from_db()
    assert session.status == TherapySession.Status.SCHEDULED


@pytest.mark.parametrize("page", READ_PAGES + WRITE_GET_PAGES)
def test_anonymous_visitors_are_sent_to_login(page, client_for, session, series):
    response = client_for(None).get(_url(page, session, series))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


# ---------------------------------------------------------------- week calendar


def test_calendar_shows_the_requested_iso_week_with_prev_next(client_for, staff_user):
    monday = datetime.date.fromisocalendar(2026, 49, 1)
    start = make_local(monday + datetime.timedelta(days=2), datetime.time(18))
    SessionFactory(
        start=start, end=start + datetime.timedelta(hours=3), title="Wed grp"
    )
    response = client_for(staff_user).get("/sessions/?week=2026-W49")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Wed grp" in body
    assert "week=2026-W48" in body and "week=2026-W50" in body
    assert response.context["monday"] == monday


def test_calendar_with_a_bad_week_says_so_and_shows_this_week(client_for, staff_user):
    response = client_for(staff_user).get("/sessions/?week=2026-W99")
    assert response.status_code == 200
    assert response.context["monday"] == week_start(clinic_today())
    assert "was not understood" in response.content.decode()


def test_calendar_filters_by_room_facilitator_and_patient(client_for, staff_user):
    room_a, room_b = RoomFactory(), RoomFactory()
    other = staff()
    patient = AdmittedPatientFactory()
    a = enrol(
        facilitate(SessionFactory(room=room_a, title="In A"), staff_user), patient
    )
    later = a.start + datetime.timedelta(hours=4)
    facilitate(
        SessionFactory(
            room=room_b,
            title="In B",
            start=later,
            end=later + datetime.timedelta(hours=1),
        ),
        other,
    )
    client = client_for(staff_user)
    week = iso_week(local(a.start).date())
    for query, shown, hidden in [
        (f"room={room_b.pk}", "In B", "In A"),
        (f"facilitator={staff_user.pk}", "In A", "In B"),
        (f"patient={patient.pk}", "In A", "In B"),
    ]:
        body = client.get(f"/sessions/?week={week}&{query}").content.decode()
        assert shown in body and hidden not in body, query


def test_calendar_htmx_request_returns_the_week_fragment(client_for, staff_user):
    response = client_for(staff_user).get("/sessions/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert "HX-Request" in response["Vary"]


def _this_week_at(days, hour):
    """An aware start `days` after this week's Monday at `hour`, clinic time."""
    monday = week_start(clinic_today())
    return make_local(monday + datetime.timedelta(days=days), datetime.time(hour))


def _session_at(start, title, facilitator, **kw):
    return facilitate(
        SessionFactory(
            start=start, end=start + datetime.timedelta(hours=1), title=title, **kw
        ),
        facilitator,
    )


def test_a_facilitator_opens_on_my_sessions_and_can_widen_to_the_clinic(
    client_for, staff_user
):
    _session_at(_this_week_at(1, 9), "Mine on Tuesday", staff_user)
    _session_at(_this_week_at(1, 11), "Not mine", staff())
    client = client_for(staff_user)
    response = client.get("/sessions/")
    body = response.content.decode()
    assert response.context["mine"]
    assert "Schedule: my sessions" in body
    assert "Mine on Tuesday" in body and "Not mine" not in body
    assert '<a href="?week=' in body and '&amp;show=mine" aria-current="page"' in body
    # The way out is on the page: the whole clinic.
    assert '&amp;show=all">Whole clinic</a>' in body
    wide = client.get(
        f"/sessions/?week={iso_week(week_start(clinic_today()))}&show=all"
    )
    assert "Mine on Tuesday" in wide.content.decode()
    assert "Not mine" in wide.content.decode()
    assert "Schedule: whole clinic" in wide.content.decode()


def test_someone_who_runs_no_sessions_opens_on_the_whole_clinic(client_for, users):
    _session_at(_this_week_at(2, 9), "Counselor group", staff())
    for role in ("staff", "doctor"):
        response = client_for(users[role]).get("/sessions/")
        assert response.context["whole_clinic"], role
        assert "Counselor group" in response.content.decode()


def test_the_calendar_remembers_the_last_view_chosen(client_for, staff_user):
    room = RoomFactory(name="Harbor Room")
    _session_at(_this_week_at(0, 9), "Mine", staff_user)
    _session_at(_this_week_at(0, 13), "In Harbor", staff(), room=room)
    client = client_for(staff_user)
    assert client.get("/sessions/").context["mine"]
    client.get(f"/sessions/?room={room.pk}&show=all")
    again = client.get("/sessions/")
    assert again.context["room"].pk == room.pk
    assert "Schedule: Harbor Room" in again.content.decode()
    assert "In Harbor" in again.content.decode()
    client.get("/sessions/?show=all")
    assert client.get("/sessions/").context["whole_clinic"]
    # Looking up a patient's week is not a view to come back to.
    patient = AdmittedPatientFactory()
    assert client.get(f"/sessions/?patient={patient.pk}").context["patient"] == patient
    assert client.get("/sessions/").context["whole_clinic"]
    client.get("/sessions/?show=mine")
    assert client.get("/sessions/").context["mine"]


def test_choosing_a_room_from_my_sessions_shows_the_rooms_week(client_for, staff_user):
    room = RoomFactory(name="Harbor Room")
    _session_at(_this_week_at(0, 9), "Mine elsewhere", staff_user)
    _session_at(_this_week_at(0, 13), "Theirs in Harbor", staff(), room=room)
    client = client_for(staff_user)
    body = client.get("/sessions/?show=mine&week=2027-W10").content.decode()
    # The selects are one link away from "My sessions".
    assert 'id="f-room"' not in body
    assert (
        '<a href="?week=2027-W10&amp;choose=1">Choose a room or a facilitator</a>'
        in body
    )
    body = client.get("/sessions/?show=mine&week=2027-W10&choose=1").content.decode()
    assert f'<option value="{room.pk}">Harbor Room</option>' in body
    # The facilitator select does not carry "me" along into the next choice.
    assert f'<option value="{staff_user.pk}" selected>' not in body
    assert '<option value="" selected>Everyone</option>' in body
    # What the form sends when a room is picked there.
    body = client.get(
        f"/sessions/?show=all&room={room.pk}&facilitator="
    ).content.decode()
    assert "Theirs in Harbor" in body and "Mine elsewhere" not in body


def test_a_patient_found_by_name_shows_their_whole_week_whatever_the_selects(
    client_for, staff_user
):
    room = RoomFactory()
    ann = AdmittedPatientFactory(first_name="Ann", last_name="Lee")
    enrol(_session_at(_this_week_at(1, 9), "Ann elsewhere", staff()), ann)
    response = client_for(staff_user).post(
        f"/sessions/?show=all&room={room.pk}&facilitator={staff_user.pk}",
        {"find": "ann lee"},
        follow=True,
    )
    assert response.redirect_chain[-1][0].endswith(f"&patient={ann.pk}")
    assert response.context["patient"] == ann
    assert response.context["room"] is None
    assert "Ann elsewhere" in response.content.decode()


def test_the_remembered_view_is_per_login(client_for, staff_user):
    _session_at(_this_week_at(0, 9), "Mine", staff_user)
    client = client_for(staff_user)
    client.get("/sessions/?show=all")
    assert client_for(staff_user).get("/sessions/").context["mine"]


def test_the_week_links_keep_the_view(client_for, staff_user):
    room = RoomFactory()
    client = client_for(staff_user)
    body = client.get(f"/sessions/?room={room.pk}&week=2027-W10").content.decode()
    assert f"?week=2027-W11&amp;room={room.pk}" in body
    assert f"?week=2027-W09&amp;room={room.pk}" in body
    mine = client.get("/sessions/?show=mine&week=2027-W10", HTTP_HX_REQUEST="true")
    assert "?week=2027-W11&amp;show=mine" in mine.content.decode()
    assert "<html" not in mine.content.decode()


def test_a_full_clinic_week_shows_one_day_at_a_time_with_every_day_reachable(
    client_for, staff_user, monkeypatch
):
    from sessions.selectors import scheduling as selectors

    monkeypatch.setattr(selectors, "WHOLE_CLINIC_WEEK_LIMIT", 3)
    monday = datetime.date.fromisocalendar(2027, 10, 1)
    tuesday = monday + datetime.timedelta(days=1)
    other = staff()
    for hour in (8, 10, 12):
        _session_at(make_local(monday, datetime.time(hour)), f"Mon {hour}", other)
    _session_at(make_local(tuesday, datetime.time(9)), "Tue 9", other)
    client = client_for(staff_user)
    response = client.get("/sessions/?show=all&week=2027-W10")
    body = response.content.decode()
    # Not this week: the first day with sessions.
    assert response.context["day"]["date"] == monday
    assert "Mon 8" in body and "Mon 12" in body and "Tue 9" not in body
    assert "one day at a time" in body
    assert response.context["session_count"] == 4
    assert "(3 sessions)" in body and "(1 session)" in body
    assert f"day={tuesday:%Y-%m-%d}&amp;show=all" in body
    tue = client.get(f"/sessions/?show=all&week=2027-W10&day={tuesday:%Y-%m-%d}")
    assert "Tue 9" in tue.content.decode() and "Mon 8" not in tue.content.decode()
    assert tue.context["day"]["date"] == tuesday
    # A day outside the week, or not a date: the week's first busy day.
    for bad in ("2030-01-01", "abc"):
        other_day = client.get(f"/sessions/?show=all&week=2027-W10&day={bad}")
        assert other_day.status_code == 200
        assert other_day.context["day"]["date"] == monday
    # A narrower view of the same week is shown whole.
    narrow = client.get(f"/sessions/?facilitator={other.pk}&week=2027-W10")
    assert narrow.context["day"] is None
    assert "Mon 8" in narrow.content.decode() and "Tue 9" in narrow.content.decode()


def test_a_session_tile_shows_time_facilitators_places_and_status(
    client_for, staff_user
):
    monday = datetime.date.fromisocalendar(2027, 10, 1)
    group = _session_at(
        make_local(monday, datetime.time(9)),
        "Morning <b>group</b>",
        staff_user,
        room=RoomFactory(name="Dune Room"),
        capacity=8,
    )
    facilitate(group, staff(full_name="Olga Other"))
    enrol(group, AdmittedPatientFactory(), AdmittedPatientFactory())
    start = make_local(monday, datetime.time(14))
    call = facilitate(
        SessionFactory(
            kind=Kind.INDIVIDUAL,
            capacity=1,
            topic=None,
            room=None,
            modality=Modality.TELEHEALTH,
            telehealth_url="https://video.example/abc",
            start=start,
            end=start + datetime.timedelta(minutes=50),
        ),
        staff_user,
    )
    svc.session_cancel(session=call, reason="Patient ill", actor=staff_user)
    body = client_for(staff_user).get("/sessions/?show=mine&week=2027-W10")
    body = body.content.decode()
    assert "<strong>09:00–10:00</strong> Morning &lt;b&gt;group&lt;/b&gt;: " in body
    assert "Dune Room · Sam Staff, Olga Other · 2/8" in body
    assert f'href="/sessions/{group.pk}/"' in body
    assert '<a class="event individual cancelled"' in body
    assert "<strong>14:00–14:50</strong> Individual session<br>" in body
    assert "Telehealth · Sam Staff · cancelled" in body


def test_a_quiet_clinic_week_is_shown_whole(client_for, staff_user):
    monday = datetime.date.fromisocalendar(2027, 10, 1)
    _session_at(make_local(monday, datetime.time(9)), "Mon 9", staff())
    _session_at(
        make_local(monday + datetime.timedelta(days=4), datetime.time(9)),
        "Fri 9",
        staff(),
    )
    response = client_for(staff_user).get("/sessions/?show=all&week=2027-W10")
    assert response.context["day"] is None
    assert "Mon 9" in response.content.decode()
    assert "Fri 9" in response.content.decode()


def test_patients_are_found_by_name_not_listed(client_for, staff_user):
    ann = AdmittedPatientFactory(first_name="Ann", last_name="Lee")
    AdmittedPatientFactory(first_name="Bo", last_name="Leeds")
    AdmittedPatientFactory(first_name="Cy", last_name="Quixwold")
    s = enrol(_session_at(_this_week_at(3, 9), "Ann group", staff()), ann)
    client = client_for(staff_user)
    page = client.get("/sessions/?show=all").content.decode()
    assert "Quixwold" not in page  # no list of every admitted patient
    several = client.post("/sessions/", {"find": "lee"}).content.decode()
    assert "Patients matching" in several
    assert (
        f"?week={iso_week(week_start(clinic_today()))}&amp;patient={ann.pk}" in several
    )
    assert "Leeds, Bo" in several and "Quixwold" not in several
    one = client.post("/sessions/", {"find": "ann lee"}, follow=True)
    assert one.context["patient"] == ann
    assert "Schedule: Ann Lee" in one.content.decode()
    assert s.title in one.content.decode()
    by_record = client.post("/sessions/", {"find": ann.record_number}, follow=True)
    assert by_record.context["patient"] == ann
    none = client.post("/sessions/", {"find": "zzz"}).content.decode()
    assert "No patient matches" in none


def test_a_patient_search_never_puts_the_name_in_a_url(client_for, staff_user):
    ann = AdmittedPatientFactory(first_name="Ann", last_name="Quorvel")
    client = client_for(staff_user)
    page = client.get("/sessions/?show=all").content.decode()
    assert 'method="post" action="?week=' in page and 'name="find"' in page
    found = client.post("/sessions/", {"find": "quorvel"})
    assert found.status_code == 302
    assert "quorvel" not in found["Location"].lower()
    assert found["Location"].endswith(f"&patient={ann.pk}")
    # A name in the query string is not a search (it would sit in logs and history).
    assert client.get("/sessions/?find=quorvel").context["patient"] is None


def test_a_search_with_many_matches_says_there_are_more(client_for, staff_user):
    from sessions.selectors.scheduling import PATIENT_MATCHES

    for i in range(PATIENT_MATCHES + 2):
        PatientFactory(last_name=f"Smith{i:02d}")
    response = client_for(staff_user).post("/sessions/", {"find": "smith"})
    assert len(response.context["matches"]) == PATIENT_MATCHES
    assert "More patients match" in response.content.decode()


def test_a_patient_not_admitted_has_a_week_too(client_for, staff_user):
    gone = PatientFactory(first_name="Dee", last_name="Parted")
    response = client_for(staff_user).get(f"/sessions/?patient={gone.pk}")
    assert response.context["patient"] == gone


def test_calendar_answers_a_long_or_empty_search_with_a_page(client_for, staff_user):
    client = client_for(staff_user)
    assert client.post("/sessions/", {"find": "x" * 500}).status_code == 200
    assert client.post("/sessions/", {"find": ""}).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        "room=abc",
        "room=999999",
        "facilitator=-1",
        "patient=999999",
        "patient=99999999999999999999999",
        "room=99999999999999999999999&facilitator=99999999999999999999999",
        "show=everything",
        "day=2026-02-30",
        "find=" + "x" * 500,
        "week=2026-W49&patient=abc",
        "week=2026-W99&show=all",
    ],
)
def test_calendar_answers_bad_input_with_a_page(client_for, staff_user, query):
    response = client_for(staff_user).get(f"/sessions/?{query}")
    assert response.status_code == 200


def _fill_week(count, monday):
    """`count` sessions of 10 minutes, one after another, in one week, each with a
    facilitator and a patient. Returns the facilitator."""
    user, room, patient = staff(), RoomFactory(), AdmittedPatientFactory()
    first = make_local(monday, datetime.time(0, 5))
    sessions = TherapySession.objects.bulk_create(
        [
            TherapySession(
                kind=Kind.GROUP,
                start=first + datetime.timedelta(minutes=15 * i),
                end=first + datetime.timedelta(minutes=15 * i + 10),
                modality=Modality.IN_PERSON,
                room=room,
                capacity=5,
                created_by=user,
            )
            for i in range(count)
        ]
    )
    SessionFacilitator.objects.bulk_create(
        [SessionFacilitator(session=s, user=user) for s in sessions]
    )
    Participant.objects.bulk_create(
        [Participant(session=s, patient=patient) for s in sessions]
    )
    return user


def _queries(client, url):
    """(number of queries, response) of a page that answers 200."""
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response


def _calendar_queries(client, monday):
    return _queries(client, f"/sessions/?week={iso_week(monday)}")


def test_week_calendar_query_count_is_the_same_for_10_and_500_sessions(
    client_for, staff_user
):
    client = client_for(staff_user)
    client.get("/sessions/")  # the first visit settles (and remembers) the view
    small_week = datetime.date.fromisocalendar(2027, 10, 1)
    big_week = datetime.date.fromisocalendar(2027, 12, 1)
    _fill_week(10, small_week)
    _fill_week(500, big_week)
    small, r_small = _calendar_queries(client, small_week)
    big, r_big = _calendar_queries(client, big_week)
    assert r_small.context["session_count"] == 10
    assert r_big.context["session_count"] == 500
    assert small == big


def test_my_sessions_query_count_is_the_same_for_10_and_500_sessions(client_for):
    small_week = datetime.date.fromisocalendar(2027, 10, 1)
    big_week = datetime.date.fromisocalendar(2027, 12, 1)
    _fill_week(10, small_week)
    user = _fill_week(500, big_week)
    client = client_for(user)
    client.get("/sessions/")
    small, r_small = _calendar_queries(client, small_week)
    big, r_big = _calendar_queries(client, big_week)
    assert r_small.context["mine"] and r_big.context["mine"]
    assert (r_small.context["session_count"], r_big.context["session_count"]) == (
        0,
        500,
    )
    assert small == big


def test_week_calendar_costs_a_fixed_number_of_queries(
    client_for, staff_user, django_assert_num_queries
):
    client = client_for(staff_user)
    monday = datetime.date.fromisocalendar(2027, 10, 1)
    _fill_week(25, monday)
    client.get("/sessions/")  # warm the session/user caches of the test client
    # session, user, groups (role), the whole clinic's day counts, sessions (with
    # their facilitators and counts).
    with django_assert_num_queries(5):
        client.get(f"/sessions/?week={iso_week(monday)}")
    # The user's own week needs no day counts (the first request of a new view
    # also saves it in the session).
    client.get(f"/sessions/?week={iso_week(monday)}&show=mine")
    with django_assert_num_queries(4):
        client.get(f"/sessions/?week={iso_week(monday)}&show=mine")
    # A room's week, or the selects asked for: the rooms and facilitators too.
    room = RoomFactory()
    client.get(f"/sessions/?week={iso_week(monday)}&room={room.pk}")
    with django_assert_num_queries(5):
        client.get(f"/sessions/?week={iso_week(monday)}&room={room.pk}")
    client.get(f"/sessions/?week={iso_week(monday)}&show=mine")
    with django_assert_num_queries(5):
        client.get(f"/sessions/?week={iso_week(monday)}&show=mine&choose=1")


def test_agenda_query_count_does_not_grow(client_for, staff_user):
    client = client_for(staff_user)
    a = datetime.date.fromisocalendar(2027, 10, 2)
    b = datetime.date.fromisocalendar(2027, 12, 2)
    _fill_week(5, a - datetime.timedelta(days=1))
    _fill_week(90, b - datetime.timedelta(days=1))
    counts = []
    for day in (a - datetime.timedelta(days=1), b - datetime.timedelta(days=1)):
        counts.append(_queries(client, f"/sessions/today/?day={day:%Y-%m-%d}")[0])
    assert counts[0] == counts[1]


# ------------------------------------------------------------------ day agenda


def test_agenda_lists_the_days_sessions_with_expected_people(
    client_for, staff_user, session
):
    day = local(session.start).date()
    response = client_for(staff_user).get(f"/sessions/today/?day={day:%Y-%m-%d}")
    body = response.content.decode()
    assert "Ann Lee" in body
    assert session.label in body


# ------------------------------------------------------------------ session page


def test_session_page_has_roster_section(client_for, doctor_user, session):
    response = client_for(doctor_user).get(f"/sessions/{session.pk}/")
    body = response.content.decode()
    assert '<section class="card" id="roster"' in body
    assert "Ann Lee" in body
    assert "Add to session" not in body  # doctors read only


def test_staff_creates_a_session_from_the_form(client_for, staff_user):
    room, topic = RoomFactory(capacity=8), TopicFactory()
    day = clinic_today() + datetime.timedelta(days=3)
    response = client_for(staff_user).post(
        "/sessions/new/",
        {
            "kind": "group",
            "date": day.isoformat(),
            "start_time": "10:00",
            "duration_minutes": "90",
            "topic": topic.pk,
            "modality": "in_person",
            "room": room.pk,
            "facilitators": [staff_user.pk],
        },
    )
    session = TherapySession.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/sessions/{session.pk}/"
    assert local(session.start) == make_local(day, datetime.time(10))
    assert session.capacity == 8 and session.minutes == 90


def test_double_booking_on_the_form_names_the_conflicting_session(
    client_for, staff_user, session
):
    start = local(session.start)
    response = client_for(staff_user).post(
        "/sessions/new/",
        {
            "kind": "group",
            "date": start.date().isoformat(),
            "start_time": "19:00",
            "duration_minutes": "60",
            "modality": "in_person",
            "room": session.room_id,
            "facilitators": [staff().pk],
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "is already booked at that time" in body
    assert f"session {session.pk}" in body
    assert TherapySession.objects.count() == 1


def test_bad_input_on_the_session_form_is_a_message_not_an_error(
    client_for, staff_user
):
    response = client_for(staff_user).post(
        "/sessions/new/",
        {"kind": "group", "date": "not a date", "modality": "telehealth"},
    )
    assert response.status_code == 200
    assert "A telehealth session needs its link." in response.content.decode()


def test_adding_a_patient_not_admitted_shows_why(client_for, staff_user, session):
    patient = PatientFactory(first_name="Rita", last_name="Moss")
    response = client_for(staff_user).post(
        f"/sessions/{session.pk}/participants/add/", {"patient": patient.pk}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Rita Moss cannot be scheduled" in body
    assert not Participant.objects.filter(patient=patient).exists()


def test_staff_adds_and_removes_a_participant(client_for, staff_user, session):
    patient = AdmittedPatientFactory()
    client = client_for(staff_user)
    response = client.post(
        f"/sessions/{session.pk}/participants/add/", {"patient": patient.pk}
    )
    assert response.status_code == 302
    assert Participant.objects.filter(session=session, patient=patient).exists()
    client.post(f"/sessions/{session.pk}/participants/{patient.pk}/remove/")
    assert not Participant.objects.filter(session=session, patient=patient).exists()


def test_edit_this_and_following_through_the_form(client_for, staff_user, series):
    sessions = list(series.sessions.order_by("start"))
    response = client_for(staff_user).post(
        f"/sessions/{sessions[1].pk}/edit/",
        {
            "scope": "following",
            "start_time": "10:00",
            "duration_minutes": "120",
            "modality": "in_person",
            "room": sessions[1].room_id,
            "facilitators": [staff_user.pk],
        },
    )
    assert response.status_code == 302
    times = [local(s.start).time() for s in series.sessions.order_by("start")]
    assert times == [datetime.time(9)] + [datetime.time(10)] * 3


def test_cancel_one_occurrence_through_the_form(client_for, staff_user, series):
    sessions = list(series.sessions.order_by("start"))
    client_for(staff_user).post(
        f"/sessions/{sessions[2].pk}/cancel/",
        {"scope": "one", "reason": "Holiday"},
    )
    statuses = list(series.sessions.order_by("start").values_list("status", flat=True))
    assert statuses == ["scheduled", "scheduled", "cancelled", "scheduled"]


def test_series_page_adds_a_patient_from_a_date(client_for, staff_user, series):
    patient = AdmittedPatientFactory()
    sessions = list(series.sessions.order_by("start"))
    from_date = local(sessions[1].start).date()
    response = client_for(staff_user).post(
        f"/sessions/series/{series.pk}/",
        {"action": "add", "patient": patient.pk, "from_date": from_date.isoformat()},
    )
    assert response.status_code == 302
    enrolled = set(
        Participant.objects.filter(patient=patient).values_list("session_id", flat=True)
    )
    assert enrolled == {s.pk for s in sessions[1:]}


def test_series_create_form_makes_every_occurrence(client_for, staff_user):
    room, topic = RoomFactory(capacity=10), TopicFactory()
    patient = AdmittedPatientFactory()
    start = clinic_today() + datetime.timedelta(days=1)
    response = client_for(staff_user).post(
        "/sessions/series/new/",
        {
            "kind": "group",
            "topic": topic.pk,
            "weekdays": ["0", "2", "3"],
            "start_time": "18:00",
            "duration_minutes": "180",
            "starts_on": start.isoformat(),
            "occurrences": "6",
            "modality": "in_person",
            "room": room.pk,
            "facilitators": [staff_user.pk],
            "patients": [patient.pk],
        },
    )
    assert response.status_code == 302
    assert TherapySession.objects.count() == 6
    assert Participant.objects.filter(patient=patient).count() == 6


def test_staff_topic_page_adds_and_retires_topics(client_for, staff_user):
    client = client_for(staff_user)
    client.post("/sessions/topics/", {"name": "Grief and loss", "active": "on"})
    topic = TopicFactory._meta.model.objects.get(name="Grief and loss")
    client.post("/sessions/topics/", {"topic": topic.pk, "name": "Grief and loss"})
    topic.refresh_from_db()
    assert topic.active is False
    response = client.post("/sessions/topics/", {"name": "grief and LOSS"})
    assert "already exists" in response.content.decode()


# -------------------------------------------------------------------- feeds


def test_patient_feed_shows_time_kind_modality_only(client_for, staff_user, session):
    patient = session.participants.first().patient
    other = AdmittedPatientFactory(first_name="Zed", last_name="Quill")
    enrol(session, other)
    feed = svc.calendar_feed_regenerate(actor=staff_user, patient=patient)
    response = client_for(None).get(f"/sessions/feed/{feed.token}.ics")
    body = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert "SUMMARY:Group session (In person)" in body
    assert f"DTSTART:{session.start.astimezone(datetime.UTC):%Y%m%dT%H%M%SZ}" in body
    assert session.topic.name not in body
    assert "Zed" not in body and "Quill" not in body and patient.last_name not in body
    assert session.room.name not in body


def test_facilitator_feed_and_regenerating_kills_the_old_link(
    client_for, staff_user, session
):
    client = client_for(staff_user)
    client.post("/sessions/feed/")
    old = CalendarFeed.objects.get(user=staff_user).token
    assert client_for(None).get(f"/sessions/feed/{old}.ics").status_code == 200
    client = client_for(staff_user)
    client.post("/sessions/feed/")
    new = CalendarFeed.objects.get(user=staff_user).token
    assert new != old
    assert client_for(None).get(f"/sessions/feed/{old}.ics").status_code == 404
    body = client_for(None).get(f"/sessions/feed/{new}.ics").content.decode()
    assert f"UID:session-{session.pk}@" in body


def test_feed_with_a_wrong_token_is_not_found(client_for):
    assert client_for(None).get("/sessions/feed/nope.ics").status_code == 404


def test_patient_feed_regenerate_redirects_only_to_this_site(
    client_for, staff_user, session
):
    patient = session.participants.first().patient
    response = client_for(staff_user).post(
        f"/sessions/feed/patient/{patient.pk}/", {"next": "https://evil.test/"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.pk}/"
    assert CalendarFeed.objects.filter(patient=patient).exists()


# ------------------------------------------------------------- patient page section


def test_patient_page_shows_the_schedule_section(client_for, users, session):
    patient = session.participants.first().patient
    for role in ("staff", "doctor"):
        response = client_for(users[role]).get(f"/patients/{patient.pk}/")
        body = response.content.decode()
        assert response.status_code == 200
        assert 'id="schedule"' in body
        assert f"/sessions/{session.pk}/" in body
        has_feed_button = "calendar link for the patient" in body
        assert has_feed_button is (role == "staff")


def test_discharge_through_the_patient_service_clears_future_sessions(
    staff_user, session
):
    from patients import services as patient_services

    patient = session.participants.first().patient
    two_days_ago = session.start - datetime.timedelta(days=3)
    old = enrol(
        SessionFactory(
            start=two_days_ago, end=two_days_ago + datetime.timedelta(hours=1)
        ),
        patient,
    )
    patient_services.patient_discharge(
        patient=patient, actor=staff_user, on=clinic_today(), reason="completed"
    )
    remaining = Participant.objects.filter(patient=patient).values_list(
        "session", flat=True
    )
    assert list(remaining) == [old.pk]


def _roster(size):
    session = facilitate(SessionFactory(capacity=40), staff())
    enrol(session, *AdmittedPatientFactory.create_batch(size))
    return session


def test_session_page_query_count_does_not_grow_with_the_roster(client_for, staff_user):
    client = client_for(staff_user)
    small, big = _roster(2), _roster(30)
    counts = []
    for session in (small, big):
        counts.append(_queries(client, f"/sessions/{session.pk}/")[0])
    assert counts[0] == counts[1]


def test_series_page_query_count_does_not_grow(client_for, staff_user):
    client = client_for(staff_user)
    counts = []
    for n, occurrences in enumerate((2, 40)):
        series = svc.series_create(
            kind=Kind.GROUP,
            weekdays=[n],
            start_time=datetime.time(7),
            duration_minutes=60,
            starts_on=clinic_today() + datetime.timedelta(days=1),
            occurrences=occurrences,
            facilitators=[staff_user],
            actor=staff_user,
            room=RoomFactory(capacity=30),
            patients=AdmittedPatientFactory.create_batch(occurrences // 2 + 1),
        )
        counts.append(_queries(client, f"/sessions/series/{series.pk}/")[0])
    assert counts[0] == counts[1]


def test_full_group_page_says_full_instead_of_offering_the_form(client_for, staff_user):
    session = _roster(0)
    svc.session_update(session=session, actor=staff_user, capacity=1)
    enrol(session, AdmittedPatientFactory())
    body = client_for(staff_user).get(f"/sessions/{session.pk}/").content.decode()
    assert "The group is full." in body
    assert "Add to session" not in body


def test_staff_add_and_resize_rooms(client_for, staff_user):
    from sessions.models import Room

    client = client_for(staff_user)
    response = client.post(
        "/sessions/rooms/", {"name": "Garden Room", "capacity": "8", "active": "on"}
    )
    assert response.status_code == 302
    room = Room.objects.get(name="Garden Room")
    assert room.capacity == 8 and room.active
    client.post(
        "/sessions/rooms/", {"room": room.pk, "name": "Garden Room", "capacity": "6"}
    )
    room.refresh_from_db()
    assert (room.capacity, room.active) == (6, False)


def test_room_cannot_shrink_below_a_booked_group(client_for, staff_user):
    session = SessionFactory(capacity=12)
    response = client_for(staff_user).post(
        "/sessions/rooms/",
        {"room": session.room_id, "name": session.room.name, "capacity": "4"},
    )
    assert response.status_code == 400
    assert f"session {session.pk}" in response.content.decode()
    session.room.refresh_from_db()
    assert session.room.capacity == 12


@pytest.mark.parametrize("role", ["doctor", "sponsor"])
def test_only_staff_and_admin_manage_rooms(role, users, client_for):
    response = client_for(users[role]).post(
        "/sessions/rooms/", {"name": "Sneaky", "capacity": "3"}
    )
    assert response.status_code == 403
    from sessions.models import Room

    assert not Room.objects.filter(name="Sneaky").exists()


def test_calendar_day_links_prefill_the_session_and_series_forms(
    client_for, staff_user
):
    client = client_for(staff_user)
    monday = datetime.date.fromisocalendar(2027, 10, 1)
    wednesday = monday + datetime.timedelta(days=2)
    body = client.get("/sessions/?week=2027-W10").content.decode()
    assert f"/sessions/new/?date={wednesday:%Y-%m-%d}" in body
    series_link = f"/sessions/series/new/?starts_on={wednesday:%Y-%m-%d}&amp;weekdays=3"
    assert series_link in body
    response = client.get(f"/sessions/series/new/?starts_on={wednesday}&weekdays=3")
    form = response.context["form"]
    assert form.initial["weekdays"] == [2]  # Wednesday, Monday = 0
    assert str(form.initial["starts_on"]) == str(wednesday)


def test_calendar_choices_list_the_same_people_as_the_session_forms(staff_user):
    """The calendar reads rooms and facilitators in one plain-SQL query; it must
    offer exactly the rooms and people the session forms offer."""
    from accounts import roles
    from sessions.models import Room
    from sessions.selectors.scheduling import (
        calendar_filter_options,
        facilitator_choices,
    )
    from tests.conftest import make_user

    RoomFactory(name="Harbor Room")
    Room.objects.create(name="Closed Room", capacity=4, active=False)
    make_user(roles.DOCTOR, full_name="Dora Doctor")
    make_user(roles.SPONSOR, full_name="Sam Sponsor")
    gone = make_user(roles.STAFF, full_name="Gone Staff")
    gone.is_active = False
    gone.save()
    make_user(roles.STAFF, full_name="")  # shown by email

    options = calendar_filter_options()

    assert {c.pk for c in options["facilitators"]} == {
        u.pk for u in facilitator_choices()
    }
    assert {c.pk for c in options["rooms"]} == set(
        Room.objects.filter(active=True).values_list("pk", flat=True)
    )
    names = [c.name for c in options["facilitators"]]
    assert "Sam Sponsor" not in names and "Gone Staff" not in names
    assert any("@" in name for name in names)
