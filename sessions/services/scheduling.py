"""Scheduling writes: sessions, series, participants, family members, feeds.

Every function is `<entity>_<verb>` with keyword-only arguments, runs inside
`transaction.atomic`, writes audit rows for patient data, and turns the database's
refusals (exclusion constraints, the capacity trigger) into a `SchedulingError`
whose message names the conflicting session.
"""

import datetime
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.roles import CLINICAL, has_role
from core.audit import audit
from core.timeutil import clinic_today, local, make_local
from patients.models import Patient
from sessions.models import (
    WEEKDAY_NAMES,
    Alert,
    Attendance,
    CalendarFeed,
    FamilyMember,
    Kind,
    Modality,
    Participant,
    Room,
    SessionFacilitator,
    SessionSeries,
    TherapySession,
    Topic,
)

MAX_OCCURRENCES = 260
MAX_SERIES_DAYS = 366


class SchedulingError(ValidationError):
    """A booking the clinic or the database refuses; the message is for people."""


# --------------------------------------------------------------------------- helpers


def describe(session):
    """'Group: Relapse prevention, Mon Nov 30 18:00-21:00' for messages."""
    start, end = local(session.start), local(session.end)
    return f"{session.label}, {start:%a %b %-d %H:%M}-{end:%H:%M}"


def _constraint_name(exc):
    cause = getattr(exc, "__cause__", None)
    diag = getattr(cause, "diag", None)
    return getattr(diag, "constraint_name", None) or ""


def _active():
    return ~Q(status=TherapySession.Status.CANCELLED)


def _overlapping(start, end, exclude_id=None):
    qs = TherapySession.objects.filter(_active(), start__lt=end, end__gt=start)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    return qs.select_related("topic")


def _conflict_message(exc, *, session, patient=None, users=None):
    """Explain an IntegrityError raised while writing `session` or its links."""
    name = _constraint_name(exc)
    start, end = session.start, session.end
    others = _overlapping(start, end, exclude_id=session.pk)
    if name == "session_room_no_overlap":
        other = others.filter(room_id=session.room_id).first()
        what = f"{session.room} is already booked"
    elif name == "facilitator_no_overlap":
        ids = (
            [u.pk for u in users]
            if users
            else list(
                SessionFacilitator.objects.filter(session=session).values_list(
                    "user_id", flat=True
                )
            )
        )
        other = others.filter(facilitator_links__user_id__in=ids).first()
        if other is not None:
            busy = other.facilitator_links.filter(user_id__in=ids).first()
            what = f"{busy.user.full_name or busy.user.email} is already facilitating"
        else:
            what = "A facilitator is already facilitating"
    elif name == "participant_no_overlap":
        qs = others
        if patient is not None:
            qs = qs.filter(participants__patient=patient)
            who = patient.full_name
        else:
            ids = list(
                Participant.objects.filter(session=session).values_list(
                    "patient_id", flat=True
                )
            )
            qs = qs.filter(participants__patient_id__in=ids)
            who = "A patient"
        other = qs.first()
        if other is not None and patient is None:
            busy = (
                Participant.objects.filter(session=other, patient_id__in=ids)
                .select_related("patient")
                .first()
            )
            who = busy.patient.full_name if busy else who
        what = f"{who} is already booked"
    elif name == "participant_within_capacity":
        return f"{describe(session)} is full ({session.capacity} places)."
    elif name == "participant_once_per_session":
        who = patient.full_name if patient is not None else "The patient"
        return f"{who} is already on this session's roster."
    elif name == "facilitator_once_per_session":
        return "The same facilitator is listed twice."
    else:
        return f"The schedule refused this change ({name or 'database constraint'})."
    if other is not None:
        return f"{what} at that time: {describe(other)} (session {other.pk})."
    return f"{what} at that time."


def _check_facilitators(facilitators):
    facilitators = list(dict.fromkeys(facilitators))
    if not 1 <= len(facilitators) <= 2:
        raise SchedulingError("Choose one or two facilitators.")
    for user in facilitators:
        if not has_role(user, *CLINICAL):
            raise SchedulingError(
                f"{user.full_name or user.email} is not clinic staff or a doctor."
            )
    return facilitators


def _check_admitted(patient):
    if patient.status != Patient.Status.ADMITTED:
        raise SchedulingError(
            f"{patient.full_name} cannot be scheduled: the patient is "
            f"{patient.get_status_display().lower()}, and only admitted patients "
            "can be added to sessions."
        )


def _normalise(*, kind, modality, room, telehealth_url, capacity):
    """Shared rules for a session or series' shape; returns the capacity to use."""
    if kind not in Kind.values:
        raise SchedulingError("Choose individual, family or group.")
    if modality == Modality.IN_PERSON and room is None:
        raise SchedulingError("An in-person session needs a room.")
    if modality == Modality.TELEHEALTH and not telehealth_url:
        raise SchedulingError("A telehealth session needs its video link.")
    if kind != Kind.GROUP:
        return 1
    if capacity is None:
        capacity = room.capacity if room is not None else 12
    if capacity < 1:
        raise SchedulingError("Capacity must be at least 1.")
    if modality == Modality.IN_PERSON and capacity > room.capacity:
        raise SchedulingError(
            f"{room} holds {room.capacity}; capacity cannot be {capacity}."
        )
    return capacity


def _save_session(session, *, facilitators):
    """Insert or update a session and (re)link its facilitators; explain refusals."""
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError as exc:
        raise SchedulingError(_conflict_message(exc, session=session)) from exc
    if facilitators is not None:
        wanted = {u.pk for u in facilitators}
        SessionFacilitator.objects.filter(session=session).exclude(
            user_id__in=wanted
        ).delete()
        have = set(
            SessionFacilitator.objects.filter(session=session).values_list(
                "user_id", flat=True
            )
        )
        for user in facilitators:
            if user.pk in have:
                continue
            try:
                with transaction.atomic():
                    SessionFacilitator.objects.create(session=session, user=user)
            except IntegrityError as exc:
                raise SchedulingError(
                    _conflict_message(exc, session=session, users=[user])
                ) from exc
    return session


def _insert_participant(*, session, patient, actor):
    try:
        with transaction.atomic():
            link = Participant.objects.create(
                session=session, patient=patient, added_by=actor
            )
    except IntegrityError as exc:
        raise SchedulingError(
            _conflict_message(exc, session=session, patient=patient)
        ) from exc
    audit(
        user=actor,
        action="participant_add",
        obj=session,
        patient=patient,
        summary=f"Added to {describe(session)}",
    )
    return link


def _insert_participants_bulk(*, pairs, actor):
    """Insert many (session, patient) rows in one statement; the triggers and
    constraints still check every row. On a refusal, redo them one by one to name
    the conflict (the caller's transaction is then rolled back by the error)."""
    if not pairs:
        return []
    try:
        with transaction.atomic():
            return Participant.objects.bulk_create(
                [Participant(session=s, patient=p, added_by=actor) for s, p in pairs]
            )
    except IntegrityError:
        for session, patient in pairs:
            _insert_participant(session=session, patient=patient, actor=actor)
        raise


def _audit_series_enrolment(*, actor, series, patient, sessions, verb="Added to"):
    first, last = local(sessions[0].start), local(sessions[-1].start)
    audit(
        user=actor,
        action="participant_add" if verb == "Added to" else "participant_remove",
        obj=series,
        patient=patient,
        summary=f"{verb} {len(sessions)} sessions of {series}, "
        f"{first:%b %-d} to {last:%b %-d, %Y}",
    )


# ------------------------------------------------------------------- rooms, topics


@transaction.atomic
def topic_create(*, name, actor):
    name = name.strip()
    if not name:
        raise SchedulingError("Give the topic a name.")
    if Topic.objects.filter(name__iexact=name).exists():
        raise SchedulingError(f"The topic “{name}” already exists.")
    topic = Topic.objects.create(name=name)
    audit(user=actor, action="topic_create", obj=topic, summary=name)
    return topic


@transaction.atomic
def topic_update(*, topic, name, active, actor):
    name = name.strip()
    if not name:
        raise SchedulingError("Give the topic a name.")
    if Topic.objects.filter(name__iexact=name).exclude(pk=topic.pk).exists():
        raise SchedulingError(f"The topic “{name}” already exists.")
    changed = [
        f for f, v in (("name", name), ("active", active)) if getattr(topic, f) != v
    ]
    topic.name, topic.active = name, active
    topic.save()
    audit(
        user=actor,
        action="topic_update",
        obj=topic,
        changed_fields=changed,
        summary=name,
    )
    return topic


@transaction.atomic
def room_save(*, actor, name, capacity, active=True, room=None):
    """Create a room, or rename / resize / retire one. A room cannot shrink below
    the capacity of a group already booked in it from now on."""
    name = name.strip()
    if not name:
        raise SchedulingError("Give the room a name.")
    if capacity is None or capacity < 1:
        raise SchedulingError("A room holds at least one person.")
    clash = Room.objects.filter(name__iexact=name)
    if room is not None:
        clash = clash.exclude(pk=room.pk)
    if clash.exists():
        raise SchedulingError(f"A room called “{name}” already exists.")
    if room is not None:
        bigger = (
            TherapySession.objects.filter(
                _active(), room=room, end__gt=timezone.now(), capacity__gt=capacity
            )
            .select_related("topic")
            .order_by("start")
            .first()
        )
        if bigger is not None:
            raise SchedulingError(
                f"{describe(bigger)} is booked in this room for {bigger.capacity} "
                f"(session {bigger.pk}); lower that first."
            )
    changed = []
    if room is None:
        room = Room(name=name, capacity=capacity, active=active)
        action = "room_create"
    else:
        for field, value in (
            ("name", name),
            ("capacity", capacity),
            ("active", active),
        ):
            if getattr(room, field) != value:
                setattr(room, field, value)
                changed.append(field)
        action = "room_update"
    room.save()
    audit(user=actor, action=action, obj=room, changed_fields=changed, summary=name)
    return room


# ------------------------------------------------------------------------ sessions


@transaction.atomic
def session_create(
    *,
    kind,
    start,
    end,
    facilitators,
    actor,
    modality=Modality.IN_PERSON,
    room=None,
    telehealth_url="",
    capacity=None,
    topic=None,
    title="",
    patients=(),
):
    """One session (not part of a series), its facilitators and optional patients."""
    if end <= start:
        raise SchedulingError("The session must end after it starts.")
    if end - start > datetime.timedelta(hours=12):
        raise SchedulingError("A session cannot last more than 12 hours.")
    facilitators = _check_facilitators(facilitators)
    capacity = _normalise(
        kind=kind,
        modality=modality,
        room=room,
        telehealth_url=telehealth_url,
        capacity=capacity,
    )
    session = TherapySession(
        kind=kind,
        start=start,
        end=end,
        modality=modality,
        room=room if modality == Modality.IN_PERSON else None,
        telehealth_url=telehealth_url if modality == Modality.TELEHEALTH else "",
        capacity=capacity,
        topic=topic if kind == Kind.GROUP else None,
        title=title,
        created_by=actor,
    )
    _save_session(session, facilitators=facilitators)
    audit(user=actor, action="session_create", obj=session, summary=describe(session))
    for patient in patients:
        _check_admitted(patient)
        _insert_participant(session=session, patient=patient, actor=actor)
    return session


SESSION_FIELDS = (
    "title",
    "topic",
    "modality",
    "room",
    "telehealth_url",
    "capacity",
)


def _apply_changes(session, *, start_time, duration_minutes, fields, facilitators):
    """Change one session in place (local wall clock kept on its own day)."""
    changed = []
    if start_time is not None or duration_minutes is not None:
        day = local(session.start).date()
        new_start = (
            make_local(day, start_time) if start_time is not None else session.start
        )
        minutes = duration_minutes if duration_minutes else session.minutes
        new_end = new_start + datetime.timedelta(minutes=minutes)
        if (new_start, new_end) != (session.start, session.end):
            if session.start <= timezone.now():
                raise SchedulingError(
                    f"{describe(session)} has already started; it cannot be moved."
                )
            session.start, session.end = new_start, new_end
            changed += ["start", "end"]
    for name, value in fields.items():
        if getattr(session, name) != value:
            setattr(session, name, value)
            changed.append(name)
    capacity = _normalise(
        kind=session.kind,
        modality=session.modality,
        room=session.room,
        telehealth_url=session.telehealth_url,
        capacity=session.capacity,
    )
    if session.modality == Modality.TELEHEALTH:
        session.room = None
    else:
        session.telehealth_url = ""
    session.capacity = capacity
    try:
        with transaction.atomic():
            _save_session(session, facilitators=facilitators)
    except IntegrityError as exc:  # capacity below roster, from the shrink trigger
        raise SchedulingError(_conflict_message(exc, session=session)) from exc
    except SchedulingError as exc:
        if "is full" in exc.messages[0]:
            raise SchedulingError(
                f"{describe(session)} already has more patients than "
                f"{session.capacity} places."
            ) from exc
        raise
    return changed


@transaction.atomic
def session_update(
    *,
    session,
    actor,
    scope="one",
    start_time=None,
    duration_minutes=None,
    facilitators=None,
    **fields,
):
    """Change one session, or (scope="following") this and every later scheduled
    occurrence of its series. Each occurrence keeps its own day; the local start
    time is applied on that day, so it holds across daylight-saving changes."""
    unknown = set(fields) - set(SESSION_FIELDS)
    if unknown:
        raise TypeError(f"unknown fields {sorted(unknown)}")
    if facilitators is not None:
        facilitators = _check_facilitators(facilitators)
    if scope == "following" and session.series_id:
        targets = list(
            TherapySession.objects.select_for_update(of=("self",))
            .filter(
                series_id=session.series_id,
                start__gte=session.start,
                status=TherapySession.Status.SCHEDULED,
            )
            .select_related("room", "topic")
            .order_by("start")
        )
    else:
        targets = [
            TherapySession.objects.select_for_update(of=("self",)).get(pk=session.pk)
        ]
    if any(t.status == TherapySession.Status.CANCELLED for t in targets):
        raise SchedulingError("A cancelled session cannot be changed.")
    for target in targets:
        changed = _apply_changes(
            target,
            start_time=start_time,
            duration_minutes=duration_minutes,
            fields=fields,
            facilitators=facilitators,
        )
        audit(
            user=actor,
            action="session_update",
            obj=target,
            changed_fields=changed + (["facilitators"] if facilitators else []),
            summary=describe(target),
        )
    if scope == "following" and session.series_id:
        series = SessionSeries.objects.get(pk=session.series_id)
        first = series.sessions.order_by("start").values_list("pk", flat=True).first()
        if first == session.pk:
            # The whole series changed: keep its pattern true.
            for name, value in fields.items():
                setattr(series, name, value)
            if start_time is not None:
                series.start_time = start_time
            if duration_minutes:
                series.duration_minutes = duration_minutes
            series.save()
            if facilitators is not None:
                series.facilitators.set(facilitators)
    return targets


@transaction.atomic
def session_cancel(*, session, reason, actor, scope="one"):
    """Cancel one session or this and every later scheduled occurrence. Rosters stay
    (for the record) but no longer block anyone's time."""
    reason = (reason or "").strip()
    if not reason:
        raise SchedulingError("Give a reason for cancelling.")
    qs = TherapySession.objects.select_for_update(of=("self",)).filter(
        status=TherapySession.Status.SCHEDULED
    )
    if scope == "following" and session.series_id:
        qs = qs.filter(series_id=session.series_id, start__gte=session.start)
    else:
        qs = qs.filter(pk=session.pk)
    targets = list(qs.order_by("start"))
    if not targets:
        raise SchedulingError("This session is not scheduled any more.")
    for target in targets:
        target.status = TherapySession.Status.CANCELLED
        target.cancel_reason = reason[:200]
        target.save(update_fields=["status", "cancel_reason", "updated_at"])
        audit(
            user=actor,
            action="session_cancel",
            obj=target,
            changed_fields=["status", "cancel_reason"],
            summary=f"{describe(target)}: {reason}",
        )
    return targets


# -------------------------------------------------------------------- participants


@transaction.atomic
def participant_add(*, session, patient, actor):
    """Add an admitted patient to a session. The session row is locked first, so two
    people adding the last seat at the same moment are served one after the other."""
    session = (
        TherapySession.objects.select_for_update(of=("self",))
        .select_related("topic", "room")
        .get(pk=session.pk)
    )
    patient = Patient.objects.get(pk=patient.pk)
    _check_admitted(patient)
    if session.status != TherapySession.Status.SCHEDULED:
        raise SchedulingError(f"{describe(session)} is {session.get_status_display()}.")
    if session.end <= timezone.now():
        raise SchedulingError(f"{describe(session)} is over.")
    if Participant.objects.filter(session=session, patient=patient).exists():
        raise SchedulingError(f"{patient.full_name} is already on this roster.")
    taken = Participant.objects.filter(session=session).count()
    if taken >= session.capacity:
        if session.kind == Kind.GROUP:
            raise SchedulingError(
                f"{describe(session)} is full ({session.capacity} places)."
            )
        raise SchedulingError(
            f"A{'n' if session.kind == Kind.INDIVIDUAL else ''} "
            f"{session.get_kind_display().lower()} session has one patient, "
            "who is already booked."
        )
    return _insert_participant(session=session, patient=patient, actor=actor)


@transaction.atomic
def participant_remove(*, session, patient, actor):
    deleted, _ = Participant.objects.filter(session=session, patient=patient).delete()
    if not deleted:
        raise SchedulingError(f"{patient.full_name} is not on this roster.")
    audit(
        user=actor,
        action="participant_remove",
        obj=session,
        patient=patient,
        summary=f"Removed from {describe(session)}",
    )


@transaction.atomic
def patient_future_sessions_clear(*, patient, actor):
    """Take the patient off every session that has not started yet (discharge, hold).
    Past sessions keep their rosters. Returns how many rows were removed."""
    now = timezone.now()
    links = list(
        Participant.objects.select_for_update(of=("self",))
        .filter(patient=patient, session__start__gte=now)
        .select_related("session", "session__topic")
    )
    for link in links:
        audit(
            user=actor,
            action="participant_remove",
            obj=link.session,
            patient=patient,
            summary=f"Removed from {describe(link.session)} (status change)",
        )
    Participant.objects.filter(pk__in=[link.pk for link in links]).delete()
    return len(links)


# -------------------------------------------------------------------------- family


@transaction.atomic
def family_member_add(*, session, actor, name="", relationship="", sponsor=None):
    if session.kind != Kind.FAMILY:
        raise SchedulingError("Family members join family sessions only.")
    if sponsor is not None:
        patient_ids = set(
            Participant.objects.filter(session=session).values_list(
                "patient_id", flat=True
            )
        )
        if sponsor.patient_id not in patient_ids:
            raise SchedulingError("That sponsor is not the session patient's sponsor.")
        if FamilyMember.objects.filter(session=session, sponsor=sponsor).exists():
            raise SchedulingError(f"{sponsor.full_name} is already invited.")
        name = name or sponsor.full_name
        relationship = relationship or sponsor.get_relationship_display()
    name, relationship = name.strip(), relationship.strip()
    if not name or not relationship:
        raise SchedulingError("Give the family member's name and relationship.")
    member = FamilyMember.objects.create(
        session=session, name=name, relationship=relationship, sponsor=sponsor
    )
    patient = (
        Participant.objects.filter(session=session).select_related("patient").first()
    )
    audit(
        user=actor,
        action="family_member_add",
        obj=session,
        patient=patient.patient if patient else None,
        summary=f"{name} ({relationship})",
    )
    return member


@transaction.atomic
def family_member_remove(*, member, actor):
    session = member.session
    patient = (
        Participant.objects.filter(session=session).select_related("patient").first()
    )
    audit(
        user=actor,
        action="family_member_remove",
        obj=session,
        patient=patient.patient if patient else None,
        summary=f"{member.name} ({member.relationship})",
    )
    member.delete()


# -------------------------------------------------------------------------- series


def _weekdays(weekdays):
    """The weekdays (0 = Monday) as a series stores them: sorted, each once."""
    weekdays = sorted({int(d) for d in weekdays})
    if not weekdays or any(not 0 <= d <= 6 for d in weekdays):
        raise SchedulingError("Choose at least one weekday.")
    return weekdays


def series_dates(*, weekdays, starts_on, ends_on=None, occurrences=None):
    """The local dates of a weekly pattern, from starts_on until ends_on or count."""
    weekdays = set(weekdays)
    if not weekdays:
        return []
    limit = starts_on + datetime.timedelta(days=MAX_SERIES_DAYS)
    last = min(ends_on, limit) if ends_on else limit
    dates, day = [], starts_on
    while day <= last:
        if day.weekday() in weekdays:
            dates.append(day)
            if occurrences and len(dates) >= occurrences:
                break
        day += datetime.timedelta(days=1)
    return dates


@transaction.atomic
def series_create(
    *,
    kind,
    weekdays,
    start_time,
    duration_minutes,
    starts_on,
    facilitators,
    actor,
    ends_on=None,
    occurrences=None,
    modality=Modality.IN_PERSON,
    room=None,
    telehealth_url="",
    capacity=None,
    topic=None,
    title="",
    patients=(),
):
    """A weekly series and every occurrence as its own session, in one transaction:
    all are created, or none (the message names the first conflict)."""
    weekdays = _weekdays(weekdays)
    if ends_on is None and not occurrences:
        raise SchedulingError("Give an end date or a number of occurrences.")
    if ends_on is not None and ends_on < starts_on:
        raise SchedulingError("The series must end on or after its first day.")
    if not 5 <= duration_minutes <= 720:
        raise SchedulingError("A session lasts between 5 minutes and 12 hours.")
    if occurrences and occurrences > MAX_OCCURRENCES:
        raise SchedulingError(f"A series has at most {MAX_OCCURRENCES} occurrences.")
    if ends_on and (ends_on - starts_on).days > MAX_SERIES_DAYS:
        raise SchedulingError("A series spans at most a year.")
    facilitators = _check_facilitators(facilitators)
    capacity = _normalise(
        kind=kind,
        modality=modality,
        room=room,
        telehealth_url=telehealth_url,
        capacity=capacity,
    )
    patients = list(patients)
    for patient in patients:
        _check_admitted(patient)
    if kind != Kind.GROUP and len(patients) > 1:
        raise SchedulingError("Individual and family sessions have one patient.")
    dates = series_dates(
        weekdays=weekdays, starts_on=starts_on, ends_on=ends_on, occurrences=occurrences
    )
    if not dates:
        raise SchedulingError("No day in that range falls on the chosen weekdays.")
    if occurrences and len(dates) < occurrences:
        raise SchedulingError(
            f"A series spans at most a year: {occurrences} sessions on these "
            "weekdays do not fit."
        )
    series = SessionSeries.objects.create(
        kind=kind,
        title=title,
        topic=topic if kind == Kind.GROUP else None,
        weekdays=weekdays,
        start_time=start_time,
        duration_minutes=duration_minutes,
        starts_on=starts_on,
        ends_on=ends_on,
        occurrences=occurrences,
        modality=modality,
        room=room if modality == Modality.IN_PERSON else None,
        telehealth_url=telehealth_url if modality == Modality.TELEHEALTH else "",
        capacity=capacity,
        created_by=actor,
    )
    series.facilitators.set(facilitators)
    sessions = []
    for day in dates:
        start = make_local(day, start_time)
        session = TherapySession(
            series=series,
            kind=kind,
            title=title,
            topic=series.topic,
            start=start,
            end=start + datetime.timedelta(minutes=duration_minutes),
            modality=modality,
            room=series.room,
            telehealth_url=series.telehealth_url,
            capacity=capacity,
            created_by=actor,
        )
        _save_session(session, facilitators=facilitators)
        sessions.append(session)
        _insert_participants_bulk(
            pairs=[(session, patient) for patient in patients], actor=actor
        )
    for patient in patients:
        _audit_series_enrolment(
            actor=actor, series=series, patient=patient, sessions=sessions
        )
    audit(
        user=actor,
        action="series_create",
        obj=series,
        summary=f"{series} ({len(dates)} sessions from {dates[0]:%Y-%m-%d})",
    )
    return series


def _series_sessions_from(series, from_date):
    return (
        TherapySession.objects.select_for_update(of=("self",))
        .filter(
            series=series,
            start__gte=make_local(from_date, datetime.time.min),
            status=TherapySession.Status.SCHEDULED,
        )
        .select_related("topic", "room")
        .order_by("start")
    )


@transaction.atomic
def series_patient_add(*, series, patient, from_date, actor):
    """Enrol the patient in every scheduled occurrence on or after from_date (all or
    none). Occurrences they are already on are skipped. Returns the sessions added."""
    patient = Patient.objects.get(pk=patient.pk)
    _check_admitted(patient)
    if from_date < clinic_today():
        raise SchedulingError("Add patients from today or a later date.")
    sessions = [
        s for s in _series_sessions_from(series, from_date) if s.end > timezone.now()
    ]
    if not sessions:
        raise SchedulingError("The series has no scheduled session from that date.")
    already = set(
        Participant.objects.filter(
            patient=patient, session__in=[s.pk for s in sessions]
        ).values_list("session_id", flat=True)
    )
    counts = {}
    for row in Participant.objects.filter(session__in=[s.pk for s in sessions]).values(
        "session_id"
    ):
        counts[row["session_id"]] = counts.get(row["session_id"], 0) + 1
    added = []
    for session in sessions:
        if session.pk in already:
            continue
        if counts.get(session.pk, 0) >= session.capacity:
            raise SchedulingError(
                f"{describe(session)} is full ({session.capacity} places); "
                f"{patient.full_name} was not added to the series."
            )
        added.append(session)
    _insert_participants_bulk(pairs=[(s, patient) for s in added], actor=actor)
    if added:
        _audit_series_enrolment(
            actor=actor, series=series, patient=patient, sessions=added
        )
    return added


@transaction.atomic
def series_patient_remove(*, series, patient, from_date, actor):
    """Take the patient off every occurrence on or after from_date."""
    links = list(
        Participant.objects.select_for_update(of=("self",))
        .filter(
            patient=patient,
            session__series=series,
            session__start__gte=make_local(from_date, datetime.time.min),
        )
        .select_related("session", "session__topic")
    )
    if not links:
        raise SchedulingError(
            f"{patient.full_name} is on no occurrence of this series from that date."
        )
    links.sort(key=lambda link: link.session.start)
    _audit_series_enrolment(
        actor=actor,
        series=series,
        patient=patient,
        sessions=[link.session for link in links],
        verb="Removed from",
    )
    Participant.objects.filter(pk__in=[link.pk for link in links]).delete()
    return len(links)


def _weekday_label(weekdays):
    return "/".join(WEEKDAY_NAMES[d] for d in sorted(weekdays))


def _series_end_for(series, remaining):
    """The new pattern's end: the old end date, or, for a series counted in
    sessions, as many sessions as were still to come."""
    if series.ends_on is not None:
        return {"ends_on": series.ends_on, "occurrences": None}
    return {"ends_on": None, "occurrences": remaining}


@transaction.atomic
def series_reschedule(
    *, series, from_date, weekdays, start_time, duration_minutes, actor
):
    """Move the rest of a series to other weekdays (and time) from from_date.

    The scheduled occurrences from that date are replaced by the new pattern, in
    one transaction (all or nothing; the message names the first conflict):
    until the old end date, or as many sessions as were still to come. Each
    patient keeps the span they were booked for: from their first remaining
    occurrence (from from_date when they were on the first one) to their last
    (to the end when they were on the last one). Occurrences that already carry an
    attendance mark or an alert (a reminder sent) are cancelled, not deleted, so
    that the record stays; the others are removed. Past occurrences are kept on
    the series, which then ends the day before; a series with nothing left before
    from_date takes the new pattern itself."""
    weekdays = _weekdays(weekdays)
    if from_date < clinic_today():
        raise SchedulingError("Change a series from today or a later date.")
    if not 5 <= duration_minutes <= 720:
        raise SchedulingError("A session lasts between 5 minutes and 12 hours.")
    series = SessionSeries.objects.select_for_update().get(pk=series.pk)
    if series.continued_as_id:
        raise SchedulingError(
            f"This series already continues as {series.continued_as} from "
            f"{series.continued_as.starts_on:%b %-d, %Y}: change that one instead."
        )
    now = timezone.now()
    future = [s for s in _series_sessions_from(series, from_date) if s.start > now]
    if not future:
        raise SchedulingError("The series has no scheduled session from that date.")
    future_ids = [s.pk for s in future]
    old_dates = [local(s.start).date() for s in future]
    spans = {}
    for link in Participant.objects.filter(session__in=future_ids).select_related(
        "patient", "session"
    ):
        day = local(link.session.start).date()
        first, last, patient = spans.get(link.patient_id, (day, day, link.patient))
        spans[link.patient_id] = (min(first, day), max(last, day), patient)
    family = list(
        FamilyMember.objects.filter(session=future[0]).values(
            "name", "relationship", "sponsor_id"
        )
    )
    facilitators = list(series.facilitators.all())
    before = _weekday_label(series.weekdays)
    kept = set(
        Attendance.objects.filter(session__in=future_ids).values_list(
            "session_id", flat=True
        )
    ) | set(
        Alert.objects.filter(session__in=future_ids).values_list(
            "session_id", flat=True
        )
    )
    reason = f"Series moved to {_weekday_label(weekdays)} from {from_date:%b %-d}"
    for session in future:
        if session.pk in kept:
            session.status = TherapySession.Status.CANCELLED
            session.cancel_reason = reason[:200]
            session.save(update_fields=["status", "cancel_reason", "updated_at"])
    TherapySession.objects.filter(pk__in=future_ids).exclude(pk__in=kept).delete()

    end = _series_end_for(series, len(future))
    dates = series_dates(
        weekdays=weekdays,
        starts_on=from_date,
        ends_on=end["ends_on"],
        occurrences=end["occurrences"],
    )
    if not dates:
        raise SchedulingError(
            "No day between that date and the end of the series falls on the "
            "chosen weekdays."
        )
    has_past = TherapySession.objects.filter(series=series).exists()
    if has_past:
        target = SessionSeries.objects.create(
            kind=series.kind,
            title=series.title,
            topic=series.topic,
            weekdays=weekdays,
            start_time=start_time,
            duration_minutes=duration_minutes,
            starts_on=from_date,
            modality=series.modality,
            room=series.room,
            telehealth_url=series.telehealth_url,
            capacity=series.capacity,
            created_by=actor,
            **end,
        )
        target.facilitators.set(facilitators)
        series.ends_on = from_date - datetime.timedelta(days=1)
        series.occurrences = None
        series.continued_as = target
        series.save(update_fields=["ends_on", "occurrences", "continued_as"])
    else:
        target = series
        series.weekdays = weekdays
        series.start_time = start_time
        series.duration_minutes = duration_minutes
        series.starts_on = from_date
        series.ends_on, series.occurrences = end["ends_on"], end["occurrences"]
        series.save()
    sessions = []
    for day in dates:
        start = make_local(day, start_time)
        session = TherapySession(
            series=target,
            kind=target.kind,
            title=target.title,
            topic=target.topic,
            start=start,
            end=start + datetime.timedelta(minutes=duration_minutes),
            modality=target.modality,
            room=target.room,
            telehealth_url=target.telehealth_url,
            capacity=target.capacity,
            created_by=actor,
        )
        _save_session(session, facilitators=facilitators)
        FamilyMember.objects.bulk_create(
            [FamilyMember(session=session, **member) for member in family]
        )
        sessions.append(session)
    last_old = old_dates[-1]
    pairs = []
    for first, last, patient in spans.values():
        starts = from_date if first == old_dates[0] else first
        for session in sessions:
            day = local(session.start).date()
            if day >= starts and (last == last_old or day <= last):
                pairs.append((session, patient))
    _insert_participants_bulk(pairs=pairs, actor=actor)
    audit(
        user=actor,
        action="series_reschedule",
        obj=target,
        summary=(
            f"{series} from {from_date:%Y-%m-%d}: {before} to "
            f"{_weekday_label(weekdays)} at {start_time:%H:%M}; "
            f"{len(future)} sessions replaced by {len(sessions)}"
        ),
    )
    return target, sessions


# ------------------------------------------------------------------ calendar feeds


@transaction.atomic
def calendar_feed_regenerate(*, actor, user=None, patient=None):
    """Create or replace the secret token of a facilitator's or patient's feed; the
    old URL stops working at once."""
    if (user is None) == (patient is None):
        raise TypeError("give a user or a patient")
    token = secrets.token_urlsafe(32)
    owner = {"user": user} if user is not None else {"patient": patient}
    feed, _ = CalendarFeed.objects.update_or_create(**owner, defaults={"token": token})
    audit(
        user=actor,
        action="feed_regenerate",
        obj=feed,
        patient=patient,
        summary="calendar feed link (re)created",
    )
    return feed
