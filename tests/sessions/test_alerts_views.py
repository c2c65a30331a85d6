"""The staff alerts page and its retry button."""

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.sessions.helpers import make_alert

pytestmark = pytest.mark.django_db

URL = "/alerts/"


def test_url_name_is_alerts():
    assert reverse("therapy_sessions:alerts") == URL


@pytest.mark.parametrize(
    ("role", "status"),
    [("staff", 200), ("admin", 200), ("doctor", 403), ("sponsor", 403)],
)
def test_alerts_page_roles(client_for, users, role, status):
    assert client_for(users[role]).get(URL).status_code == status


def test_anonymous_is_sent_to_login(client_for):
    response = client_for(None).get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("role", "status"),
    [("staff", 302), ("admin", 302), ("doctor", 403), ("sponsor", 403)],
)
def test_retry_roles(client_for, users, role, status):
    alert = make_alert("failed", last_error="451 try later", attempts=6)
    response = client_for(users[role]).post(f"/alerts/{alert.pk}/retry/")
    assert response.status_code == status
    alert.refresh_from_db()
    assert alert.state == ("pending" if status == 302 else "failed")


def test_retry_anonymous_goes_to_login_and_changes_nothing(client_for):
    alert = make_alert("failed", last_error="boom")
    response = client_for(None).post(f"/alerts/{alert.pk}/retry/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    alert.refresh_from_db()
    assert alert.state == "failed"


def test_retry_is_post_only(client_for, staff_user):
    alert = make_alert("failed", last_error="boom")
    assert client_for(staff_user).get(f"/alerts/{alert.pk}/retry/").status_code == 405


def test_failed_alerts_come_first_with_their_error_and_a_retry_button(
    client_for, staff_user
):
    sent = make_alert("sent")
    failed = make_alert(
        "failed", last_error="SMTPDataError: 451 mailbox busy", attempts=6
    )
    pending = make_alert("pending")
    response = client_for(staff_user).get(URL)
    page = list(response.context["page"].object_list)
    assert [a.pk for a in page] == [failed.pk, pending.pk, sent.pk]
    html = response.content.decode()
    assert "SMTPDataError: 451 mailbox busy" in html
    assert html.count(">Retry</button>") == 1
    assert f"/alerts/{failed.pk}/retry/" in html


def test_retry_of_an_alert_that_did_not_fail_shows_a_message(client_for, staff_user):
    alert = make_alert("sent")
    response = client_for(staff_user).post(f"/alerts/{alert.pk}/retry/", follow=True)
    assert response.status_code == 200
    assert "Only a failed alert can be retried." in response.content.decode()
    alert.refresh_from_db()
    assert alert.state == "sent"


def test_retry_does_not_redirect_off_site(client_for, staff_user):
    alert = make_alert("failed", last_error="boom")
    response = client_for(staff_user).post(
        f"/alerts/{alert.pk}/retry/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == URL


def test_filters_by_state_patient_sponsor_and_date(client_for, staff_user):
    a = make_alert("failed", sponsor_name="Wilhelmina Zed", hours_ago=3)
    b = make_alert("sent", sponsor_name="Otto Plain", hours_ago=60)
    # Names of our own: random ones can contain each other ("Lee" in "Ashlee").
    for alert, first, last in ((a, "Ada", "Quorvel"), (b, "Bo", "Zindrak")):
        alert.patient.first_name, alert.patient.last_name = first, last
        alert.patient.save(update_fields=["first_name", "last_name"])
    client = client_for(staff_user)

    def shown(**params):
        response = client.post(URL, params, follow=True)
        assert response.status_code == 200
        return {x.pk for x in response.context["page"].object_list}

    assert shown(state="failed") == {a.pk}
    assert shown(sponsor="wilhelmina") == {a.pk}
    assert shown(patient=b.patient.last_name) == {b.pk}
    assert shown(patient=a.patient.record_number) == {a.pk}
    day_b = timezone.localtime(b.session.start).date()
    assert shown(date_from=day_b, date_to=day_b) == {b.pk}
    assert shown(kind="reminder") == set()


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "not-a-date"},
        {"date_from": "2026-05-02", "date_to": "2026-05-01"},
        {"state": "exploded"},
        {"page": "999"},
        {"patient": "x" * 500},
    ],
)
def test_bad_filters_give_a_message_not_a_500(client_for, staff_user, params):
    make_alert("failed", last_error="boom")
    client = client_for(staff_user)
    if "page" in params:
        response = client.get(URL, params)
    else:
        response = client.post(URL, params, follow=True)
        assert response.context["form"].errors
    assert response.status_code == 200


def test_a_name_search_is_posted_and_never_in_a_url(client_for, staff_user):
    a = make_alert("failed", sponsor_name="Wilhelmina Zed")
    b = make_alert("sent", sponsor_name="Otto Plain")
    client = client_for(staff_user)
    response = client.post(URL, {"patient": a.patient.last_name})
    assert response.status_code == 302
    location = response["Location"]
    assert a.patient.last_name.lower() not in location.lower()
    assert location.startswith(f"{URL}?s=")
    page = client.get(location)
    assert {x.pk for x in page.context["page"].object_list} == {a.pk}
    # A name in the query string is not a filter (it would sit in logs and history).
    ignored = client.get(URL, {"sponsor": "wilhelmina"})
    assert {x.pk for x in ignored.context["page"].object_list} == {a.pk, b.pk}


def test_an_unknown_search_key_shows_every_alert_with_a_message(client_for, staff_user):
    make_alert("failed", last_error="boom")
    response = client_for(staff_user).get(URL, {"s": "nope"})
    assert response.status_code == 200
    assert "That search has expired" in response.content.decode()
    assert len(response.context["page"].object_list) == 1


def test_htmx_request_gets_the_results_fragment(client_for, staff_user):
    make_alert("failed", last_error="boom")
    response = client_for(staff_user).get(URL, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<table" in html and "<html" not in html
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("n", [3, 25])
def test_alerts_page_costs_a_fixed_number_of_queries(
    client_for, staff_user, django_assert_num_queries, n
):
    for i in range(n):
        make_alert(["failed", "sent", "pending"][i % 3], last_error="x")
    client = client_for(staff_user)
    client.get(URL)  # warm the session and role caches
    # session, user, groups (role), count, page, state counts
    with django_assert_num_queries(6):
        response = client.get(URL)
    assert len(response.context["page"].object_list) == n


def test_pagination_keeps_filters(client_for, staff_user):
    for _ in range(3):
        make_alert("failed", last_error="x")
    import sessions.views.alerts as views

    original = views.PAGE_SIZE
    views.PAGE_SIZE = 2
    try:
        html = client_for(staff_user).get(URL, {"state": "failed"}).content.decode()
    finally:
        views.PAGE_SIZE = original
    assert "state=failed&amp;page=2" in html


def test_staff_dashboard_counts_failed_alerts_and_links_to_them(client_for, staff_user):
    make_alert("failed", last_error="boom")
    make_alert("sent")
    html = client_for(staff_user).get("/dashboard/staff/").content.decode()
    assert "1 failed" in html
    assert 'href="/alerts/?state=failed"' in html
