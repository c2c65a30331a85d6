"""Reads for the sponsor portal.

Everything a sponsor sees starts from the consents in force today, to this
sponsor's login, that cover attendance. A patient without one is invisible
(404), whatever id is asked for. Every page costs a fixed number of
queries, however many patients, sessions or alerts there are."""

import datetime
import functools
from collections import namedtuple
from dataclasses import dataclass, field

from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.db import prepared_cursor
from core.jsonrows import loaded
from core.models import ClinicSettings
from core.timeutil import clinic_today, clinic_zone, local, make_local, week_start
from patients.models import (
    Consent,
    Disclosure,
    Patient,
    Sponsor,
    active_consent_q,
)
from sessions.models import (
    Alert,
    Attendance,
    FamilyMember,
    Modality,
    Participant,
    TherapySession,
)

from .models import SponsorInvitation, token_digest

NEXT_SESSIONS = 5
RECENT_ALERTS = 5
HISTORY_PAGE_SIZE = 10
PATIENTS_PAGE_SIZE = 10


def consent_for_patient(*, user, patient_id, day=None):
    """The consent that lets this login see this patient today, or None."""
    day = day or clinic_today()
    return (
        Consent.objects.filter(active_consent_q(day))
        .filter(
            sponsor__user=user,
            patient_id=patient_id,
            scope__in=Consent.ATTENDANCE_SCOPES,
        )
        .select_related("patient", "sponsor")
        .order_by("-effective_on", "-id")
        .first()
    )


def consent_start(consent):
    """The first moment the consent lets us disclose: its effective day, local."""
    return make_local(consent.effective_on, datetime.time.min)


# What the list prints is put into words here, in the clinic's zone, as the
# templates' "D, M j, Y" and "g:i A" formats would (a test holds them to it): the
# template engine's date filters cost more than the rest of a card.


def _clock(moment):
    return f"{moment.hour % 12 or 12}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


def _day(moment):
    return f"{moment:%a, %b} {moment.day}"


@dataclass
class Slot:
    """A session as the sponsor sees it: when, and in person or not."""

    start: datetime.datetime
    end: datetime.datetime
    modality: str
    invited: bool = False

    @property
    def when(self):
        """Mon, Nov 30, 9:00 AM–12:00 PM"""
        start = local(self.start)
        return f"{_day(start)}, {_clock(start)}–{_clock(local(self.end))}"

    @property
    def modality_label(self):
        return Modality(self.modality).label


@dataclass
class Summary:
    """What the list of patients shows about one of them."""

    consent: Consent
    shows_hours: bool
    week_minutes: int = 0
    target_minutes: int = 0
    last_missed: datetime.datetime | None = None
    next_session: Slot | None = None
    family_next: Slot | None = None

    @property
    def patient(self):
        return self.consent.patient

    # The words the list prints, one attribute each (the template engine's
    # lookups through consent.patient and its filters cost more than the card).

    @property
    def ref(self):
        return str(self.consent.patient_id)

    @property
    def name(self):
        patient = self.consent.patient
        return f"{patient.first_name} {patient.last_name}"

    @property
    def first_name(self):
        return self.consent.patient.first_name

    @property
    def last_missed_when(self):
        """Mon, Nov 30, 2026 at 9:00 AM"""
        if self.last_missed is None:
            return ""
        moment = local(self.last_missed)
        return f"{_day(moment)}, {moment.year} at {_clock(moment)}"

    @property
    def next_when(self):
        return self.next_session.when

    @property
    def next_modality(self):
        return self.next_session.modality_label

    @property
    def family_later(self):
        """The next family session the sponsor is invited to, unless it is the
        next session (which says so)."""
        if self.family_next and not (self.next_session and self.next_session.invited):
            return self.family_next
        return None

    @property
    def sponsor(self):
        return self.consent.sponsor

    @property
    def week_hours(self):
        return round(self.week_minutes / 60, 1)

    @property
    def target_hours(self):
        return round(self.target_minutes / 60, 1)

    @property
    def below_target(self):
        return self.week_minutes < self.target_minutes


@dataclass
class Card(Summary):
    """One patient's page: the summary's facts with the lists behind them."""

    next_sessions: list = field(default_factory=list)
    family_sessions: list = field(default_factory=list)
    alerts: list = field(default_factory=list)


# The list of patients and the facts every patient shows, in one query (plain
# SQL: a page of a caseload is a small report, and the ORM would take longer to
# build these subqueries than the database takes to run them).
#
# `mine`: the consents that let this login see a patient, by the same rule as
# patients.models.active_consent_q (one per patient, the newest in force on
# `day`, covering attendance), numbered by patient name; `chosen`: the page
# asked for (the last page when the number is past the end); `program`: the
# program settings (targets, grace period). For each consent, from the day it
# took effect (`disclosed_from`, midnight in the clinic's zone):
#   minutes attended this week, added up only when the consent covers hours;
#   the last missed session: an unexcused absence, or a session that ended more
#     than the grace period ago with the patient still unmarked;
#   the next session (date, time, modality), and whether this sponsor is invited;
#   the next family session this sponsor is invited to.
# Each named step is MATERIALIZED, planned on its own: PostgreSQL plans that in
# less time than the whole inlined as one query (the planning took longer than
# the running). The week's minutes are read from the attendance rows' own
# session_start (kept equal to their session's start by trigger), by index.
MINE_SQL = """
mine AS MATERIALIZED (
    SELECT DISTINCT ON (c.patient_id)
           c.id, c.patient_id, c.sponsor_id, c.scope, c.effective_on,
           pt.first_name, pt.last_name, pt.date_of_birth, sp.full_name
    FROM patients_consent c
    JOIN patients_sponsor sp ON sp.id = c.sponsor_id
    JOIN patients_patient pt ON pt.id = c.patient_id
    WHERE sp.user_id = %(user)s
      AND c.scope = ANY(%(scopes)s)
      AND c.effective_on <= %(day)s
      AND (c.revoked_on IS NULL OR c.revoked_on > %(day)s)
      AND (c.expires_on IS NULL OR c.expires_on >= %(day)s)
      AND (NOT c.expires_on_discharge OR pt.status <> %(discharged)s)
    ORDER BY c.patient_id, c.effective_on DESC, c.id DESC
),
numbered AS (
    SELECT mine.*,
           ROW_NUMBER() OVER (ORDER BY last_name, first_name, id) AS n,
           COUNT(*) OVER () AS total
    FROM mine
),
chosen AS (
    SELECT numbered.*,
           LEAST(%(page)s, GREATEST(CEIL(total / %(size)s::numeric), 1))::int
               AS number
    FROM numbered
),
consents AS MATERIALIZED (
    SELECT * FROM chosen
    WHERE n > (number - 1) * %(size)s AND n <= number * %(size)s
)"""

ONE_SQL = """
consents AS MATERIALIZED (
    SELECT c.id, c.patient_id, c.sponsor_id, c.scope, c.effective_on,
           pt.first_name, pt.last_name, pt.date_of_birth, sp.full_name,
           1 AS n, 1 AS total, 1 AS number
    FROM patients_consent c
    JOIN patients_sponsor sp ON sp.id = c.sponsor_id
    JOIN patients_patient pt ON pt.id = c.patient_id
    WHERE c.id = %(consent)s
)"""

FACTS_SQL = """
WITH {consents},
program AS MATERIALIZED (
    SELECT COALESCE(MAX(alert_grace_minutes), %(grace)s) AS grace,
           COALESCE(MAX(weekly_target_minutes_adult), %(target_adult)s)
               AS target_adult,
           COALESCE(MAX(weekly_target_minutes_minor), %(target_minor)s)
               AS target_minor
    FROM core_clinicsettings
    WHERE id = 1
),
facts AS MATERIALIZED (
    SELECT consents.*,
           (effective_on::timestamp AT TIME ZONE %(tz)s) AS disclosed_from,
           %(now)s - make_interval(mins => program.grace) AS cutoff,
           program.target_adult, program.target_minor
    FROM consents CROSS JOIN program
){disclose}
SELECT f.id, f.patient_id, f.sponsor_id, f.scope, f.effective_on, f.n, f.total,
       f.number, f.first_name, f.last_name, f.date_of_birth, f.full_name,
       f.target_adult, f.target_minor,
       CASE WHEN f.scope = %(hours_scope)s THEN (
           SELECT SUM(a.minutes)
           FROM therapy_sessions_attendance a
           WHERE a.patient_id = f.patient_id
             AND a.session_start >= %(week_from)s
             AND a.session_start < %(week_to)s
             AND a.session_start >= f.disclosed_from
       ) END,
       (
           SELECT p.start
           FROM therapy_sessions_participant p
           JOIN therapy_sessions_therapysession s ON s.id = p.session_id
           WHERE p.patient_id = f.patient_id AND p.active
             AND p.start >= f.disclosed_from AND p."end" < f.cutoff
             AND s.status <> %(cancelled)s
             AND NOT EXISTS (
                 SELECT 1 FROM therapy_sessions_attendance a
                 WHERE a.session_id = p.session_id AND a.patient_id = p.patient_id
                   AND a.status <> %(unexcused)s
             )
           ORDER BY p.start DESC
           LIMIT 1
       ),
       next.start, next."end", next.modality, next.invited,
       family.start, family."end", family.modality
FROM facts f
LEFT JOIN LATERAL (
    SELECT p.start, p."end", s.modality,
           EXISTS (
               SELECT 1 FROM therapy_sessions_familymember fm
               WHERE fm.session_id = p.session_id AND fm.sponsor_id = f.sponsor_id
           ) AS invited
    FROM therapy_sessions_participant p
    JOIN therapy_sessions_therapysession s ON s.id = p.session_id
    WHERE p.patient_id = f.patient_id AND p.active AND p.start >= %(now)s
      AND s.status <> %(cancelled)s
    ORDER BY p.start
    LIMIT 1
) next ON true
LEFT JOIN LATERAL (
    SELECT s.start, s."end", s.modality
    FROM therapy_sessions_familymember fm
    JOIN therapy_sessions_therapysession s ON s.id = fm.session_id
    WHERE fm.sponsor_id = f.sponsor_id AND s.start >= %(now)s
      AND s.status <> %(cancelled)s
      AND EXISTS (
          SELECT 1 FROM therapy_sessions_participant p
          WHERE p.session_id = s.id AND p.patient_id = f.patient_id
      )
    ORDER BY s.start
    LIMIT 1
) family ON true
ORDER BY f.n
"""


# The lengths a Disclosure's texts are cut to (its fields' own), as
# portal.services.disclosures_record and DISCLOSE_SQL cut them.
DISCLOSURE_LENGTHS = {
    name: Disclosure._meta.get_field(name).max_length
    for name in ("recipient", "what", "reference")
}

# The Disclosure row of each consent shown (the patients of the page), written by
# the page's own statement (portal.services.patients_page_disclose): the values
# portal.services.disclosures_record gives them, in the page's order.
_DISCLOSE_SQL = """,
disclosed AS (
    INSERT INTO patients_disclosure
           (patient_id, sponsor_id, consent_id, recipient, what, channel,
            reference, at)
    SELECT patient_id, sponsor_id, id,
           LEFT(full_name || ' <' || %(recipient_email)s::text || '>', {recipient}),
           LEFT(%(what_head)s::text || number || %(what_tail)s::text, {what}),
           %(channel)s::text, LEFT(%(reference)s::text, {reference}), %(now)s
    FROM consents
    ORDER BY n
    RETURNING id
)"""
DISCLOSE_SQL = _DISCLOSE_SQL.format(**DISCLOSURE_LENGTHS)


_FactsRow = namedtuple(
    "_FactsRow",
    "consent_id patient_id sponsor_id scope effective_on n total number "
    "first_name last_name date_of_birth sponsor_name target_adult target_minor "
    "week_minutes last_missed "
    "next_start next_end next_modality next_invited "
    "family_start family_end family_modality",
)


@functools.cache
def _program_defaults():
    """The program settings a fresh ClinicSettings row would have."""
    return {
        param: ClinicSettings._meta.get_field(name).get_default()
        for param, name in (
            ("grace", "alert_grace_minutes"),
            ("target_adult", "weekly_target_minutes_adult"),
            ("target_minor", "weekly_target_minutes_minor"),
        )
    }


@functools.cache
def _facts_sql(consents, disclose=""):
    """FACTS_SQL over `consents` (with the DISCLOSE_SQL step or not), on one
    line: psycopg keeps the parsed form of statements shorter than 4 kB (so
    there are no -- comments in the SQL)."""
    return " ".join(FACTS_SQL.format(consents=consents, disclose=disclose).split())


def _summaries(sql_consents, params, *, now, cls=Summary, disclose=None):
    """Run FACTS_SQL over the consents chosen by `sql_consents`; returns the
    summaries (or cards) in order, with the total and the page number. The
    program settings come with them (their defaults while the row is unsaved,
    as ClinicSettings.load() would create it). With `disclose` (DISCLOSE_SQL's
    parameters) the statement also writes a Disclosure row per consent."""
    monday = week_start(clinic_today())
    params = {
        **params,
        **_program_defaults(),
        "tz": str(clinic_zone()),
        "scopes": list(Consent.ATTENDANCE_SCOPES),
        "hours_scope": Consent.Scope.ATTENDANCE_HOURS,
        "week_from": make_local(monday, datetime.time.min),
        "week_to": make_local(monday + datetime.timedelta(days=7), datetime.time.min),
        "now": now,
        "cancelled": TherapySession.Status.CANCELLED,
        "unexcused": Attendance.Status.UNEXCUSED,
        **(disclose or {}),
    }
    sql = _facts_sql(sql_consents, DISCLOSE_SQL if disclose is not None else "")
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    summaries = []
    for row in map(_FactsRow._make, rows):
        consent = loaded(
            Consent,
            id=row.consent_id,
            patient_id=row.patient_id,
            sponsor_id=row.sponsor_id,
            scope=row.scope,
            effective_on=row.effective_on,
        )
        consent.patient = loaded(
            Patient,
            id=row.patient_id,
            first_name=row.first_name,
            last_name=row.last_name,
            date_of_birth=row.date_of_birth,
        )
        consent.sponsor = loaded(
            Sponsor,
            id=row.sponsor_id,
            patient_id=row.patient_id,
            full_name=row.sponsor_name,
        )
        summary = cls(
            consent=consent,
            shows_hours=consent.scope == Consent.Scope.ATTENDANCE_HOURS,
            target_minutes=(
                row.target_minor if consent.patient.is_minor else row.target_adult
            ),
        )
        if summary.shows_hours:
            summary.week_minutes = row.week_minutes or 0
        summary.last_missed = row.last_missed
        if row.next_start is not None:
            summary.next_session = Slot(
                row.next_start, row.next_end, row.next_modality, row.next_invited
            )
        if row.family_start is not None:
            summary.family_next = Slot(
                row.family_start, row.family_end, row.family_modality, True
            )
        summaries.append(summary)
    if not rows:
        return summaries, 0, 1
    return summaries, row.total, row.number


def _page_number(value):
    """A page number from the query string: 1 unless a positive integer."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), 1_000_000)


def patients_page(*, user, page_number, day=None, now=None, disclose=None):
    """One page of this login's patients (PATIENTS_PAGE_SIZE, by name): a Page
    whose object_list holds each patient's Summary. A number past the end gives
    the last page. One query, however many patients, sessions or alerts.
    `disclose`: see _summaries (only portal.services.patients_page_disclose
    passes it)."""
    summaries, total, number = _summaries(
        MINE_SQL,
        {
            "user": user.pk,
            "day": day or clinic_today(),
            "discharged": Patient.Status.DISCHARGED,
            "page": _page_number(page_number),
            "size": PATIENTS_PAGE_SIZE,
        },
        now=now or timezone.now(),
        disclose=disclose,
    )
    # The query has already cut the page; the paginator only does the numbering.
    page = Paginator(range(total), PATIENTS_PAGE_SIZE).page(number)
    page.object_list = summaries
    return page


def patient_card(*, consent, now=None):
    """One patient's page: the list's facts (the same query) and the lists
    behind them (its attendance history is `attendance_history_page`), in a
    fixed number of queries."""
    now = now or timezone.now()
    [card], _, _ = _summaries(ONE_SQL, {"consent": consent.pk}, now=now, cls=Card)
    card.consent = consent

    # The next sessions: date, time and modality only; family sessions this
    # sponsor is invited to are marked.
    card.next_sessions = list(
        Participant.objects.filter(
            patient_id=consent.patient_id, start__gte=now, active=True
        )
        .exclude(session__status=TherapySession.Status.CANCELLED)
        .annotate(
            sponsor_invited=Exists(
                FamilyMember.objects.filter(
                    session_id=OuterRef("session_id"), sponsor_id=consent.sponsor_id
                )
            ),
        )
        .select_related("session")
        .order_by("start")[:NEXT_SESSIONS]
    )

    card.family_sessions = [
        member.session
        for member in FamilyMember.objects.filter(
            sponsor_id=consent.sponsor_id,
            session__start__gte=now,
            session__participants__patient_id=consent.patient_id,
        )
        .exclude(session__status=TherapySession.Status.CANCELLED)
        .select_related("session")
        .order_by("session__start")
    ]

    # The latest alerts this sponsor received about the patient.
    card.alerts = list(
        Alert.objects.filter(
            patient_id=consent.patient_id,
            sponsor_id=consent.sponsor_id,
            kind=Alert.Kind.MISSED,
            state=Alert.State.SENT,
        )
        .select_related("session")
        .order_by("-sent_at", "-id")[:RECENT_ALERTS]
    )
    return card


def attendance_history_page(*, consent, page_number):
    """One page of a patient's attendance (date and status) since the consent."""
    rows = (
        Attendance.objects.filter(
            patient_id=consent.patient_id, session__start__gte=consent_start(consent)
        )
        .select_related("session")
        .only("id", "status", "patient_id", "session__start", "session__end")
        .order_by("-session__start", "-id")
    )
    return Paginator(rows, HISTORY_PAGE_SIZE).get_page(page_number)


def letter_bounds(consent, today=None):
    """The first and last days a letter may cover under this consent."""
    today = today or clinic_today()
    last = min(consent.expires_on, today) if consent.expires_on else today
    return consent.effective_on, last


def sponsor_preferences(user):
    """The alert channel and phone this login has chosen (its sponsor entries
    share them): those of its first entry, else email and the login's phone."""
    current = Sponsor.objects.filter(user=user).order_by("pk").first()
    if current is None:
        return {"channel": Sponsor.Channel.EMAIL, "phone": user.phone}
    return {"channel": current.preferred_channel, "phone": current.phone}


def invitation_by_token(token):
    return (
        SponsorInvitation.objects.filter(token_digest=token_digest(token))
        .select_related("sponsor")
        .first()
    )


def invitations_for_patient(patient_id):
    """The open invitation of each of a patient's sponsors, by sponsor id."""
    return {
        inv.sponsor_id: inv
        for inv in SponsorInvitation.objects.filter(
            sponsor__patient_id=patient_id, state=SponsorInvitation.State.OPEN
        )
    }
