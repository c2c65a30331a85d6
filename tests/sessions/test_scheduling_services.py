"""Scheduling services and the database's own refusals."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.models import AuditEvent
from core.timeutil import clinic_today, local, make_local
from patients.models import Patient
from sessions.models import (
    Kind,
    Modality,
    Participant,
    SessionFacilitator,
    TherapySession,
)
from sessions.services import scheduling as svc
from sessions.services.scheduling import SchedulingError
from tests.factories import (
    AdmittedPatientFactory,
    PatientFactory,
    RoomFactory,
    SessionFactory,
    SponsorFactory,
    TopicFactory,
    enrol,
    facilitate,
    past_session,
    staff,
)

pytestmark = pytest.mark.django_db

EVENING = datetime.time(18)


def _day(offset):
    return clinic_today() + datetime.timedelta(days=offset)


def _group(actor, *, room=None, start=None, minutes=180, capacity=None, **kw):
    start = start or make_local(_day(1), EVENING)
    return svc.session_create(
        kind=Kind.GROUP,
        start=start,
        end=start + datetime.timedelta(minutes=minutes),
        facilitators=kw.pop("facilitators", [actor]),
        actor=actor,
        room=room or RoomFactory(),
        capacity=capacity,
        topic=TopicFactory(),
        **kw,
    )


# ----------------------------------------------------------- raw database refusals


def _raw_session(cursor, *, room_id, start, end, user_id, status="scheduled"):
    cursor.execute(
        """INSERT INTO therapy_sessions_therapysession
           (kind, title, start, "end", modality, room_id, telehealth_url, capacity,
            status, cancel_reason, created_by_id, created_at, updated_at)
           VALUES ('group', '', %s, %s, %s, %s, %s, 5, %s, %s, %s, now(), now())
           RETURNING id""",
        [
            start,
            end,
            "in_person" if room_id else "telehealth",
            room_id,
            "" if room_id else "https://video.test/x",
            status,
            "" if status == "scheduled" else "closed",
            user_id,
        ],
    )
    return cursor.fetchone()[0]


def test_raw_insert_of_overlapping_sessions_in_one_room_fails_in_postgres():
    user, room = staff(), RoomFactory()
    start = make_local(_day(2), EVENING)
    with connection.cursor() as cur:
        _raw_session(
            cur,
            room_id=room.pk,
            start=start,
            end=start + datetime.timedelta(hours=3),
            user_id=user.pk,
        )
        with (
            pytest.raises(IntegrityError, match="session_room_no_overlap"),
            transaction.atomic(),
        ):
            _raw_session(
                cur,
                room_id=room.pk,
                start=start + datetime.timedelta(hours=2),
                end=start + datetime.timedelta(hours=4),
                user_id=user.pk,
            )
        # Back to back is fine, and a cancelled session does not hold the room.
        _raw_session(
            cur,
            room_id=room.pk,
            start=start + datetime.timedelta(hours=3),
            end=start + datetime.timedelta(hours=4),
            user_id=user.pk,
        )
        _raw_session(
            cur,
            room_id=room.pk,
            start=start,
            end=start + datetime.timedelta(hours=1),
            user_id=user.pk,
            status="cancelled",
        )


def _second_link_refused(sql, owner_id, *, second, constraint):
    """Two raw sessions (the second at `second`, a pair of offsets from the first's
    start, which lasts three hours); `sql` links the owner to the first, and
    linking them to the second is refused by `constraint`."""
    user = staff()
    start = make_local(_day(2), EVENING)
    with connection.cursor() as cur:
        a = _raw_session(
            cur,
            room_id=None,
            start=start,
            end=start + datetime.timedelta(hours=3),
            user_id=user.pk,
        )
        b = _raw_session(
            cur,
            room_id=None,
            start=start + second[0],
            end=start + second[1],
            user_id=user.pk,
        )
        cur.execute(sql, [a, owner_id])
        with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
            cur.execute(sql, [b, owner_id])


def test_raw_insert_of_one_facilitator_in_overlapping_sessions_fails_in_postgres():
    _second_link_refused(
        "INSERT INTO therapy_sessions_sessionfacilitator (session_id, user_id,"
        " active) VALUES (%s, %s, true)",
        staff().pk,
        second=(datetime.timedelta(hours=1), datetime.timedelta(hours=2)),
        constraint="facilitator_no_overlap",
    )


def test_raw_insert_of_one_patient_in_overlapping_sessions_fails_in_postgres():
    _second_link_refused(
        "INSERT INTO therapy_sessions_participant (session_id, patient_id, active,"
        " added_at) VALUES (%s, %s, true, now())",
        AdmittedPatientFactory().pk,
        second=(datetime.timedelta(minutes=170), datetime.timedelta(hours=4)),
        constraint="participant_no_overlap",
    )


def test_moving_a_session_onto_a_patients_other_session_fails_in_postgres():
    patient = AdmittedPatientFactory()
    a = enrol(SessionFactory(), patient)
    later = a.start + datetime.timedelta(hours=5)
    b = enrol(
        SessionFactory(start=later, end=later + datetime.timedelta(hours=1)), patient
    )
    with (
        pytest.raises(IntegrityError, match="participant_no_overlap"),
        transaction.atomic(),
    ):
        TherapySession.objects.filter(pk=b.pk).update(start=a.start, end=a.end)


# ------------------------------------------------------------------ single sessions


def test_session_create_books_room_facilitator_and_patient():
    actor, patient = staff(), AdmittedPatientFactory()
    session = _group(actor, patients=[patient])
    assert session.capacity == session.room.capacity
    assert list(session.facilitators.all()) == [actor]
    assert list(session.patients.all()) == [patient]
    assert AuditEvent.objects.filter(action="participant_add", patient=patient).exists()


def test_room_double_booking_message_names_the_conflicting_session():
    actor, room = staff(), RoomFactory(name="Harbor Room")
    first = _group(actor, room=room)
    with pytest.raises(SchedulingError) as exc:
        _group(
            staff(),
            room=room,
            start=first.start + datetime.timedelta(hours=1),
            facilitators=[staff()],
        )
    message = exc.value.messages[0]
    assert "Harbor Room is already booked" in message
    assert f"session {first.pk}" in message
    assert TherapySession.objects.count() == 1


def test_facilitator_double_booking_message_names_the_facilitator_and_session():
    actor = staff(full_name="Lena Okafor")
    first = _group(actor)
    with pytest.raises(SchedulingError) as exc:
        _group(actor, start=first.start + datetime.timedelta(minutes=30))
    assert "Lena Okafor is already facilitating" in exc.value.messages[0]
    assert f"session {first.pk}" in exc.value.messages[0]


def test_patient_double_booking_message_names_the_other_session():
    actor, patient = staff(), AdmittedPatientFactory(first_name="Ann", last_name="Lee")
    first = _group(actor, patients=[patient])
    second = _group(staff(), start=first.start + datetime.timedelta(hours=2))
    with pytest.raises(SchedulingError) as exc:
        svc.participant_add(session=second, patient=patient, actor=actor)
    assert "Ann Lee is already booked" in exc.value.messages[0]
    assert f"session {first.pk}" in exc.value.messages[0]


@pytest.mark.parametrize(
    "status", [Patient.Status.REFERRED, Patient.Status.AWAITING_APPROVAL]
)
def test_not_admitted_patient_is_refused_with_the_reason(status):
    actor = staff()
    session = _group(actor)
    patient = PatientFactory(status=status, first_name="Bo", last_name="Ray")
    with pytest.raises(SchedulingError) as exc:
        svc.participant_add(session=session, patient=patient, actor=actor)
    assert "Bo Ray cannot be scheduled" in exc.value.messages[0]
    assert "only admitted patients" in exc.value.messages[0]
    assert not Participant.objects.exists()


def test_on_hold_and_discharged_patients_are_refused():
    actor = staff()
    session = _group(actor)
    held = AdmittedPatientFactory(status=Patient.Status.ON_HOLD)
    with pytest.raises(SchedulingError, match="on hold"):
        svc.participant_add(session=session, patient=held, actor=actor)


def test_full_group_gives_a_message_not_an_error():
    actor = staff()
    session = _group(actor, capacity=1)
    svc.participant_add(session=session, patient=AdmittedPatientFactory(), actor=actor)
    with pytest.raises(SchedulingError, match="is full"):
        svc.participant_add(
            session=session, patient=AdmittedPatientFactory(), actor=actor
        )


def test_individual_session_has_exactly_one_patient():
    actor = staff()
    start = make_local(_day(1), datetime.time(10))
    session = svc.session_create(
        kind=Kind.INDIVIDUAL,
        start=start,
        end=start + datetime.timedelta(hours=1),
        facilitators=[actor],
        actor=actor,
        modality=Modality.TELEHEALTH,
        telehealth_url="https://video.test/room",
        patients=[AdmittedPatientFactory()],
    )
    assert session.capacity == 1 and session.room is None
    with pytest.raises(SchedulingError, match="one patient"):
        svc.participant_add(
            session=session, patient=AdmittedPatientFactory(), actor=actor
        )


def test_family_session_takes_family_members_and_the_patients_sponsor():
    actor = staff()
    sponsor = SponsorFactory()
    start = make_local(_day(1), datetime.time(15))
    session = svc.session_create(
        kind=Kind.FAMILY,
        start=start,
        end=start + datetime.timedelta(hours=1),
        facilitators=[actor],
        actor=actor,
        room=RoomFactory(),
        patients=[sponsor.patient],
    )
    svc.family_member_add(
        session=session, actor=actor, name="June Park", relationship="Mother"
    )
    svc.family_member_add(session=session, actor=actor, sponsor=sponsor)
    assert sorted(m.name for m in session.family_members.all()) == sorted(
        ["June Park", sponsor.full_name]
    )
    other = SponsorFactory()
    with pytest.raises(SchedulingError, match="not the session patient's sponsor"):
        svc.family_member_add(session=session, actor=actor, sponsor=other)


def test_facilitators_are_one_or_two_clinicians():
    actor = staff()
    with pytest.raises(SchedulingError, match="one or two"):
        _group(actor, facilitators=[actor, staff(), staff()])
    with pytest.raises(SchedulingError, match="one or two"):
        _group(actor, facilitators=[])
    session = _group(actor, facilitators=[actor, staff()])
    assert session.facilitator_links.count() == 2


def test_cancelled_session_frees_the_room_and_the_patients():
    actor, patient, room = staff(), AdmittedPatientFactory(), RoomFactory()
    first = _group(actor, room=room, patients=[patient])
    svc.session_cancel(session=first, reason="Facilitator ill", actor=actor)
    second = _group(actor, room=room, start=first.start)
    svc.participant_add(session=second, patient=patient, actor=actor)
    assert Participant.objects.get(session=first).active is False


def test_cancel_needs_a_reason():
    actor = staff()
    with pytest.raises(SchedulingError, match="reason"):
        svc.session_cancel(session=_group(actor), reason=" ", actor=actor)


# --------------------------------------------------------------------------- series


def _series(
    actor, *, weekdays=(0, 2, 3), starts_on=None, count=None, ends_on=None, **kw
):
    return svc.series_create(
        kind=Kind.GROUP,
        weekdays=weekdays,
        start_time=kw.pop("start_time", EVENING),
        duration_minutes=kw.pop("duration_minutes", 180),
        starts_on=starts_on or _day(1),
        ends_on=ends_on,
        occurrences=count if ends_on is None and count is None else count,
        facilitators=kw.pop("facilitators", [actor]),
        actor=actor,
        room=kw.pop("room", None) or RoomFactory(),
        topic=TopicFactory(),
        **kw,
    )


def test_series_creates_each_occurrence_on_the_chosen_weekdays():
    actor = staff()
    series = _series(actor, count=9)
    sessions = list(series.sessions.order_by("start"))
    assert len(sessions) == 9
    assert {local(s.start).weekday() for s in sessions} == {0, 2, 3}
    assert all(local(s.start).time() == EVENING for s in sessions)
    assert all(s.facilitator_links.count() == 1 for s in sessions)


def test_series_across_the_dst_change_keeps_18_local_on_both_sides():
    actor = staff()
    # In America/New_York, clocks go forward on Sunday 14 March 2027.
    series = _series(
        actor,
        weekdays=(0, 2, 3),
        starts_on=datetime.date(2027, 3, 8),
        ends_on=datetime.date(2027, 3, 18),
    )
    sessions = list(series.sessions.order_by("start"))
    assert [local(s.start).date().day for s in sessions] == [8, 10, 11, 15, 17, 18]
    assert all(local(s.start).time() == EVENING for s in sessions)
    assert all(local(s.end).time() == datetime.time(21) for s in sessions)
    utc_hours = {s.start.astimezone(datetime.UTC).hour for s in sessions}
    assert utc_hours == {23, 22}  # EST before, EDT after: same wall clock


def test_series_conflict_creates_nothing_and_names_the_clash():
    actor, room = staff(), RoomFactory(name="Lighthouse Room")
    blocker = _group(staff(), room=room, start=make_local(_day(8), EVENING))
    weekday = _day(8).weekday()
    with pytest.raises(SchedulingError) as exc:
        _series(actor, weekdays=[weekday], count=4, room=room)
    assert f"session {blocker.pk}" in exc.value.messages[0]
    assert TherapySession.objects.count() == 1


def test_series_with_an_end_date_and_no_matching_day_is_refused():
    actor = staff()
    monday = _day(7 - _day(0).weekday() + 7)
    with pytest.raises(SchedulingError, match="No day"):
        _series(actor, weekdays=[6], starts_on=monday, ends_on=monday)


def test_edit_one_occurrence_leaves_the_others():
    actor = staff()
    series = _series(actor, count=6)
    sessions = list(series.sessions.order_by("start"))
    svc.session_update(
        session=sessions[2], actor=actor, scope="one", start_time=datetime.time(17)
    )
    after = list(series.sessions.order_by("start"))
    assert local(after[2].start).time() == datetime.time(17)
    assert local(after[2].end).time() == datetime.time(20)
    for i in (0, 1, 3, 4, 5):
        assert local(after[i].start).time() == EVENING


def test_edit_this_and_following_leaves_the_earlier_ones():
    actor = staff()
    other_room = RoomFactory(name="Family Room", capacity=20)
    series = _series(actor, count=6)
    sessions = list(series.sessions.order_by("start"))
    svc.session_update(
        session=sessions[3],
        actor=actor,
        scope="following",
        start_time=datetime.time(17, 30),
        duration_minutes=120,
        room=other_room,
    )
    after = list(series.sessions.select_related("room").order_by("start"))
    for s in after[:3]:
        assert local(s.start).time() == EVENING and s.room != other_room
    for s in after[3:]:
        assert local(s.start).time() == datetime.time(17, 30)
        assert s.minutes == 120 and s.room == other_room


def test_edit_following_keeps_local_time_across_dst():
    actor = staff()
    series = _series(
        actor,
        weekdays=(0, 3),
        starts_on=datetime.date(2027, 3, 1),
        ends_on=datetime.date(2027, 3, 25),
    )
    first = series.sessions.order_by("start").first()
    svc.session_update(
        session=first, actor=actor, scope="following", start_time=datetime.time(9)
    )
    assert all(local(s.start).time() == datetime.time(9) for s in series.sessions.all())
    series.refresh_from_db()
    assert series.start_time == datetime.time(9)


def test_cancel_this_and_following_leaves_earlier_ones_scheduled():
    actor = staff()
    series = _series(actor, count=5)
    sessions = list(series.sessions.order_by("start"))
    svc.session_cancel(
        session=sessions[1], reason="Group ends early", actor=actor, scope="following"
    )
    statuses = list(series.sessions.order_by("start").values_list("status", flat=True))
    assert statuses == ["scheduled"] + ["cancelled"] * 4


def test_edit_that_would_double_book_names_the_conflict_and_changes_nothing():
    actor, room = staff(), RoomFactory(name="Harbor Room")
    series = _series(actor, count=3, room=room)
    sessions = list(series.sessions.order_by("start"))
    day = local(sessions[2].start).date()
    blocker = _group(staff(), room=room, start=make_local(day, datetime.time(14)))
    with pytest.raises(SchedulingError) as exc:
        svc.session_update(
            session=sessions[0],
            actor=actor,
            scope="following",
            start_time=datetime.time(13),
        )
    assert f"session {blocker.pk}" in exc.value.messages[0]
    assert all(local(s.start).time() == EVENING for s in series.sessions.all())


def test_adding_a_patient_to_a_running_series_reaches_every_later_occurrence_only():
    actor, patient = staff(), AdmittedPatientFactory()
    series = _series(actor, starts_on=_day(-14), count=12)
    sessions = list(series.sessions.order_by("start"))
    from_date = _day(3)
    added = svc.series_patient_add(
        series=series, patient=patient, from_date=from_date, actor=actor
    )
    boundary = make_local(from_date, datetime.time.min)
    later = [s for s in sessions if s.start >= boundary]
    earlier = [s for s in sessions if s.start < boundary]
    assert later and earlier
    assert {s.pk for s in added} == {s.pk for s in later}
    enrolled = set(
        Participant.objects.filter(patient=patient).values_list("session_id", flat=True)
    )
    assert enrolled == {s.pk for s in later}


def test_removing_a_patient_from_a_date_forward_keeps_earlier_occurrences():
    actor, patient = staff(), AdmittedPatientFactory()
    series = _series(actor, count=9, patients=[patient])
    sessions = list(series.sessions.order_by("start"))
    cut = local(sessions[4].start).date()
    removed = svc.series_patient_remove(
        series=series, patient=patient, from_date=cut, actor=actor
    )
    assert removed == 5
    enrolled = set(
        Participant.objects.filter(patient=patient).values_list("session_id", flat=True)
    )
    assert enrolled == {s.pk for s in sessions[:4]}


def test_series_add_is_all_or_nothing_when_one_occurrence_is_full():
    actor = staff()
    series = _series(actor, count=4, capacity=1)
    sessions = list(series.sessions.order_by("start"))
    svc.participant_add(
        session=sessions[2], patient=AdmittedPatientFactory(), actor=actor
    )
    patient = AdmittedPatientFactory()
    with pytest.raises(SchedulingError, match="is full"):
        svc.series_patient_add(
            series=series, patient=patient, from_date=_day(0), actor=actor
        )
    assert not Participant.objects.filter(patient=patient).exists()


def test_series_add_refuses_a_patient_not_admitted():
    actor = staff()
    series = _series(actor, count=2)
    with pytest.raises(SchedulingError, match="only admitted"):
        svc.series_patient_add(
            series=series, patient=PatientFactory(), from_date=_day(0), actor=actor
        )


# ------------------------------------------------------- discharge and hold clearing


def test_discharge_clears_future_sessions_not_past_ones():
    actor, patient = staff(), AdmittedPatientFactory()
    old = enrol(past_session(hours_ago=48), patient)
    soon = enrol(SessionFactory(), patient)
    later_start = soon.start + datetime.timedelta(days=2)
    later = enrol(
        SessionFactory(
            start=later_start, end=later_start + datetime.timedelta(hours=1)
        ),
        patient,
    )
    removed = svc.patient_future_sessions_clear(patient=patient, actor=actor)
    assert removed == 2
    left = set(
        Participant.objects.filter(patient=patient).values_list("session_id", flat=True)
    )
    assert left == {old.pk}
    assert not Participant.objects.filter(session__in=[soon, later]).exists()
    audits = AuditEvent.objects.filter(action="participant_remove", patient=patient)
    assert audits.count() == 2


def test_clear_keeps_a_session_already_under_way():
    actor, patient = staff(), AdmittedPatientFactory()
    start = timezone.now() - datetime.timedelta(minutes=30)
    running = enrol(
        SessionFactory(start=start, end=start + datetime.timedelta(hours=2)), patient
    )
    assert svc.patient_future_sessions_clear(patient=patient, actor=actor) == 0
    assert Participant.objects.filter(session=running, patient=patient).exists()


# ---------------------------------------------------------------------------- topics


def test_topic_create_refuses_a_duplicate_name():
    actor = staff()
    svc.topic_create(name="Grief and loss", actor=actor)
    with pytest.raises(SchedulingError, match="already exists"):
        svc.topic_create(name="grief and loss", actor=actor)


def test_facilitator_link_copies_session_times():
    actor = staff()
    session = facilitate(SessionFactory(), actor)
    link = SessionFacilitator.objects.get(session=session)
    assert (link.start, link.end, link.active) == (session.start, session.end, True)


def test_capacity_cannot_drop_below_the_roster():
    actor = staff()
    session = _group(actor, capacity=3)
    for patient in AdmittedPatientFactory.create_batch(2):
        svc.participant_add(session=session, patient=patient, actor=actor)
    with pytest.raises(SchedulingError, match="more patients than 1 places"):
        svc.session_update(session=session, actor=actor, capacity=1)
    session.refresh_from_db()
    assert session.capacity == 3


def test_moving_a_session_onto_a_patients_other_booking_names_the_patient():
    actor = staff()
    patient = AdmittedPatientFactory(first_name="Cy", last_name="Vance")
    first = _group(actor, patients=[patient])
    later = first.start + datetime.timedelta(hours=4)
    second = _group(staff(), start=later, minutes=60, patients=[patient])
    with pytest.raises(SchedulingError) as exc:
        svc.session_update(
            session=second, actor=actor, start_time=local(first.start).time()
        )
    assert "Cy Vance is already booked" in exc.value.messages[0]
    assert f"session {first.pk}" in exc.value.messages[0]


def test_a_session_that_has_started_cannot_be_moved():
    actor = staff()
    session = facilitate(past_session(hours_ago=30), actor)
    with pytest.raises(SchedulingError, match="cannot be moved"):
        svc.session_update(
            session=session, actor=actor, start_time=datetime.time(7, 15)
        )


def test_series_with_a_double_booked_patient_names_them_and_creates_nothing():
    actor = staff()
    patient = AdmittedPatientFactory(first_name="Dee", last_name="Holt")
    other = AdmittedPatientFactory()
    day = _day(9)
    blocker = _group(staff(), start=make_local(day, EVENING), patients=[patient])
    with pytest.raises(SchedulingError) as exc:
        _series(actor, weekdays=[day.weekday()], count=3, patients=[other, patient])
    assert "Dee Holt is already booked" in exc.value.messages[0]
    assert f"session {blocker.pk}" in exc.value.messages[0]
    assert TherapySession.objects.count() == 1
    assert not Participant.objects.filter(patient=other).exists()


def test_series_enrolment_writes_one_audit_row_per_patient():
    actor = staff()
    patients = AdmittedPatientFactory.create_batch(2)
    series = _series(actor, count=6, patients=patients)
    for patient in patients:
        rows = AuditEvent.objects.filter(patient=patient, action="participant_add")
        assert rows.count() == 1
        assert "6 sessions" in rows.get().summary
    assert Participant.objects.filter(session__series=series).count() == 12


def test_series_count_that_does_not_fit_in_a_year_is_refused():
    actor = staff()
    with pytest.raises(SchedulingError, match="at most a year"):
        _series(actor, weekdays=[0], count=60)
    assert not TherapySession.objects.exists()
