"""Scheduling reads. Each function costs a fixed number of queries."""

import datetime
import re
from typing import NamedTuple

from django.db.models import (
    Case,
    Count,
    Prefetch,
    Q,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import User
from accounts.roles import CLINICAL
from core.db import prepared_cursor
from core.jsonrows import loaded
from core.timeutil import (
    clinic_today,
    clinic_zone,
    day_bounds,
    local,
    span_bounds,
    week_start,
)
from patients.models import Patient
from patients.selectors import patient_words_match
from sessions.models import (
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


# The whole clinic's week is shown as a grid up to this many sessions; above it,
# one day at a time (day tabs within the week), so that the page stays readable and
# fast at a large clinic. A room's, a facilitator's or a patient's week is small by
# nature (nobody is in two places at once) and is always shown whole.
WHOLE_CLINIC_WEEK_LIMIT = 120


# A calendar tile's session: its own columns, the names of its room and topic, its
# facilitators' names (in the order they were added) and its number of patients.
# Written as SQL: built with the ORM (select_related, two correlated subqueries)
# the query cost more Python than PostgreSQL takes to answer it, and it is the
# calendar's main read. Only constant fragments are joined; values are parameters.
_SESSIONS_SQL = """
SELECT s.id, s.kind, s.title, s.topic_id, s.start, s."end", s.status, s.capacity,
       s.room_id, r.name AS room_name, t.name AS topic_name,
       ARRAY(SELECT (SELECT COALESCE(NULLIF(u.full_name, ''), u.email)
                       FROM accounts_user u WHERE u.id = f.user_id)
               FROM therapy_sessions_sessionfacilitator f
              WHERE f.session_id = s.id ORDER BY f.id) AS facilitator_names,
       (SELECT COUNT(*) FROM therapy_sessions_participant p
         WHERE p.session_id = s.id) AS patient_count
  FROM therapy_sessions_therapysession s
  LEFT JOIN therapy_sessions_room r ON r.id = s.room_id
  LEFT JOIN therapy_sessions_topic t ON t.id = s.topic_id
 WHERE s.start >= %s AND s.start < %s"""
_IN_ROOM = " AND s.room_id = %s"
# The link's own copy of the start narrows the facilitator's sessions on its side.
_WITH_FACILITATOR = (
    " AND s.id IN (SELECT l.session_id FROM therapy_sessions_sessionfacilitator l"
    " WHERE l.user_id = %s AND l.start >= %s AND l.start < %s)"
)
_WITH_PATIENT = (
    " AND s.id IN (SELECT p.session_id FROM therapy_sessions_participant p"
    " WHERE p.patient_id = %s)"
)
_IN_ORDER = " ORDER BY s.start, s.id"


def sessions_between(*, start, end, room_id=None, facilitator_id=None, patient_id=None):
    """The sessions starting in [start, end), optionally of one room, facilitator
    or patient (by id), with what a calendar tile shows (1 query). The room and
    topic are attached as unsaved instances holding their names, so that `label`
    and `room.name` read no further rows."""
    sql, params = _SESSIONS_SQL, [start, end]
    # Prepared per connection (core.db.prepared_cursor): the text depends only
    # on which filters are given.
    if room_id is not None:
        sql, params = sql + _IN_ROOM, [*params, room_id]
    if facilitator_id is not None:
        sql, params = sql + _WITH_FACILITATOR, [*params, facilitator_id, start, end]
    if patient_id is not None:
        sql, params = sql + _WITH_PATIENT, [*params, patient_id]
    with prepared_cursor() as cursor:
        cursor.execute(sql + _IN_ORDER, params)
        rows = cursor.fetchall()
    sessions = [_tile_session(row) for row in rows]
    for s in sessions:
        if s.room_id is not None:
            s.room = Room(id=s.room_id, name=s.room_name)
        if s.topic_id is not None:
            s.topic = Topic(id=s.topic_id, name=s.topic_name)
    return sessions


# _SESSIONS_SQL's columns: the session's own (the other fields deferred, as
# TherapySession.objects.raw() left them), then the tile's extras.
_TILE_FIELDS = (
    "id",
    "kind",
    "title",
    "topic_id",
    "start",
    "end",
    "status",
    "capacity",
    "room_id",
)
_TILE_EXTRAS = ("room_name", "topic_name", "facilitator_names", "patient_count")


def _tile_session(row):
    """A TherapySession from a row of _SESSIONS_SQL, as raw() built it (its
    fields loaded, the others deferred; the extras as attributes), without
    raw()'s column resolution on every read."""
    fields = len(_TILE_FIELDS)
    session = loaded(
        TherapySession, **dict(zip(_TILE_FIELDS, row[:fields], strict=True))
    )
    for name, value in zip(_TILE_EXTRAS, row[fields:], strict=True):
        setattr(session, name, value)
    return session


def _week_day_counts(*, start, end):
    """{local date: number of sessions starting that day} for the whole clinic."""
    rows = (
        TherapySession.objects.filter(start__gte=start, start__lt=end)
        .annotate(day=TruncDate("start", tzinfo=clinic_zone()))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["day"]: row["n"] for row in rows}


def calendar_week(
    *, monday, room_id=None, facilitator_id=None, patient_id=None, day=None
):
    """The seven days of a week with their sessions: one query for a room's, a
    facilitator's or a patient's week; two for the whole clinic (the day counts,
    then the week, or only `day` when the week is too full to read as a grid)."""
    start, end = span_bounds(monday, monday + datetime.timedelta(days=6))
    dates = [monday + datetime.timedelta(days=offset) for offset in range(7)]
    today = clinic_today()
    whole_clinic = room_id is None and facilitator_id is None and patient_id is None
    counts = _week_day_counts(start=start, end=end) if whole_clinic else None
    one_day = None
    if counts is not None and sum(counts.values()) > WHOLE_CLINIC_WEEK_LIMIT:
        if day in dates:
            one_day = day
        elif today in dates:
            one_day = today
        else:
            one_day = next((d for d in dates if counts.get(d)), monday)
        start, end = day_bounds(one_day)
    sessions = list(
        sessions_between(
            start=start,
            end=end,
            room_id=room_id,
            facilitator_id=facilitator_id,
            patient_id=patient_id,
        )
    )
    by_day = {d: [] for d in dates}
    for s in sessions:
        by_day.setdefault(local(s.start).date(), []).append(s)
    days = [
        {
            "date": d,
            "iso": d.isoformat(),
            # Written here, not with the template's date filter (a tenth of the
            # page's time for 14 labels); English, as the rest of the product.
            "label": f"{d:%a %b} {d.day}",
            "long": f"{d:%A, %B} {d.day}",
            "weekday": d.isoweekday() % 7,  # as the series form takes it: Sunday 0
            "today": d == today,
            "sessions": by_day[d],
            "count": counts.get(d, 0) if counts is not None else len(by_day[d]),
        }
        for d in dates
    ]
    return {
        "monday": monday,
        "days": days,
        # The one day shown (a dict of `days`), when the whole clinic's week is split.
        "day": next((d for d in days if d["date"] == one_day), None),
        "week": iso_week(monday),
        "prev_week": iso_week(monday - datetime.timedelta(days=7)),
        "next_week": iso_week(monday + datetime.timedelta(days=7)),
        "this_week": iso_week(week_start(today)),
        "session_count": (
            sum(counts.values()) if one_day is not None else len(sessions)
        ),
    }


class Choice(NamedTuple):
    """A room or a person to choose on the calendar."""

    pk: int
    name: str


# The calendar's two choice lists in one round trip: active rooms (list 0), then
# the clinic's active staff, doctors and administrators (list 1; the people
# facilitator_choices() gives). Plain SQL: the ORM took longer to build these two
# small queries than PostgreSQL takes to answer them.
_CHOICES_SQL = """
SELECT 0, r.id, r.name
  FROM therapy_sessions_room r
 WHERE r.active
UNION ALL
SELECT 1, u.id, COALESCE(NULLIF(u.full_name, ''), u.email)
  FROM accounts_user u
 WHERE u.is_active
   AND u.id IN (SELECT ug.user_id
                  FROM accounts_user_groups ug
                  JOIN auth_group g ON g.id = ug.group_id
                 WHERE g.name = ANY(%s))
"""


def calendar_filter_options():
    """Active rooms and the clinic's facilitators, (id, name) each, by name, for the
    calendar's controls (1 query)."""
    options = {"rooms": [], "facilitators": []}
    with prepared_cursor() as cursor:
        cursor.execute(_CHOICES_SQL, [list(CLINICAL)])
        for kind, pk, name in cursor.fetchall():
            options["facilitators" if kind else "rooms"].append(Choice(pk, name))
    for choices in options.values():
        choices.sort(key=lambda c: (c.name.casefold(), c.pk))
    return options


def user_facilitates(user):
    """Whether `user` runs sessions (one in the last 90 days or booked ahead): their
    calendar then opens on their own sessions (1 query)."""
    since = timezone.now() - datetime.timedelta(days=90)
    return SessionFacilitator.objects.filter(user=user, end__gte=since).exists()


def calendar_patient(pk):
    """The patient whose week the calendar shows (any status: a discharged patient
    still has a past schedule), or None."""
    return (
        Patient.objects.filter(pk=pk)
        .only("id", "first_name", "last_name", "preferred_name", "record_number")
        .first()
    )


PATIENT_MATCHES = 20


def calendar_patient_matches(text, *, limit=PATIENT_MATCHES):
    """Patients whose name or record number matches `text`, admitted first, at most
    `limit` + 1 (so the page can say there are more) in one query."""
    if not (text or "").split():
        return []
    match = patient_words_match(text)
    admitted_first = Case(
        When(status=Patient.Status.ADMITTED, then=Value(0)), default=Value(1)
    )
    return list(
        Patient.objects.filter(match)
        .only(
            "id", "first_name", "last_name", "preferred_name", "record_number", "status"
        )
        .order_by(admitted_first, "last_name", "first_name", "id")[: limit + 1]
    )


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


def session_page(*, session, participants=None, family_members=None, facilitators=None):
    """Context for the session page (fixed queries). `participants`: the
    session's participant rows with their patients, by name, when the caller
    has read them already (the roster does); `family_members` (by id) and
    `facilitators` (the users, in the order they were added) likewise, else
    the session's prefetched ones."""
    if participants is None:
        participants = session_participants(session)
    if family_members is None:
        family_members = list(session.family_members.all())
    if facilitators is None:
        facilitators = [link.user for link in session.facilitator_links.all()]
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
        "family_members": family_members,
        "facilitators": facilitators,
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
