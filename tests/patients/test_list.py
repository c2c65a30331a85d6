import re

import pytest
from django.urls import reverse

from patients.models import Patient
from tests.factories import (
    AdmittedPatientFactory,
    PatientFactory,
    TrackFactory,
    doctor,
    staff,
)


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


def _search(client, **params):
    """POST a search (issue 8: never in the query string); returns the list URL
    carrying only the session key."""
    response = client.post(reverse("patients:list"), params)
    assert response.status_code == 302
    url = response["Location"]
    assert re.fullmatch(r"/patients/\?s=[A-Za-z0-9_-]+", url), url
    return url


def _query_count(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    "params, page",
    [
        ({}, None),
        ({"q": "Last0", "status": "referred", "sort": "-name"}, None),
        ({"sort": "name"}, "2"),
    ],
)
def test_patient_list_costs_the_same_for_5_and_200_patients(
    client_for, staff_user, django_assert_num_queries, params, page
):
    counselor, doc, track = staff(), doctor(), TrackFactory()
    client = client_for(staff_user)
    _make(5, counselor, doc, track)
    url = _search(client, **params) if params else reverse("patients:list")
    if page:
        url += f"&page={page}"
    small = _query_count(client, url)
    _make(195, counselor, doc, track)
    with django_assert_num_queries(small):
        response = client.get(url)
    assert response.status_code == 200


def test_live_search_costs_the_same_for_5_and_200_patients(
    client_for, staff_user, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counselor, doc, track = staff(), doctor(), TrackFactory()
    client = client_for(staff_user)
    _make(5, counselor, doc, track)

    def post():
        return client.post(
            reverse("patients:list"), {"q": "Last"}, HTTP_HX_REQUEST="true"
        )

    post()  # the first request also stamps the session
    with CaptureQueriesContext(connection) as ctx:
        assert post().status_code == 200
    _make(195, counselor, doc, track)
    with django_assert_num_queries(len(ctx.captured_queries)):
        assert post().status_code == 200


def test_list_searches_name_record_number_and_phone(client_for, staff_user):
    a = PatientFactory(first_name="Avery", last_name="Stone", phone="(555) 444-1212")
    b = PatientFactory(first_name="Blake", last_name="Rivers", phone="(555) 201-0000")
    client = client_for(staff_user)

    def names(q):
        page = client.get(_search(client, q=q)).context["page"]
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
        page = client.get(_search(client, **params)).context["page"]
        return [p.pk for p in page.object_list]

    assert pks(counselor=counselor.pk) == [a.pk]
    assert pks(doctor=doc.pk) == [b.pk]
    assert pks(track=morning.pk) == [b.pk]
    assert pks(status="awaiting_approval") == [c.pk]
    assert pks(sort="-name") == [c.pk, b.pk, a.pk]
    # Nonsense filter values are ignored, never a 500.
    assert pks(status="nope", counselor="x", sort="drop table") == [a.pk, b.pk, c.pk]
    assert pks(q="nul\x00byte") == []


def test_list_paginates(client_for, staff_user):
    for i in range(30):
        PatientFactory(last_name=f"Name{i:02d}")
    client = client_for(staff_user)
    first = client.get(reverse("patients:list"))
    assert len(first.context["page"].object_list) == 25
    second = client.get(reverse("patients:list"), {"page": 2})
    assert len(second.context["page"].object_list) == 5
    assert "Page 2 of 2" in second.content.decode()


def _hrefs(html):
    return re.findall(r'(?:href|hx-get|hx-post|action)="([^"]*)"', html)


def test_search_puts_no_patient_data_in_any_url_and_pages_keep_the_filter(
    client_for, staff_user
):
    for i in range(30):
        PatientFactory(first_name="Zelda", last_name=f"Quist{i:02d}")
    PatientFactory(first_name="Other", last_name="Person")
    client = client_for(staff_user)
    url = _search(client, q="Zelda Quist", sort="-name")
    assert "Zelda" not in url and "Quist" not in url and "q=" not in url
    first = client.get(url)
    html = first.content.decode()
    # The form shows the search back, but no link carries it.
    assert 'value="Zelda Quist"' in html
    assert first.context["page"].paginator.count == 30
    links = _hrefs(html)
    assert links
    for link in links:
        assert "q=" not in link and "Zelda" not in link and "Quist" not in link
    key = url.split("s=")[1]
    assert f'href="?s={key}&amp;page=2"' in html
    # The pagination link keeps the search; so does going back to page 1.
    second = client.get(f"{url}&page=2")
    assert second.context["page"].number == 2
    assert second.context["page"].paginator.count == 30
    assert [p.last_name for p in second.context["page"].object_list] == [
        "Quist04",
        "Quist03",
        "Quist02",
        "Quist01",
        "Quist00",
    ]
    assert f'href="?s={key}&amp;page=1"' in second.content.decode()
    back = client.get(url)
    assert back.context["page"].paginator.count == 30
    # A GET with the search text in the query string is not a search.
    assert client.get("/patients/?q=Zelda").context["page"].paginator.count == 31


def test_htmx_search_returns_only_the_results(client_for, staff_user):
    for i in range(30):
        PatientFactory(last_name=f"Stone{i:02d}")
    PatientFactory(last_name="Rivers")
    response = client_for(staff_user).post(
        reverse("patients:list"), {"q": "Stone"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Stone00" in html and "Rivers" not in html and "<html" not in html
    assert "HX-Request" in response["Vary"]
    pushed = response["HX-Push-Url"]
    assert re.fullmatch(r"/patients/\?s=[A-Za-z0-9_-]+", pushed), pushed
    key = pushed.split("s=")[1]
    links = _hrefs(html)
    assert f"?s={key}&amp;page=2" in links
    for link in links:
        assert "q=" not in link and "Stone" not in link


def test_search_needs_the_csrf_token(staff_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(staff_user)
    assert client.post(reverse("patients:list"), {"q": "x"}).status_code == 403


def test_unknown_search_key_shows_everyone_with_a_message(client_for, staff_user):
    PatientFactory(last_name="Stone")
    PatientFactory(last_name="Rivers")
    response = client_for(staff_user).get(reverse("patients:list"), {"s": "nope"})
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 2
    assert "That search has expired" in response.content.decode()
    plain = client_for(staff_user).get(reverse("patients:list"))
    assert "That search has expired" not in plain.content.decode()


def test_session_keeps_at_most_20_searches(client_for, staff_user):
    from patients.views import SEARCHES_KEY

    client = client_for(staff_user)
    urls = [_search(client, q=f"term{i}") for i in range(25)]
    kept = client.session[SEARCHES_KEY]
    assert len(kept) == 20
    assert urls[-1].split("s=")[1] in kept and urls[0].split("s=")[1] not in kept
    old = client.get(urls[0])
    assert "That search has expired" in old.content.decode()


def test_listing_patients_leaves_one_audit_row(client_for, doctor_user):
    from core.models import AuditEvent

    PatientFactory()
    client = client_for(doctor_user)
    client.get(_search(client, q="Secret Name"))
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


def test_approval_queue_pages_twenty_oldest_first_with_the_count(
    client_for, doctor_user, staff_user
):
    from .conftest import register, request_admission

    for i in range(25):
        p = register(staff_user, first_name=f"Wait{i:02d}", last_name="Queue")
        request_admission(p, staff_user)
    client = client_for(doctor_user)
    first = client.get(reverse("patients:approvals")).content.decode()
    assert "25 pending, oldest first; page 1 of 2" in first
    assert first.count("Review Wait") == 20
    assert first.index("Wait00 Queue") < first.index("Wait19 Queue")
    assert "Wait20" not in first
    assert 'href="?page=2"' in first
    second = client.get(reverse("patients:approvals"), {"page": 2}).content.decode()
    assert second.count("Review Wait") == 5
    assert "Wait20 Queue" in second and "Wait00" not in second
    assert 'href="?page=1"' in second
    # A page that is not a number gives the first page; one past the end, the last.
    for bad, shown in (("abc", "Wait00"), ("99999", "Wait24"), ("-1", "Wait24")):
        response = client.get(reverse("patients:approvals"), {"page": bad})
        assert response.status_code == 200
        assert shown in response.content.decode()


def test_approval_queue_rows_escape_names_and_mark_the_viewers_requests(
    client_for, doctor_user, staff_user
):
    from .conftest import register, request_admission

    mine = register(staff_user, first_name="<b>Bold</b>", last_name="O'Neil")
    request_admission(
        mine,
        staff_user,
        doctor=doctor_user,
        medical_probation=True,
        medical_probation_details="Liver panel pending",
    )
    anyone = register(staff_user, first_name="Sam", last_name="Any")
    request_admission(anyone, staff_user)
    html = client_for(doctor_user).get(reverse("patients:approvals")).content.decode()
    assert "<b>Bold</b>" not in html and "&lt;b&gt;Bold&lt;/b&gt; O&#x27;Neil" in html
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")
    assert f"{doctor_user} (you)" in rows[0] and '"badge warn">Yes' in rows[0]
    assert "Any doctor" in rows[1] and "<td>No</td>" in rows[1]
    assert (
        f'href="{reverse("patients:decide", args=[mine.admission_requests.get().pk])}"'
        in rows[0]
    )


def test_patient_list_rows_show_badge_preferred_name_and_escape(client_for, staff_user):
    counselor, doc, track = staff(full_name="Casey Counselor"), doctor(), TrackFactory()
    p = AdmittedPatientFactory(
        first_name="<i>Ivy</i>",
        last_name="Stone",
        preferred_name="Ive",
        primary_counselor=counselor,
        attending_doctor=doc,
        track=track,
    )
    PatientFactory(last_name="Zed", status=Patient.Status.AWAITING_APPROVAL)
    html = client_for(staff_user).get(reverse("patients:list")).content.decode()
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")
    assert "<i>Ivy</i>" not in html
    assert (
        f'<a href="{reverse("patients:detail", args=[p.pk])}">Stone, '
        "&lt;i&gt;Ivy&lt;/i&gt;</a>" in rows[0]
    )
    assert '<span class="muted small">(Ive)</span>' in rows[0]
    assert '<span class="badge ok">Admitted</span>' in rows[0]
    assert "Casey Counselor" in rows[0] and track.name in rows[0]
    assert '<span class="badge warn">Awaiting approval</span>' in rows[1]
    assert rows[1].count("<td>—</td>") == 3  # no track, counselor or doctor


def test_patient_list_filter_keeps_the_chosen_counselor_selected(
    client_for, staff_user
):
    chosen, other = staff(full_name="Chosen One"), staff(full_name="Other Two")
    PatientFactory(last_name="Mine", primary_counselor=chosen)
    PatientFactory(last_name="Theirs", primary_counselor=other)
    client = client_for(staff_user)
    url = _search(client, counselor=chosen.pk)
    response = client.get(url)
    html = response.content.decode()
    assert f'<option value="{chosen.pk}" selected>Chosen One</option>' in html
    assert f'<option value="{other.pk}">Other Two</option>' in html
    assert '<option value="">Any counselor</option>' in html
    assert [p.last_name for p in response.context["page"].object_list] == ["Mine"]


@pytest.mark.django_db
def test_filter_choices_agree_with_the_orm():
    """patients.selectors.FILTER_CHOICES_SQL is a plain-SQL copy of this ORM
    read: the active staff and doctors by name (someone in both groups in both
    lists), and the active tracks by name."""
    from django.contrib.auth.models import Group

    from accounts import roles
    from accounts.models import User
    from patients.models import Track
    from patients.selectors import filter_choices
    from tests.factories import UserFactory

    staff(full_name="Zoe Ames")
    staff(full_name="Al Berg")
    staff(full_name="Al Berg")  # same name: by id
    staff(full_name="Gone Away", is_active=False)
    doctor(full_name="Dr Both").groups.add(Group.objects.get(name=roles.STAFF))
    doctor(full_name="Ann Cole")
    UserFactory(role=roles.ADMIN, full_name="Not Listed")
    TrackFactory(name="Morning IOP")
    TrackFactory(name="Evening IOP")
    Track.objects.create(name="Old track", active=False)

    def people(role):
        return [
            (u.pk, u.full_name)
            for u in User.objects.filter(groups__name=role, is_active=True).order_by(
                "full_name", "id"
            )
        ]

    assert filter_choices() == {
        "counselors": people(roles.STAFF),
        "doctors": people(roles.DOCTOR),
        "tracks": [
            (t.pk, t.name) for t in Track.objects.filter(active=True).order_by("name")
        ],
    }
    assert [name for _, name in filter_choices()["counselors"]] == [
        "Al Berg",
        "Al Berg",
        "Dr Both",
        "Zoe Ames",
    ]
