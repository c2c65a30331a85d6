"""Demo schedule: a morning and an evening group track three days a week, and
individual and family sessions, for the four weeks before and after today, with
the admitted demo patients enrolled. Safe to run again: what exists is kept."""

import datetime

from core.timeutil import clinic_today, day_bounds, make_local, week_start
from patients.models import Patient, Sponsor
from sessions.models import Kind, TherapySession
from sessions.services import scheduling as svc
from sessions.services.scheduling import SchedulingError

WEEKS = 4

TRACKS = [
    # title, track name, weekdays, start, minutes, room, facilitators
    (
        "Morning IOP group",
        "Morning IOP",
        [0, 2, 4],
        datetime.time(9),
        180,
        "Harbor Room",
        ["staff@demo.test", "l.okafor@demo.test"],
    ),
    (
        "Evening IOP group",
        "Evening IOP",
        [0, 1, 3],
        datetime.time(18),
        180,
        "Lighthouse Room",
        ["r.castillo@demo.test"],
    ),
]
COUNSELORS = ["l.okafor@demo.test", "r.castillo@demo.test", "staff@demo.test"]
OFFICES = ["Counseling Office 1", "Counseling Office 2"]


def _say(stdout, text):
    if stdout is not None:
        stdout.write(text)


def seed_schedule(*, users, program, stdout=None):
    actor = users["staff@demo.test"]
    today = clinic_today()
    first_day = week_start(today) - datetime.timedelta(weeks=WEEKS)
    last_day = week_start(today) + datetime.timedelta(weeks=WEEKS, days=6)
    patients = list(
        Patient.objects.filter(status=Patient.Status.ADMITTED)
        .select_related("track", "primary_counselor")
        .order_by("id")
    )
    topics = [t for t in program["topics"].values() if t.active]
    made = 0

    for index, (title, track, weekdays, start, minutes, room_name, emails) in enumerate(
        TRACKS
    ):
        if TherapySession.objects.filter(title=title).exists():
            continue
        room = program["rooms"][room_name]
        members = [p for p in patients if p.track and p.track.name == track]
        if not members:  # patients without a track alternate between the two
            members = [p for i, p in enumerate(patients) if i % 2 == index]
        series = svc.series_create(
            kind=Kind.GROUP,
            title=title,
            topic=topics[0] if topics else None,
            weekdays=weekdays,
            start_time=start,
            duration_minutes=minutes,
            starts_on=first_day,
            ends_on=last_day,
            facilitators=[users[e] for e in emails],
            actor=actor,
            room=room,
            patients=members[: room.capacity],
        )
        # Each meeting works on the next topic of the curriculum.
        for n, session in enumerate(series.sessions.order_by("start")):
            topic = topics[n % len(topics)] if topics else None
            if topic and session.topic_id != topic.pk:
                svc.session_update(session=session, actor=actor, topic=topic)
        made += series.sessions.count()

    made += _seed_one_to_one(
        users=users, program=program, patients=patients, first_day=first_day
    )
    _say(stdout, f"Schedule: {made} sessions added ({len(patients)} patients).\n")


def _seed_one_to_one(*, users, program, patients, first_day):
    """A weekly individual session per patient and a family session every other
    week, at the first free hour of the afternoon."""
    actor = users["staff@demo.test"]
    made = 0
    for index, patient in enumerate(patients):
        counselor = (
            patient.primary_counselor or users[COUNSELORS[index % len(COUNSELORS)]]
        )
        sponsor = Sponsor.objects.filter(patient=patient).order_by("id").first()
        for week in range(2 * WEEKS):
            monday = first_day + datetime.timedelta(weeks=week)
            weekday = 1 + index % 3  # Tue, Wed or Thu
            day = monday + datetime.timedelta(days=weekday)
            made += _book(
                kind=Kind.INDIVIDUAL,
                title="Individual counseling",
                day=day,
                patient=patient,
                counselor=counselor,
                program=program,
                actor=actor,
                minutes=50,
            )
            if week % 2 == index % 2:
                family = _book(
                    kind=Kind.FAMILY,
                    title="Family session",
                    day=day + datetime.timedelta(days=1),
                    patient=patient,
                    counselor=counselor,
                    program=program,
                    actor=actor,
                    minutes=60,
                    room_names=["Family Room", *OFFICES],
                    sponsor=sponsor,
                )
                made += family
    return made


def _book(
    *,
    kind,
    title,
    day,
    patient,
    counselor,
    program,
    actor,
    minutes,
    room_names=OFFICES,
    sponsor=None,
):
    start_of_day, end_of_day = day_bounds(day)
    if TherapySession.objects.filter(
        kind=kind,
        participants__patient=patient,
        start__gte=start_of_day,
        start__lt=end_of_day,
    ).exists():
        return 0
    for hour in (13, 14, 15, 16):
        for room_name in room_names:
            start = make_local(day, datetime.time(hour))
            try:
                session = svc.session_create(
                    kind=kind,
                    title=title,
                    start=start,
                    end=start + datetime.timedelta(minutes=minutes),
                    facilitators=[counselor],
                    actor=actor,
                    room=program["rooms"][room_name],
                    patients=[patient],
                )
            except SchedulingError:
                continue
            if kind == Kind.FAMILY:
                if sponsor is not None:
                    svc.family_member_add(session=session, actor=actor, sponsor=sponsor)
                else:
                    svc.family_member_add(
                        session=session,
                        actor=actor,
                        name=f"Family of {patient.first_name}",
                        relationship="Family",
                    )
            return 1
    return 0
