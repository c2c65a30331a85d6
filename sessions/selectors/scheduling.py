"""Scheduling reads. Each function costs a fixed number of queries."""

import datetime
import re

from django.db.models import Count, Prefetch, Q
from django.utils import timezone

from accounts.models import User
from accounts.roles import CLINICAL
from core.timeutil import clinic_today, day_bounds, local, week_start
from patients.models import Patient
from sessions.models import (
    CalendarFeed,
    FamilyMember,
    Participant,
    Room,
    SessionFacilitator,
    SessionSeries,
    TherapySession,
    Topic,
)

WEEK_RE = re.compile(r"^(\d{4})-W(\d{1,2})$")


def parse_week(value, *, today=None):
    """The Monday of an ISO week like '2026-W49'; this week's Monday otherwise.
    Returns (monday, valid)."""
    today = today or clinic_today()
    match = WEEK_RE.match((value or "").strip())
    if match:
        try:
            return datetime.date.fromisocalendar(int(match[1]), int(match[2]), 1), True
        except ValueError:
            pass
    return week_start(today), not value


def iso_week(day):
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _facilitators_prefetch():
    return Prefetch(
        "facilitator_links",
        queryset=SessionFacilitator.objects.select_related("user").order_by("id"),
    )


def _sessions_base():
    return (
        TherapySession.objects.select_related("room", "topic", "series")
        .prefetch_related(_facilitators_prefetch())
        .annotate(patient_count=Count("participants", distinct=True))
        .order_by("start", "id")
    )


def sessions_between(*, start, end, room=None, facilitator=None, patient=None):
    qs = _sessions_base().filter(start__lt=end, end__gt=start)
    if room is not None:
        qs = qs.filter(room=room)
    if facilitator is not None:
        qs = qs.filter(facilitator_links__user=facilitator)
    if patient is not None:
        qs = qs.filter(participants__patient=patient)
    return qs


def calendar_week(*, monday, room=None, facilitator=None, patient=None):
    """The seven days of a week with their sessions (3 queries)."""
    start = day_bounds(monday)[0]
    end = day_bounds(monday + datetime.timedelta(days=6))[1]
    sessions = list(
        sessions_between(
            start=start, end=end, room=room, facilitator=facilitator, patient=patient
        )
    )
    today = clinic_today()
    days = []
    for offset in range(7):
        day = monday + datetime.timedelta(days=offset)
        days.append(
            {
                "date": day,
                "today": day == today,
                "sessions": [s for s in sessions if local(s.start).date() == day],
            }
        )
    return {
        "monday": monday,
        "days": days,
        "week": iso_week(monday),
        "prev_week": iso_week(monday - datetime.timedelta(days=7)),
        "next_week": iso_week(monday + datetime.timedelta(days=7)),
        "this_week": iso_week(week_start(today)),
        "session_count": len(sessions),
    }


def calendar_filter_options():
    """Rooms, facilitators and admitted patients for the calendar filter (3 queries)."""
    return {
        "rooms": list(Room.objects.filter(active=True)),
        "facilitators": list(facilitator_choices()),
        "patients": list(
            Patient.objects.filter(status=Patient.Status.ADMITTED).only(
                "id", "first_name", "last_name", "record_number"
            )
        ),
    }


def facilitator_choices():
    return (
        User.objects.filter(is_active=True, groups__name__in=CLINICAL)
        .distinct()
        .order_by("full_name", "email")
    )


def admitted_patients():
    return Patient.objects.filter(status=Patient.Status.ADMITTED).order_by(
        "last_name", "first_name", "id"
    )


def active_topics():
    return Topic.objects.filter(active=True)


def topic_list():
    return Topic.objects.order_by("-active", "name")


def session_participants(session):
    """The expected patients of a session, by name. The attendance roster extends
    this list (one query)."""
    return list(
        Participant.objects.filter(session=session)
        .select_related("patient", "added_by")
        .order_by("patient__last_name", "patient__first_name", "patient_id")
    )


def session_detail(pk):
    """The session with everything its page shows, or raises DoesNotExist."""
    return (
        TherapySession.objects.select_related("room", "topic", "series", "created_by")
        .prefetch_related(
            _facilitators_prefetch(),
            Prefetch("family_members", queryset=FamilyMember.objects.order_by("id")),
        )
        .get(pk=pk)
    )


def session_page(*, session, participants=None):
    """Context for the session page (fixed queries). `participants`: the
    session's participant rows with their patients, by name, when the caller
    has read them already (the roster does)."""
    if participants is None:
        participants = session_participants(session)
    sponsors = []
    if session.kind == "family" and participants:
        from patients.models import Sponsor

        sponsors = list(
            Sponsor.objects.filter(patient_id=participants[0].patient_id).order_by(
                "full_name"
            )
        )
    return {
        "session": session,
        "participants": participants,
        "family_members": list(session.family_members.all()),
        "facilitators": [link.user for link in session.facilitator_links.all()],
        "seats_left": max(session.capacity - len(participants), 0),
        "sponsors": sponsors,
        "is_past": session.start < timezone.now(),
    }


def day_agenda(*, day):
    """A day's sessions with their rosters and facilitators (4 queries)."""
    start, end = day_bounds(day)
    return list(
        _sessions_base()
        .filter(start__lt=end, end__gt=start)
        .prefetch_related(
            Prefetch(
                "participants",
                queryset=Participant.objects.select_related("patient").order_by(
                    "patient__last_name", "patient__first_name"
                ),
            ),
            Prefetch("family_members", queryset=FamilyMember.objects.order_by("id")),
        )
    )


def patient_schedule(*, patient, past=5, upcoming=10):
    """The patient's next sessions, the last few and the feed (2 queries).

    The sessions are picked through the patient's participations (their start and
    end mirror the session's, indexed by patient and start), both lists in one
    query."""
    now = timezone.now()
    mine = Participant.objects.filter(patient=patient).values("session_id")
    next_ids = mine.filter(end__gt=now).order_by("start", "session_id")[:upcoming]
    last_ids = mine.filter(end__lte=now).order_by("-start", "-session_id")[:past]
    sessions = list(
        TherapySession.objects.filter(pk__in=next_ids.union(last_ids, all=True))
        .select_related("room", "topic")
        .order_by("start", "id")
    )
    return {
        "upcoming": [s for s in sessions if s.end > now],
        "recent": [s for s in reversed(sessions) if s.end <= now],
        "feed": CalendarFeed.objects.filter(patient=patient).first(),
    }


def series_detail(pk):
    return (
        SessionSeries.objects.select_related(
            "room", "topic", "created_by", "continued_as"
        )
        .prefetch_related("facilitators")
        .get(pk=pk)
    )


def series_page(*, series):
    """The series' occurrences with their patient counts, and who is enrolled."""
    sessions = list(
        TherapySession.objects.filter(series=series)
        .annotate(patient_count=Count("participants"))
        .select_related("topic")
        .order_by("start")
    )
    now = timezone.now()
    enrolled = list(
        Patient.objects.filter(
            participations__session__series=series,
            participations__session__end__gt=now,
        )
        .annotate(
            upcoming=Count(
                "participations",
                filter=Q(
                    participations__session__series=series,
                    participations__session__end__gt=now,
                ),
            )
        )
        .distinct()
        .order_by("last_name", "first_name")
    )
    continues = SessionSeries.objects.filter(continued_as=series).first()
    return {
        "series": series,
        "sessions": sessions,
        "enrolled": enrolled,
        "continues": continues,
    }


def feed_sessions(feed, *, days_back=30, days_ahead=180):
    """Sessions for a calendar feed: a facilitator's or a patient's (1 query)."""
    now = timezone.now()
    qs = TherapySession.objects.filter(
        start__gte=now - datetime.timedelta(days=days_back),
        start__lte=now + datetime.timedelta(days=days_ahead),
    ).only("id", "kind", "modality", "start", "end", "status", "updated_at")
    if feed.user_id:
        qs = qs.filter(facilitator_links__user_id=feed.user_id)
    else:
        qs = qs.filter(participants__patient_id=feed.patient_id)
    return list(qs.order_by("start"))
