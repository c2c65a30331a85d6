import pytest
from django.urls import reverse

from patients.models import Patient
from tests.factories import PatientFactory, TrackFactory, doctor, staff


def _make(n, counselor, doc, track):
    for i in range(n):
        PatientFactory(
            first_name=f"First{i}",
            last_name=f"Last{i:03d}",
            primary_counselor=counselor,
            attending_doctor=doc,
            track=track,
            status=Patient.Status.REFERRED,
        )


def _query_count(client, django_assert_num_queries, params):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("patients:list"), params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "Last0", "status": "referred", "sort": "-name"}, {"page": "2"}],
)
def test_patient_list_costs_the_same_for_5_and_200_patients(
    client_for, staff_user, django_assert_num_queries, params
):
    counselor, doc, track = staff(), doctor(), TrackFactory()
    client = client_for(staff_user)
    _make(5, counselor, doc, track)
    small = _query_count(client, django_assert_num_queries, params)
    _make(195, counselor, doc, track)
    with django_assert_num_queries(small):
        response = client.get(reverse("patients:list"), params)
    assert response.status_code == 200


def test_list_searches_name_record_number_and_phone(client_for, staff_user):
    a = PatientFactory(first_name="Avery", last_name="Stone", phone="(555) 444-1212")
    b = PatientFactory(first_name="Blake", last_name="Rivers", phone="(555) 201-0000")
    client = client_for(staff_user)

    def names(q):
        page = client.get(reverse("patients:list"), {"q": q}).context["page"]
        return {p.pk for p in page.object_list}

    c = PatientFactory(first_name="Avery", last_name="Smith", phone="")
    assert names("stone") == {a.pk}
    assert names("Avery Stone") == {a.pk}
    assert names("avery") == {a.pk, c.pk}
    assert names(b.record_number) == {b.pk}
    assert names("555-444-1212") == {a.pk}
    assert names("4441212") == {a.pk}


def test_list_filters_and_sorts(client_for, staff_user):
    counselor, doc = staff(), doctor()
    morning = TrackFactory(name="Morning IOP")
    a = PatientFactory(last_name="Adams", primary_counselor=counselor)
    b = PatientFactory(last_name="Baker", attending_doctor=doc, track=morning)
    c = PatientFactory(last_name="Clark", status="awaiting_approval")
    client = client_for(staff_user)

    def pks(**params):
        page = client.get(reverse("patients:list"), params).context["page"]
        return [p.pk for p in page.object_list]

    assert pks(counselor=counselor.pk) == [a.pk]
    assert pks(doctor=doc.pk) == [b.pk]
    assert pks(track=morning.pk) == [b.pk]
    assert pks(status="awaiting_approval") == [c.pk]
    assert pks(sort="-name") == [c.pk, b.pk, a.pk]
    # Nonsense filter values are ignored, never a 500.
    assert pks(status="nope", counselor="x", sort="drop table") == [a.pk, b.pk, c.pk]


def test_list_paginates(client_for, staff_user):
    for i in range(30):
        PatientFactory(last_name=f"Name{i:02d}")
    client = client_for(staff_user)
    first = client.get(reverse("patients:list"))
    assert len(first.context["page"].object_list) == 25
    second = client.get(reverse("patients:list"), {"page": 2})
    assert len(second.context["page"].object_list) == 5
    assert "Page 2 of 2" in second.content.decode()


def test_htmx_search_returns_only_the_results(client_for, staff_user):
    PatientFactory(last_name="Stone")
    response = client_for(staff_user).get(
        reverse("patients:list"), {"q": "Stone"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "Stone" in html and "<html" not in html
    assert "HX-Request" in response["Vary"]


def test_listing_patients_leaves_one_audit_row(client_for, doctor_user):
    from core.models import AuditEvent

    PatientFactory()
    client_for(doctor_user).get(reverse("patients:list"), {"q": "Secret Name"})
    row = AuditEvent.objects.get(action="view")
    assert row.user == doctor_user and "Secret" not in row.summary


def _count(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_approval_queue_costs_the_same_for_2_and_40_requests(
    client_for, doctor_user, staff_user, django_assert_num_queries
):
    from .conftest import register, request_admission

    client = client_for(doctor_user)

    def add(n, start):
        for i in range(n):
            p = register(staff_user, first_name=f"Q{start + i}", last_name="Queue")
            request_admission(p, staff_user)

    add(2, 0)
    small = _count(client, reverse("patients:approvals"))
    add(38, 2)
    with django_assert_num_queries(small):
        client.get(reverse("patients:approvals"))


def test_patient_page_costs_the_same_with_more_history(
    client_for, staff_user, doctor_user, django_assert_num_queries
):
    import datetime

    from core.timeutil import clinic_today
    from patients import services
    from tests.conftest import PASSWORD
    from tests.factories import ConsentFactory, SponsorFactory

    from .conftest import register, request_admission

    # Two admitted patients: one with a short record, one with a long one.
    small = register(staff_user, first_name="Small")
    services.decision_sign(
        request=request_admission(small, staff_user),
        doctor=doctor_user,
        decision="approved",
        password=PASSWORD,
    )
    ConsentFactory(sponsor=SponsorFactory(patient=small))
    big = register(staff_user, first_name="Big")
    req = request_admission(big, staff_user)
    first = services.decision_sign(
        request=req,
        doctor=doctor_user,
        decision="declined",
        reason="Labs first",
        password=PASSWORD,
    )
    services.decision_sign(
        request=req,
        doctor=doctor_user,
        decision="conditional",
        conditions="Labs",
        review_date=clinic_today() + datetime.timedelta(5),
        password=PASSWORD,
        supersedes=first,
    )
    for _ in range(5):
        ConsentFactory(sponsor=SponsorFactory(patient=big))
    client = client_for(staff_user)
    client.get(reverse("patients:list"))  # the first request also stamps the session
    n = _count(client, reverse("patients:detail", kwargs={"pk": small.pk}))
    with django_assert_num_queries(n):
        client.get(reverse("patients:detail", kwargs={"pk": big.pk}))
