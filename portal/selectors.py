"""Reads for the sponsor portal.

Everything a sponsor sees starts from `active_consents`: the consents in force
today, to this sponsor's login, that cover attendance. A patient without one is
invisible (404), whatever id is asked for. Every page costs a fixed number of
queries, however many patients, sessions or alerts there are."""

import datetime
from dataclasses import dataclass, field

from django.core.paginator import Paginator
from django.db.models import (
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from core.models import ClinicSettings
from core.timeutil import clinic_today, make_local, week_start
from patients.models import Consent, active_consent_q
from sessions.models import (
    Alert,
    Attendance,
    FamilyMember,
    Participant,
    TherapySession,
)

from .models import SponsorInvitation, token_digest

NEXT_SESSIONS = 5
RECENT_ALERTS = 5
HISTORY_PAGE_SIZE = 10


def active_consents(*, user, day=None):
    """One consent per patient: the newest consent in force on `day` from a
    patient to this login that covers attendance. Ordered by patient name."""
    day = day or clinic_today()
    consents = (
        Consent.objects.filter(active_consent_q(day))
        .filter(sponsor__user=user, scope__in=Consent.ATTENDANCE_SCOPES)
        .select_related("patient", "sponsor")
        .order_by("patient_id", "-effective_on", "-id")
        .distinct("patient_id")
    )
    return sorted(
        consents, key=lambda c: (c.patient.last_name, c.patient.first_name, c.pk)
    )


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


def _from_consent_start(consents, start_field):
    """Rows of each patient from the day that patient's consent took effect."""
    q = Q(pk__in=[])
    for consent in consents:
        q |= Q(patient_id=consent.patient_id, **{start_field: consent_start(consent)})
    return q


@dataclass
class Card:
    consent: Consent
    shows_hours: bool
    week_minutes: int = 0
    target_minutes: int = 0
    last_missed: object = None
    next_sessions: list = field(default_factory=list)
    family_sessions: list = field(default_factory=list)
    history: list = field(default_factory=list)
    history_total: int = 0
    alerts: list = field(default_factory=list)

    @property
    def patient(self):
        return self.consent.patient

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

    @property
    def has_more_history(self):
        return self.history_total > len(self.history)


def portal_cards(*, consents, now=None):
    """The card of each consented patient, in a fixed number of queries."""
    now = now or timezone.now()
    if not consents:
        return []
    settings = ClinicSettings.load()
    patient_ids = [c.patient_id for c in consents]
    sponsor_ids = [c.sponsor_id for c in consents]
    cards = {
        c.patient_id: Card(
            consent=c, shows_hours=c.scope == Consent.Scope.ATTENDANCE_HOURS
        )
        for c in consents
    }

    # This week's minutes attended (only for consents that include hours).
    monday = week_start(clinic_today())
    week_from = make_local(monday, datetime.time.min)
    week_to = make_local(monday + datetime.timedelta(days=7), datetime.time.min)
    hour_ids = [pid for pid, card in cards.items() if card.shows_hours]
    for card in cards.values():
        card.target_minutes = (
            settings.weekly_target_minutes_minor
            if card.patient.is_minor
            else settings.weekly_target_minutes_adult
        )
    if hour_ids:
        rows = (
            Attendance.objects.filter(
                patient_id__in=hour_ids,
                session__start__gte=week_from,
                session__start__lt=week_to,
            )
            .filter(_from_consent_start(consents, "session__start__gte"))
            .values("patient_id")
            .annotate(minutes=Sum("minutes"))
            .order_by()
        )
        for row in rows:
            cards[row["patient_id"]].week_minutes = row["minutes"] or 0

    # The last missed session: an unexcused absence, or a session that ended
    # more than the grace period ago with the patient still unmarked.
    cutoff = now - datetime.timedelta(minutes=settings.alert_grace_minutes)
    status = Attendance.objects.filter(
        session_id=OuterRef("session_id"), patient_id=OuterRef("patient_id")
    ).values("status")[:1]
    missed = (
        Participant.objects.filter(
            patient_id__in=patient_ids, end__lt=cutoff, active=True
        )
        .filter(_from_consent_start(consents, "start__gte"))
        .exclude(session__status=TherapySession.Status.CANCELLED)
        .annotate(attendance_status=Subquery(status))
        .filter(
            Q(attendance_status=Attendance.Status.UNEXCUSED)
            | Q(attendance_status__isnull=True)
        )
        .select_related("session")
        .order_by("patient_id", "-start")
        .distinct("patient_id")
    )
    for participant in missed:
        cards[participant.patient_id].last_missed = participant.session

    # The next sessions: date, time and modality only; family sessions this
    # sponsor is invited to are marked.
    upcoming = (
        Participant.objects.filter(
            patient_id__in=patient_ids, start__gte=now, active=True
        )
        .exclude(session__status=TherapySession.Status.CANCELLED)
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[F("patient_id")], order_by=F("start").asc()
            ),
            sponsor_invited=Exists(
                FamilyMember.objects.filter(
                    session_id=OuterRef("session_id"), sponsor_id__in=sponsor_ids
                )
            ),
        )
        .filter(rank__lte=NEXT_SESSIONS)
        .select_related("session")
        .order_by("patient_id", "start")
    )
    for participant in upcoming:
        cards[participant.patient_id].next_sessions.append(participant)

    family = (
        FamilyMember.objects.filter(
            sponsor_id__in=sponsor_ids,
            session__start__gte=now,
            session__participants__patient_id=F("sponsor__patient_id"),
        )
        .exclude(session__status=TherapySession.Status.CANCELLED)
        .select_related("session", "sponsor")
        .order_by("session__start")
    )
    for member in family:
        cards[member.sponsor.patient_id].family_sessions.append(member.session)

    # The first page of each patient's attendance history, with its total.
    history = (
        Attendance.objects.filter(patient_id__in=patient_ids)
        .filter(_from_consent_start(consents, "session__start__gte"))
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("patient_id")],
                order_by=[F("session__start").desc(), F("id").desc()],
            ),
            total=Window(Count("id"), partition_by=[F("patient_id")]),
        )
        .filter(rank__lte=HISTORY_PAGE_SIZE)
        .select_related("session")
        .order_by("patient_id", "rank")
    )
    for row in history:
        card = cards[row.patient_id]
        card.history.append(row)
        card.history_total = row.total

    # The alerts this sponsor received about each patient.
    alerts = (
        Alert.objects.filter(
            sponsor_id__in=sponsor_ids,
            kind=Alert.Kind.MISSED,
            state=Alert.State.SENT,
        )
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("patient_id")],
                order_by=[F("sent_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=RECENT_ALERTS)
        .select_related("session")
        .order_by("patient_id", "rank")
    )
    for alert in alerts:
        cards[alert.patient_id].alerts.append(alert)

    return [cards[c.patient_id] for c in consents]


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


def login_for_email(email):
    """The existing login with this email (any role), or None."""
    from accounts.models import User

    return User.objects.filter(email__iexact=email).first()
