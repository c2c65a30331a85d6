"""Reads for the staff alerts page. A fixed number of queries per page."""

from django.db.models import Case, Count, IntegerField, Q, Value, When

from core.timeutil import day_bounds
from patients.models import Patient
from patients.selectors import patient_words_match
from sessions.models import Alert

STATE_ORDER = Case(
    When(state=Alert.State.FAILED, then=Value(0)),
    When(state=Alert.State.PENDING, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def alert_list(
    *,
    date_from=None,
    date_to=None,
    patient="",
    sponsor="",
    state="",
    kind="",
    patient_id=None,
):
    """Alerts newest first, failed ones before everything else, then pending.

    date_from / date_to filter on the session's local day; patient and sponsor
    are words matched against names (and the patient's record number);
    patient_id keeps one patient's alerts (the patient page links here with it)."""
    qs = Alert.objects.select_related("session", "patient", "sponsor")
    if patient_id:
        qs = qs.filter(patient_id=patient_id)
    if date_from:
        qs = qs.filter(session__start__gte=day_bounds(date_from)[0])
    if date_to:
        qs = qs.filter(session__start__lt=day_bounds(date_to)[1])
    if patient:
        qs = qs.filter(patient_words_match(patient, via="patient__", record_exact=True))
    for word in (sponsor or "").split():
        qs = qs.filter(
            Q(sponsor__full_name__icontains=word) | Q(sponsor__email__icontains=word)
        )
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.annotate(state_order=STATE_ORDER).order_by(
        "state_order", "-created_at", "-id"
    )


def alert_state_counts():
    """[(state, label, count)] over all alerts, in one query."""
    counts = dict(Alert.objects.values_list("state").annotate(n=Count("id")).order_by())
    return [
        (value, label, counts.get(value, 0)) for value, label in Alert.State.choices
    ]


def alert_list_patient(*, patient_id):
    """The patient the alerts list is narrowed to (names for its heading), or None."""
    if not patient_id:
        return None
    return (
        Patient.objects.only("first_name", "last_name", "record_number")
        .filter(pk=patient_id)
        .first()
    )
