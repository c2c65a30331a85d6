"""Demo attendance: a realistic mix for every session that has ended, one patient
below the weekly target, one flagged by the attendance rules, one correction with
its history, and one session from earlier today left unmarked (for the patient
whose sponsor is sponsor@demo.test, so that the missed-session sweep has
something to alert about). Safe to run again: rows that exist are kept.

History is written directly (bulk, no alerts queued for old misses); the live
paths go through sessions.services.attendance."""

import datetime
import random

from django.db.models import Q
from django.utils import timezone

from core.timeutil import clinic_today, day_bounds, local, make_local, week_start
from patients.models import Consent, Patient, Sponsor, active_consent_q
from sessions.models import (
    Attendance,
    AttendanceRevision,
    Kind,
    Modality,
    Participant,
    SessionFacilitator,
    TherapySession,
)
from sessions.services import scheduling as scheduling_services
from sessions.services.scheduling import SchedulingError

UNMARKED_TITLE = "Family check-in"
SPONSOR_EMAIL = "sponsor@demo.test"
S = Attendance.Status


def _say(stdout, text):
    if stdout is not None:
        stdout.write(text)


def _sponsor_patient():
    """The patient with an active consent to the demo sponsor's login."""
    today = clinic_today()
    consent = (
        Consent.objects.filter(active_consent_q(today))
        .filter(sponsor__user__email=SPONSOR_EMAIL)
        .select_related("patient")
        .order_by("id")
        .first()
    )
    if consent is not None:
        return consent.patient
    sponsor = (
        Sponsor.objects.filter(Q(user__email=SPONSOR_EMAIL) | Q(email=SPONSOR_EMAIL))
        .select_related("patient")
        .order_by("id")
        .first()
    )
    return sponsor.patient if sponsor else None


def _unmarked_today_session(*, patient, users, program):
    """A family session that ended earlier today (past the alert grace) for
    `patient`; created once. Just after midnight there is no "earlier today"
    long enough, and the latest slot of yesterday evening is used instead."""
    now = timezone.now()
    today = clinic_today()
    start_of_day, end_of_day = day_bounds(today)
    existing = TherapySession.objects.filter(
        title=UNMARKED_TITLE,
        participants__patient=patient,
        start__gte=start_of_day - datetime.timedelta(hours=6),
        end__lte=now,
    ).first()
    if existing is not None:
        return existing
    end = now - datetime.timedelta(minutes=45)
    end = end.replace(minute=end.minute - end.minute % 5, second=0, microsecond=0)
    start = max(end - datetime.timedelta(minutes=50), start_of_day)
    if end - start < datetime.timedelta(minutes=30):
        start = make_local(today - datetime.timedelta(days=1), datetime.time(22))
        end = start + datetime.timedelta(minutes=50)
    counselor = patient.primary_counselor or users["staff@demo.test"]
    actor = users["staff@demo.test"]
    attempts = [
        {"room": program["rooms"][name]}
        for name in ("Counseling Office 1", "Counseling Office 2")
        if name in program["rooms"]
    ]
    attempts.append(
        {
            "modality": Modality.TELEHEALTH,
            "telehealth_url": "https://telehealth.demo.test/check-in",
        }
    )
    hour = datetime.timedelta(hours=1)
    for shift in range(6):  # a free slot, moving back an hour at a time
        slot_start, slot_end = start - shift * hour, end - shift * hour
        for counselor_choice in (counselor, users["l.okafor@demo.test"]):
            for where in attempts:
                try:
                    session = scheduling_services.session_create(
                        kind=Kind.FAMILY,
                        title=UNMARKED_TITLE,
                        start=slot_start,
                        end=slot_end,
                        facilitators=[counselor_choice],
                        actor=actor,
                        patients=[patient],
                        **where,
                    )
                except SchedulingError:
                    continue
                scheduling_services.family_member_add(
                    session=session,
                    actor=actor,
                    name=f"{patient.first_name}'s partner",
                    relationship="Partner",
                )
                return session
    return None


def _status_for(rng, *, session, patient, role, recent, last_two, noshow_slot):
    """(status, minutes) for one patient at one ended session."""
    length = session.minutes
    if role == "flagged" and session.pk in last_two:
        return S.UNEXCUSED, 0
    if role == "below" and recent:
        if session.kind == Kind.GROUP:
            return rng.choice(
                [(S.EXCUSED, 0), (S.LEFT_EARLY, length - 90), (S.LATE, length - 60)]
            )
        return S.PRESENT, length
    if noshow_slot:
        return S.UNEXCUSED, 0
    roll = rng.random()
    if recent:
        # Last week and this week: everyone else stays at or above target.
        if roll < 0.08:
            return S.LATE, length - rng.choice([5, 10, 15])
        return S.PRESENT, length
    if roll < 0.80:
        return S.PRESENT, length
    if roll < 0.88:
        return S.LATE, length - rng.choice([10, 15, 20, 30])
    if roll < 0.93:
        return S.LEFT_EARLY, length - rng.choice([30, 45, 60])
    return S.EXCUSED, 0


def seed_attendance(*, users, program, stdout=None):
    now = timezone.now()
    today = clinic_today()
    last_monday = week_start(today) - datetime.timedelta(days=7)
    recent_from, _ = day_bounds(last_monday)
    sponsor_patient = _sponsor_patient()
    unmarked = (
        _unmarked_today_session(patient=sponsor_patient, users=users, program=program)
        if sponsor_patient is not None
        else None
    )

    ended = (
        Participant.objects.filter(end__lte=now)
        .exclude(session__status=TherapySession.Status.CANCELLED)
        .select_related("session", "patient")
        .order_by("start", "id")
    )
    if unmarked is not None:
        ended = ended.exclude(session=unmarked)
    participations = list(ended)
    marked = set(
        Attendance.objects.filter(session__end__lte=now).values_list(
            "session_id", "patient_id"
        )
    )
    facilitator_of = {}
    for link in SessionFacilitator.objects.filter(
        session__in={p.session_id for p in participations}
    ).order_by("id"):
        facilitator_of.setdefault(link.session_id, link.user_id)

    by_patient = {}
    for p in participations:
        by_patient.setdefault(p.patient_id, []).append(p.session_id)
    last_two = {pid: set(ids[-2:]) for pid, ids in by_patient.items()}
    # The first two admitted patients with enough sessions: one flagged, one below.
    admitted = [
        patient
        for patient in Patient.objects.filter(status=Patient.Status.ADMITTED)
        .exclude(pk=getattr(sponsor_patient, "pk", None))
        .order_by("id")
        if len(by_patient.get(patient.pk, ())) >= 4
    ]
    flagged = admitted[0] if admitted else None
    below = admitted[1] if len(admitted) > 1 else None
    roles = {}
    if flagged:
        roles[flagged.pk] = "flagged"
    if below:
        roles[below.pk] = "below"
    # Every third patient once missed a session without calling, 10 to 28 days ago.
    noshow = {}
    for index, pid in enumerate(sorted(by_patient)):
        if pid in roles or index % 3:
            continue
        for p in participations:
            if p.patient_id == pid and datetime.timedelta(
                days=10
            ) <= now - p.start <= datetime.timedelta(days=28):
                noshow[pid] = p.session_id
                break

    fallback = users["staff@demo.test"].pk
    rows = []
    for p in participations:
        if (p.session_id, p.patient_id) in marked:
            continue
        rng = random.Random(p.session_id * 7919 + p.patient_id)  # noqa: S311
        status, minutes = _status_for(
            rng,
            session=p.session,
            patient=p.patient,
            role=roles.get(p.patient_id),
            recent=p.start >= recent_from,
            last_two=last_two.get(p.patient_id, set()),
            noshow_slot=noshow.get(p.patient_id) == p.session_id,
        )
        rows.append(
            Attendance(
                session_id=p.session_id,
                patient_id=p.patient_id,
                status=status,
                minutes=max(0, minutes),
                recorded_by_id=facilitator_of.get(p.session_id, fallback),
                recorded_at=min(p.start + datetime.timedelta(minutes=10), now),
            )
        )
    created = Attendance.objects.bulk_create(rows, ignore_conflicts=True)
    _seed_correction(users=users, roles=roles, before=recent_from)
    _say(
        stdout,
        f"Attendance: {len(created)} marks added"
        + (f"; flagged: {flagged.full_name}" if flagged else "")
        + (f"; below target: {below.full_name}" if below else "")
        + (
            f"; left unmarked: {sponsor_patient.full_name}'s session at "
            f"{local(unmarked.start):%H:%M}"
            if unmarked is not None
            else ""
        )
        + ".\n",
    )


def _seed_correction(*, users, roles, before):
    """One corrected mark, so the session page shows a history: a no-show that
    turned out to be a sick call. The latest excused mark of a patient with no
    demo role; when the draw gave none, the latest of such a patient's marks
    before `before` (last week's Monday) becomes that excused absence, so that
    the weeks the targets and flags read stay as drawn."""
    if AttendanceRevision.objects.exists():
        return
    others = Attendance.objects.exclude(patient_id__in=list(roles)).order_by(
        "-session__start", "-id"
    )
    candidate = others.filter(status=S.EXCUSED).first()
    if candidate is None:
        candidate = others.filter(session__start__lt=before).first()
        if candidate is None:
            return
        candidate.status, candidate.minutes = S.EXCUSED, 0
        candidate.save(update_fields=["status", "minutes"])
    AttendanceRevision.objects.create(
        attendance=candidate,
        status=S.UNEXCUSED,
        minutes=0,
        note="",
        recorded_by_id=candidate.recorded_by_id,
        recorded_at=candidate.recorded_at,
        changed_by=users["frontdesk@demo.test"],
        changed_at=candidate.recorded_at + datetime.timedelta(hours=20),
        reason="Called in sick that morning; the voicemail was found the next day.",
    )
    candidate.recorded_by = users["frontdesk@demo.test"]
    candidate.recorded_at = candidate.recorded_at + datetime.timedelta(hours=20)
    candidate.save(update_fields=["recorded_by", "recorded_at"])
