"""Reads about patients. Each costs a fixed number of queries; reads of a patient's
record write an audit row (action "view")."""

import datetime
from typing import NamedTuple

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Q
from django.shortcuts import get_object_or_404

from accounts import roles
from core.audit import audit
from core.auditsql import AUDIT_INSERT, audit_params
from core.db import prepared_cursor
from core.models import AuditEvent
from core.timeutil import clinic_today

from .models import (
    AdmissionRequest,
    Consent,
    DoctorDecision,
    Patient,
    Sponsor,
    active_consent_q,
)

# filter_choices' kind of a track row (its people are of the staff and doctor groups).
TRACKS = "track"

SORTS = {
    "name": ("last_name", "first_name", "id"),
    "-name": ("-last_name", "-first_name", "-id"),
    "record": ("record_number",),
    "-record": ("-record_number",),
    "status": ("status", "last_name", "first_name", "id"),
    "referred": ("referred_on", "id"),
    "-referred": ("-referred_on", "-id"),
    "admitted": ("admitted_on", "id"),
    "-admitted": ("-admitted_on", "-id"),
}


class PatientListRow(NamedTuple):
    """What the patient list shows of a patient (patient_rows writes it)."""

    pk: int
    record_number: str
    last_name: str
    first_name: str
    preferred_name: str
    date_of_birth: datetime.date
    phone: str
    status: str
    track_name: str | None
    counselor_name: str | None
    doctor_name: str | None

    def get_status_display(self):
        return STATUS_LABELS.get(self.status, self.status)


STATUS_LABELS = dict(Patient.Status.choices)


# The page shown of a list whose length the CTE "total" counts (n): the page asked
# for, %(page)s, as Paginator.get_page settles it (out of range: the last page) in
# pages of %(per_page)s. The patient list's and the doctor's queue's statements.
SHOWN_PAGE_SQL = """shown AS (
    SELECT n, CASE WHEN %(page)s::int BETWEEN 1 AND pages THEN %(page)s::int
                   ELSE pages END AS number
    FROM (SELECT n, GREATEST(1, (n + %(per_page)s::int - 1) / %(per_page)s::int)
                    AS pages
          FROM total) t
)"""

# The patient list's page and how many patients match, in one statement: the
# count, the page number as Paginator.get_page settles it (out of range: the
# last page), and the page's rows, read through a LATERAL join after the count:
# the page's patients are chosen first, then joined to their track and people. The
# filters and the sort are fixed fragments chosen by the form (PATIENT_LIST_WHERE,
# PATIENT_LIST_ORDER); every value is a bound parameter. tests/patients/reference.py
# holds the ORM version (patient_list) the tests compare it with. The audit row for
# the read is written by the same statement (core.auditsql), with the page number
# and the count it read.
PATIENT_LIST_SQL = """
WITH total AS (
    SELECT count(*) AS n FROM patients_patient p WHERE {where}
), {shown}, viewed AS ({audit}
)
SELECT shown.n, shown.number, r.*
FROM shown
LEFT JOIN LATERAL (
    SELECT p.id, p.record_number, p.last_name, p.first_name, p.preferred_name,
           p.date_of_birth, p.phone, p.status,
           t.name, c.full_name, d.full_name
    FROM (
        SELECT * FROM patients_patient p
        WHERE {where}
        ORDER BY {order}
        LIMIT %(per_page)s::int OFFSET (shown.number - 1) * %(per_page)s::int
    ) p
    LEFT JOIN patients_track t ON t.id = p.track_id
    LEFT JOIN accounts_user c ON c.id = p.primary_counselor_id
    LEFT JOIN accounts_user d ON d.id = p.attending_doctor_id
    ORDER BY {order}
) r ON true
"""
PATIENT_LIST_AUDIT = AUDIT_INSERT.format(
    model="''",
    object_id="''",
    patient="NULL::bigint",
    summary="'Viewed patient list, page ' || shown.number || ' (' || shown.n"
    " || ' patients)'",
    source="shown",
)
PATIENT_LIST_WORD = (
    "(UPPER(p.first_name::text) LIKE UPPER(%({w})s)"
    " OR UPPER(p.last_name::text) LIKE UPPER(%({w})s)"
    " OR UPPER(p.preferred_name::text) LIKE UPPER(%({w})s)"
    " OR UPPER(p.record_number::text) LIKE UPPER(%({w})s))"
)
PATIENT_LIST_DIGITS = "REGEXP_REPLACE(p.phone, '[^0-9]', '', 'g')::text LIKE %(digits)s"
PATIENT_LIST_WHERE = {
    "status": "p.status = %(status)s",
    "counselor": "p.primary_counselor_id = %(counselor)s",
    "doctor": "p.attending_doctor_id = %(doctor)s",
    "track": "p.track_id = %(track)s",
}
PATIENT_LIST_ORDER = {
    key: ", ".join(
        f"p.{name[1:]} DESC" if name.startswith("-") else f"p.{name} ASC"
        for name in names
    )
    for key, names in SORTS.items()
}


def _like_contains(text):
    """The pattern of Django's contains/icontains lookups for `text`."""
    return f"%{connection.ops.prep_for_like_query(text)}%"


def patient_list_sql(
    *, search="", status="", counselor=None, doctor=None, track=None, sort="name"
):
    """PATIENT_LIST_SQL for these filters (as the ORM patient_list of
    tests/patients/reference.py filters), and its parameters but the page's."""
    where, params = [], {}
    words = (search or "").strip().split()
    if words:
        matches = []
        for i, word in enumerate(words):
            params[f"w{i}"] = _like_contains(word)
            matches.append(PATIENT_LIST_WORD.format(w=f"w{i}"))
        match = " AND ".join(matches)
        digits = "".join(ch for ch in search if ch.isdigit())
        if len(digits) >= 3:
            params["digits"] = _like_contains(digits)
            match = f"({match}) OR {PATIENT_LIST_DIGITS}"
        where.append(f"({match})")
    for name, value in (
        ("status", status or None),
        ("counselor", counselor),
        ("doctor", doctor),
        ("track", track),
    ):
        if value is not None:
            where.append(PATIENT_LIST_WHERE[name])
            params[name] = value
    sql = PATIENT_LIST_SQL.format(
        shown=SHOWN_PAGE_SQL,
        audit=PATIENT_LIST_AUDIT,
        where=" AND ".join(where) or "true",
        order=PATIENT_LIST_ORDER.get(sort, PATIENT_LIST_ORDER["name"]),
    )
    return sql, params


def requested_page(value):
    """The page asked for as Paginator.get_page reads it: 1 when it is not a
    number; 0 (read as "out of range": the last page) when below 1 or beyond
    any count."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return 1
    return number if 1 <= number < 2**31 else 0


def shown_page(sql, params, *, page_number, per_page, row):
    """A Django Page of the rows (each made by `row` from its columns after the
    first two) of a statement written with SHOWN_PAGE_SQL, run prepared with
    `params` and the page asked for; its paginator's count is the one the
    statement read."""
    params = {**params, "page": requested_page(page_number), "per_page": per_page}
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    count, number = fetched[0][0], fetched[0][1]
    paginator = Paginator((), per_page)
    paginator.count = count  # a cached_property: no COUNT query
    rows = [row(values[2:]) for values in fetched if values[2] is not None]
    return Page(rows, number, paginator)


def patient_list_page(*, user, filters, page_number, per_page=25):
    """One page of the patient list, as PatientListRow values (patient_list_sql's
    filters and sort, Paginator.get_page's page), and one audit row for the read
    (no search terms in it: they may be names). One query: the page with its
    count and the audit row (PATIENT_LIST_SQL, prepared)."""
    sql, params = patient_list_sql(**filters)
    params.update(audit_params(user=user, action=AuditEvent.Action.VIEW))
    return shown_page(
        sql,
        params,
        page_number=page_number,
        per_page=per_page,
        row=PatientListRow._make,
    )


def patient_words_match(text, *, via="", record_exact=False):
    """A filter on patients (or, with `via="patient__"`, on rows of a patient): every
    word of `text` is in the first, last or preferred name or the record number
    (the whole record number with `record_exact`). Q() when `text` has no word."""
    record = "record_number__iexact" if record_exact else "record_number__icontains"
    match = Q()
    for word in (text or "").split():
        match &= (
            Q(**{f"{via}first_name__icontains": word})
            | Q(**{f"{via}last_name__icontains": word})
            | Q(**{f"{via}preferred_name__icontains": word})
            | Q(**{f"{via}{record}": word})
        )
    return match


# The active staff and doctors with their role, and the active tracks, as
# (kind, name, id), in the order the filters list them. Plain SQL: compiled by the
# ORM as a UNION it cost more than it runs.
FILTER_CHOICES_SQL = """
SELECT g.name, u.full_name, u.id
FROM accounts_user u
JOIN accounts_user_groups ug ON ug.user_id = u.id
JOIN auth_group g ON g.id = ug.group_id
WHERE g.name IN (%(staff)s, %(doctor)s) AND u.is_active
UNION ALL
SELECT %(tracks)s, t.name, t.id FROM patients_track t WHERE t.active
ORDER BY 1, 2, 3
"""


def filter_choices():
    """The counselors, doctors and tracks for the list filters, as (id, name)
    pairs (FILTER_CHOICES_SQL): one query, no model instances."""
    choices = {"counselors": [], "doctors": [], "tracks": []}
    lists = {
        roles.STAFF: choices["counselors"],
        roles.DOCTOR: choices["doctors"],
        TRACKS: choices["tracks"],
    }
    params = {"staff": roles.STAFF, "doctor": roles.DOCTOR, "tracks": TRACKS}
    with prepared_cursor() as cursor:
        cursor.execute(FILTER_CHOICES_SQL, params)
        for kind, name, pk in cursor.fetchall():
            lists[kind].append((pk, name))
    return choices


def patient_get(*, pk, user, summary="Viewed patient record"):
    """One patient, with an audit row for the read."""
    patient = get_object_or_404(
        Patient.objects.select_related(
            "track", "primary_counselor", "attending_doctor"
        ),
        pk=pk,
    )
    audit(
        user=user,
        action=AuditEvent.Action.VIEW,
        obj=patient,
        patient=patient,
        summary=summary,
    )
    return patient


def consent_rows(consents, today, discharged):
    return [
        {"consent": c, "status": c.status_on(today, patient_discharged=discharged)}
        for c in consents
    ]


def _mark_current(decisions):
    """Set `current` on each of a request's decisions (False once a later one
    supersedes it); returns the current decision, or None."""
    superseded = {d.supersedes_id for d in decisions if d.supersedes_id}
    for d in decisions:
        d.current = d.pk not in superseded
    return next((d for d in decisions if d.current), None)


class ApprovalRow(NamedTuple):
    """What the doctor's queue shows of a pending request (approval_rows writes
    it): the request, its patient, who asked, the track and the doctor asked."""

    pk: int
    requested_at: datetime.datetime
    proposed_start: datetime.date | None
    medical_probation: bool
    patient_id: int
    first_name: str
    last_name: str
    record_number: str
    requested_by_name: str
    track_name: str | None
    doctor_id: int | None
    doctor_full_name: str | None
    doctor_email: str | None
    doctor_credentials: str | None


# The doctor's queue: the pending requests' count, the page number as
# Paginator.get_page settles it and the page's rows, in one statement (as
# PATIENT_LIST_SQL). tests/patients/reference.py holds the ORM version
# (approval_queue) the tests compare it with.
# The status is written in the text (AdmissionRequest.Status.PENDING): as a
# parameter, the plan kept for the connection would expect half the requests
# pending and hash-join every patient (4 ms instead of 0.3).
_APPROVAL_QUEUE_SQL = """
WITH total AS (
    SELECT count(*) AS n FROM patients_admissionrequest WHERE status = '{pending}'
), {shown}
SELECT shown.n, shown.number, r.*
FROM shown
LEFT JOIN LATERAL (
    SELECT r.id, r.requested_at, r.proposed_start, r.medical_probation,
           r.patient_id, p.first_name, p.last_name, p.record_number,
           rb.full_name, t.name, r.doctor_id, d.full_name, d.email, d.credentials
    FROM (
        SELECT * FROM patients_admissionrequest
        WHERE status = '{pending}'
        ORDER BY requested_at ASC, id ASC
        LIMIT %(per_page)s::int OFFSET (shown.number - 1) * %(per_page)s::int
    ) r
    JOIN patients_patient p ON p.id = r.patient_id
    LEFT JOIN accounts_user rb ON rb.id = r.requested_by_id
    LEFT JOIN patients_track t ON t.id = r.proposed_track_id
    LEFT JOIN accounts_user d ON d.id = r.doctor_id
    ORDER BY r.requested_at ASC, r.id ASC
) r ON true
"""
APPROVAL_QUEUE_SQL = _APPROVAL_QUEUE_SQL.format(
    shown=SHOWN_PAGE_SQL, pending=AdmissionRequest.Status.PENDING
)


def approval_queue_page(*, page_number, per_page=20):
    """One page of the pending requests (ApprovalRow), oldest first;
    `page.paginator.count` is how many are pending. One query
    (APPROVAL_QUEUE_SQL, prepared). A page number out of range or not a number
    gives the nearest page, as Paginator.get_page does."""
    return shown_page(
        APPROVAL_QUEUE_SQL,
        {},
        page_number=page_number,
        per_page=per_page,
        row=ApprovalRow._make,
    )


def request_for_decision(*, pk, user):
    request = get_object_or_404(
        AdmissionRequest.objects.select_related(
            "patient",
            "patient__track",
            "patient__primary_counselor",
            "patient__attending_doctor",
            "requested_by",
            "doctor",
            "proposed_track",
        ),
        pk=pk,
    )
    audit(
        user=user,
        action=AuditEvent.Action.VIEW,
        obj=request,
        patient=request.patient,
        summary="Viewed admission request",
    )
    decisions = list(
        request.decisions.select_related("signed_by", "supersedes").order_by(
            "-signed_at", "-id"
        )
    )
    return {
        "req": request,
        "patient": request.patient,
        "decisions": decisions,
        "current": _mark_current(decisions),
    }


def decision_get(*, pk, user, audit_read=True):
    decision = get_object_or_404(
        DoctorDecision.objects.select_related(
            "patient",
            "patient__track",
            "request",
            "request__proposed_track",
            "signed_by",
            "supersedes",
        ),
        pk=pk,
    )
    if audit_read:
        audit(
            user=user,
            action=AuditEvent.Action.VIEW,
            obj=decision,
            patient=decision.patient,
            summary="Viewed doctor's decision",
        )
    return decision


def decision_superseded_by(decision):
    return DoctorDecision.objects.filter(supersedes=decision).first()


def admission_request_get(*, pk):
    return get_object_or_404(AdmissionRequest.objects.select_related("patient"), pk=pk)


def sponsor_get(*, pk):
    return get_object_or_404(Sponsor.objects.select_related("patient"), pk=pk)


def consent_get(*, pk):
    return get_object_or_404(
        Consent.objects.select_related("patient", "sponsor", "witnessed_by"), pk=pk
    )


def sponsor_consent(*, sponsor, pk):
    """One of this sponsor's consents by its id as typed in a URL, or None
    (also for anything but ASCII digits: "²" passes isdigit(), not int())."""
    if not (pk.isascii() and pk.isdigit()):
        return None
    return sponsor.consents.filter(pk=pk).first()


def sponsors_with_active_consent(*, patient):
    active = Consent.objects.filter(patient=patient).filter(
        active_consent_q(clinic_today())
    )
    return list(
        Sponsor.objects.filter(
            patient=patient, pk__in=active.values("sponsor_id")
        ).order_by("full_name")
    )
