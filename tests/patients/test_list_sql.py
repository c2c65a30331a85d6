"""The patient list's and the doctor's queue's one-statement reads
(PATIENT_LIST_SQL, APPROVAL_QUEUE_SQL) against their ORM versions (reference.py)
and Django's Paginator: the same rows in the same order, the same count and the
same page number for every filter, sort and page asked for."""

import datetime
import itertools

import pytest
from django.core.paginator import Paginator

from patients import selectors
from patients.models import Patient
from tests.factories import PatientFactory, TrackFactory, doctor, staff

from .reference import approval_queue, patient_list

pytestmark = pytest.mark.django_db

PAGES = (None, "", "1", "2", "3", "0", "-2", "abc", "1.5", " 2 ", "99999999999")


def _orm_page(queryset, page, per_page, row):
    orm = Paginator(queryset, per_page).get_page(page)
    return [row._make(r) for r in orm.object_list], orm.number, orm.paginator.count


def _sql_page(page):
    return list(page.object_list), page.number, page.paginator.count


@pytest.fixture
def clinic(staff_user):
    counselors = [staff(full_name="Casey Counselor"), staff(full_name="Ana Lopez")]
    doctors = [doctor(full_name="Dr. Who"), doctor(full_name="Dr. Ng")]
    tracks = [TrackFactory(name="Morning"), TrackFactory(name="Evening")]
    names = ["Anders", "Smith", "Smyth", "O'Neil", "Nguyen", "Ånström", "50%_off"]
    statuses = [s for s, _ in Patient.Status.choices]
    for i in range(37):
        status = statuses[i % len(statuses)]
        admitted = status in ("admitted", "on_hold", "discharged")
        PatientFactory(
            first_name=f"{names[i % 7]}{'x' * (i % 3)}",
            last_name=names[(i * 3) % 7],  # repeated last names: ties on the sort
            preferred_name="Sunny" if i % 5 == 0 else "",
            phone=f"(555) 20{i % 10}-33{i:02d}" if i % 4 else "",
            status=status,
            primary_counselor=counselors[i % 2] if i % 6 else None,
            attending_doctor=doctors[i % 2] if i % 5 else None,
            track=tracks[i % 2] if i % 7 else None,
            referred_on=datetime.date(2026, 1, 1) + datetime.timedelta(days=i % 9),
            admitted_on=(
                datetime.date(2026, 2, 1) + datetime.timedelta(days=i % 4)
                if admitted
                else None
            ),
            discharged_on=datetime.date(2026, 6, 1) if status == "discharged" else None,
            discharge_reason="completed" if status == "discharged" else "",
        )
    return counselors, doctors, tracks


def test_patient_list_page_is_the_orm_list_and_paginator_for_every_filter(
    clinic, staff_user
):
    counselors, doctors, tracks = clinic
    searches = ["", "an", "SMI th", "o'n", "50%", "_", "555 201", "20", "Sunny", "zz"]
    combos = found = 0
    for search, status, counselor, doc, track in itertools.product(
        searches,
        ["", "admitted", "referred"],
        [None, counselors[0].pk],
        [None, doctors[1].pk],
        [None, tracks[0].pk],
    ):
        filters = {
            "search": search,
            "status": status,
            "counselor": counselor,
            "doctor": doc,
            "track": track,
            "sort": "name",
        }
        for page in ("1", "2", "0"):
            got = selectors.patient_list_page(
                user=staff_user, filters=filters, page_number=page, per_page=4
            )
            want = _orm_page(patient_list(**filters), page, 4, selectors.PatientListRow)
            assert _sql_page(got) == want, (filters, page)
            combos += 1
            found += bool(want[2])
    assert combos == 720 and found > 150  # the filters do find patients


@pytest.mark.parametrize("sort", [*selectors.SORTS, "bogus"])
def test_patient_list_page_sorts_and_pages_as_the_orm(clinic, staff_user, sort):
    filters = {"search": "", "status": "", "counselor": None, "doctor": None}
    filters |= {"track": None, "sort": sort}
    for page in PAGES:
        got = selectors.patient_list_page(
            user=staff_user, filters=filters, page_number=page, per_page=5
        )
        want = _orm_page(patient_list(**filters), page, 5, selectors.PatientListRow)
        assert _sql_page(got) == want, (sort, page)


def test_patient_list_page_of_no_patient_is_an_empty_first_page(staff_user):
    filters = {"search": "nobody", "status": "", "counselor": None, "doctor": None}
    filters |= {"track": None, "sort": "name"}
    for page in PAGES:
        got = selectors.patient_list_page(
            user=staff_user, filters=filters, page_number=page
        )
        assert _sql_page(got) == ([], 1, 0)
        assert got.paginator.num_pages == 1 and not got.has_next()


def test_approval_queue_page_is_the_orm_queue_and_paginator(staff_user):
    from .conftest import register, request_admission

    doc = doctor(full_name="Dr. Rivera")
    for i in range(13):
        p = register(staff_user, first_name=f"Wait{i:02d}", last_name="Queue")
        request_admission(p, staff_user, doctor=doc if i % 2 else None)
    for per_page in (1, 5, 13, 20):
        for page in PAGES:
            got = selectors.approval_queue_page(page_number=page, per_page=per_page)
            want = _orm_page(approval_queue(), page, per_page, selectors.ApprovalRow)
            assert _sql_page(got) == want, (per_page, page)


def test_approval_queue_page_of_no_request_is_an_empty_first_page():
    for page in PAGES:
        got = selectors.approval_queue_page(page_number=page)
        assert _sql_page(got) == ([], 1, 0)


def test_approval_queue_statement_names_the_pending_status():
    # Written in the text for its plan (APPROVAL_QUEUE_SQL's comment).
    from patients.models import AdmissionRequest

    assert AdmissionRequest.Status.PENDING == "pending"
    assert selectors.APPROVAL_QUEUE_SQL.count("status = 'pending'") == 2


def test_patient_list_page_writes_the_audit_row_audit_would(clinic, staff_user):
    from core.audit import _request_meta
    from core.models import AuditEvent

    filters = {"search": "", "status": "admitted", "counselor": None}
    filters |= {"doctor": None, "track": None, "sort": "name"}
    token = _request_meta.set({"ip_address": "198.51.100.7", "user_agent": "UA"})
    try:
        page = selectors.patient_list_page(
            user=staff_user, filters=filters, page_number="9", per_page=2
        )
    finally:
        _request_meta.reset(token)
    count = Patient.objects.filter(status="admitted").count()
    assert page.number == (count + 1) // 2 and page.paginator.count == count
    event = AuditEvent.objects.get()
    summary = f"Viewed patient list, page {page.number} ({count} patients)"
    assert event.summary == summary
    assert (event.user, event.action) == (staff_user, "view")
    assert event.role == "Clinic staff"
    assert (event.model, event.object_id, event.patient, event.changed_fields) == (
        "",
        "",
        None,
        [],
    )
    assert (event.ip_address, event.user_agent) == ("198.51.100.7", "UA")
