"""The ORM reads that pages of patients had before each was read with one SQL
statement: the references the tests hold those statements to. The patient page
(patients.page.patient_page; tests/patients/test_patient_page_sql.py), the
patient list and the doctor's queue (patients.selectors.patient_list_page and
approval_queue_page; tests/patients/test_list_sql.py). The application does not
run them."""

from django.db.models import CharField, Count, FilteredRelation, Func, Q, Window
from django.utils import timezone

from core.timeutil import clinic_today
from patients.models import (
    AdmissionRequest,
    Consent,
    Patient,
    PatientStatusChange,
    Sponsor,
)
from patients.selectors import (
    SORTS,
    _mark_current,
    consent_rows,
    patient_get,
    patient_words_match,
)
from sessions.models import Alert, CalendarFeed, Participant, TherapySession
from sessions.selectors.attendance import patient_hours_section


def patient_page_orm(*, pk, user):
    """The tests' reference for patients.page.patient_page: the same read with the
    ORM selectors each section had (ten queries and the audit row)."""
    context = patient_detail(pk=pk, user=user)
    patient = context["patient"]
    context["schedule"] = patient_schedule(patient=patient)
    context["hours"] = patient_hours_section(patient=patient)
    context["sponsor_alerts"] = patient_sponsor_alerts(patient=patient)
    return context


def _with_children(rows, attr):
    """Rows of a parent LEFT JOINed with its children (`attr`: the joined child,
    missing when there is none), in order -> the distinct parents, each with the
    list of its children as `<attr>_list`."""
    parents = []
    for row in rows:
        if not parents or parents[-1].pk != row.pk:
            setattr(row, f"{attr}_list", [])
            parents.append(row)
        child = getattr(row, attr, None)
        if child is not None:
            getattr(parents[-1], f"{attr}_list").append(child)
    return parents


def patient_detail(*, pk, user):
    """The tests' reference for the patient page's own sections (read by
    patient_page_orm): summary, sponsors (with their open portal invitation) and
    consents, admission history (requests, decisions including superseded ones),
    status history. Five queries whatever the patient has: the sponsors come with
    their consents and the requests with their decisions in one query each (joins
    rather than prefetches, which are skipped when there is nothing to prefetch
    for)."""
    patient = patient_get(pk=pk, user=user)
    today = clinic_today()
    discharged = patient.status == Patient.Status.DISCHARGED
    sponsors = _with_children(
        Sponsor.objects.filter(patient=patient)
        .annotate(
            open_invitation=FilteredRelation(
                "invitations", condition=Q(invitations__state="open")
            ),
            consent=FilteredRelation("consents"),
        )
        .select_related(
            "open_invitation", "consent__witnessed_by", "consent__revoked_recorded_by"
        )
        .order_by("full_name", "id", "-consent__effective_on", "-consent__id"),
        "consent",
    )
    for sponsor in sponsors:
        # None when the join found no open invitation (the portal's invite
        # controls read it instead of querying again).
        sponsor.open_invitation = getattr(sponsor, "open_invitation", None)
        sponsor.consent_rows = consent_rows(sponsor.consent_list, today, discharged)
        sponsor.has_active_consent = any(
            row["status"] == Consent.Status.ACTIVE for row in sponsor.consent_rows
        )
    requests = _with_children(
        AdmissionRequest.objects.filter(patient=patient)
        .annotate(decision=FilteredRelation("decisions"))
        .select_related(
            "requested_by", "doctor", "proposed_track", "decision__signed_by"
        )
        .order_by("-requested_at", "-id", "-decision__signed_at", "-decision__id"),
        "decision",
    )
    for req in requests:
        req.current_decision = _mark_current(req.decision_list)
    history = list(
        PatientStatusChange.objects.filter(patient=patient)
        .select_related("by")
        .order_by("-at", "-id")
    )
    pending = next(
        (r for r in requests if r.status == AdmissionRequest.Status.PENDING), None
    )
    return {
        "patient": patient,
        "today": today,
        "sponsors": sponsors,
        "active_consent": any(s.has_active_consent for s in sponsors),
        "requests": requests,
        "pending_request": pending,
        "status_history": history,
    }


def patient_schedule(*, patient, past=5, upcoming=10):
    """The tests' reference for the patient page's schedule section (read by
    patient_page_orm): the patient's next sessions, the last few and the feed
    (2 queries).

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


def patient_sponsor_alerts(*, patient, limit=5):
    """The tests' reference for the patient page's "Alerts to sponsors" (read by
    patient_page_orm): the `limit` newest missed-session alerts of this patient
    with their session and sponsor, how many there are in all and how many
    failed. One query whatever the patient has: the counts are window aggregates
    over all the patient's alerts, computed before the LIMIT."""
    rows = list(
        Alert.objects.filter(patient=patient, kind=Alert.Kind.MISSED)
        .select_related("session", "sponsor")
        .annotate(
            total=Window(Count("id")),
            failed_total=Window(Count("id", filter=Q(state=Alert.State.FAILED))),
        )
        .order_by("-created_at", "-id")[:limit]
    )
    return {
        "recent": rows,
        "count": rows[0].total if rows else 0,
        "failed_count": rows[0].failed_total if rows else 0,
    }


def patient_list(
    *, search="", status="", counselor=None, doctor=None, track=None, sort="name"
):
    """The tests' reference for patients.selectors.patient_list_page (its
    PATIENT_LIST_SQL): the staff patient list, filtered and sorted, as
    PatientListRow values: no model instances (four per patient with the track,
    counselor and doctor). One query per page."""
    qs = Patient.objects.values_list(
        "pk",
        "record_number",
        "last_name",
        "first_name",
        "preferred_name",
        "date_of_birth",
        "phone",
        "status",
        "track__name",
        "primary_counselor__full_name",
        "attending_doctor__full_name",
    )
    search = (search or "").strip()
    if search:
        # Every word must match a name or the record number; or the digits match
        # the phone (stored as typed, compared digits only).
        words = patient_words_match(search)
        digits = "".join(ch for ch in search if ch.isdigit())
        if len(digits) >= 3:
            words |= Q(phone_digits__contains=digits)
        qs = qs.alias(phone_digits=_digits("phone")).filter(words)
    if status:
        qs = qs.filter(status=status)
    if counselor is not None:
        qs = qs.filter(primary_counselor=counselor)
    if doctor is not None:
        qs = qs.filter(attending_doctor=doctor)
    if track is not None:
        qs = qs.filter(track=track)
    return qs.order_by(*SORTS.get(sort, SORTS["name"]))


class _DigitsOnly(Func):
    template = "REGEXP_REPLACE(%(expressions)s, '[^0-9]', '', 'g')"
    output_field = CharField()


def _digits(field):
    return _DigitsOnly(field)


def approval_queue():
    """The tests' reference for patients.selectors.approval_queue_page (its
    APPROVAL_QUEUE_SQL): pending admission requests, oldest first, as ApprovalRow
    values (no model instances: five per request with the patient, requester,
    doctor and track)."""
    return (
        AdmissionRequest.objects.filter(status=AdmissionRequest.Status.PENDING)
        .order_by("requested_at", "id")
        .values_list(
            "pk",
            "requested_at",
            "proposed_start",
            "medical_probation",
            "patient_id",
            "patient__first_name",
            "patient__last_name",
            "patient__record_number",
            "requested_by__full_name",
            "proposed_track__name",
            "doctor_id",
            "doctor__full_name",
            "doctor__email",
            "doctor__credentials",
        )
    )
