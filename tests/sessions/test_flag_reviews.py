"""A doctor marks a patient's attendance-rule flag reviewed: the patient leaves
the flagged lists until a new unexcused absence follows the review."""

import datetime
import html
import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.models import AuditEvent
from sessions.models import FlagReview
from sessions.selectors.attendance import (
    flagged_page,
    flagged_patients,
    patient_flag_state,
)
from sessions.services.attendance import attendance_record
from sessions.services.flags import flag_review_record
from tests.factories import AdmittedPatientFactory, mark, past_session

pytestmark = pytest.mark.django_db


def marked_at_the_end(session, patient, status):
    """A mark recorded as the session ended (before any later review)."""
    return mark(session, patient, status, recorded_at=session.end)


def flagged(patient, hours_ago=48):
    """Two no-shows in a row (the default rule), the latest `hours_ago`, each
    recorded as its session ended."""
    marked_at_the_end(past_session(hours_ago=hours_ago + 24), patient, "unexcused")
    marked_at_the_end(past_session(hours_ago=hours_ago), patient, "unexcused")
    return patient


def review(patient, doctor, note="Called the patient; back next week."):
    return flag_review_record(patient=patient, doctor=doctor, note=note)


def review_earlier(monkeypatch, patient, doctor, hours_ago):
    """A review made `hours_ago` hours ago."""
    then = timezone.now() - datetime.timedelta(hours=hours_ago)
    with monkeypatch.context() as m:
        m.setattr(timezone, "now", lambda: then)
        return review(patient, doctor)


# --- the service -----------------------------------------------------------------


def test_a_review_stores_who_when_the_reasons_and_the_note_with_an_audit_row(
    doctor_user,
):
    p = flagged(AdmittedPatientFactory())
    done = review(p, doctor_user, note="  Spoke with her; transport problem.  ")
    done.refresh_from_db()
    assert done.reviewed_by == doctor_user
    assert done.reasons == ["2 no-shows in a row"]
    assert done.note == "Spoke with her; transport problem."
    event = AuditEvent.objects.get(model="therapy_sessions.FlagReview")
    assert event.user == doctor_user
    assert event.patient == p
    assert event.action == AuditEvent.Action.CREATE
    assert event.object_id == str(done.pk)


@pytest.mark.parametrize("role", ["staff_user", "admin_user", "sponsor_user"])
def test_only_a_doctor_may_review_a_flag(role, request):
    p = flagged(AdmittedPatientFactory())
    with pytest.raises(PermissionDenied):
        review(p, request.getfixturevalue(role))
    assert not FlagReview.objects.exists()


@pytest.mark.parametrize("note", ["", "   "])
def test_a_review_needs_a_note(doctor_user, note):
    p = flagged(AdmittedPatientFactory())
    with pytest.raises(ValidationError):
        review(p, doctor_user, note=note)
    assert not FlagReview.objects.exists()


def test_a_patient_without_a_flag_cannot_be_reviewed(doctor_user):
    p = AdmittedPatientFactory()
    mark(past_session(hours_ago=24), p, "unexcused")  # one no-show only
    with pytest.raises(ValidationError, match="not flagged"):
        review(p, doctor_user)


def test_a_flag_under_a_standing_review_is_not_reviewed_twice(doctor_user):
    p = flagged(AdmittedPatientFactory())
    review(p, doctor_user)
    with pytest.raises(ValidationError, match="already reviewed"):
        review(p, doctor_user)
    assert FlagReview.objects.count() == 1


def test_reviews_cannot_be_changed_or_deleted(doctor_user):
    done = review(flagged(AdmittedPatientFactory()), doctor_user)
    with pytest.raises(DatabaseError), transaction.atomic():
        FlagReview.objects.filter(pk=done.pk).update(note="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        FlagReview.objects.filter(pk=done.pk).delete()


# --- the flagged lists -----------------------------------------------------------


def test_a_reviewed_patient_leaves_the_flagged_lists(doctor_user):
    p = flagged(AdmittedPatientFactory(attending_doctor=doctor_user))
    other = flagged(AdmittedPatientFactory(attending_doctor=doctor_user))
    review(p, doctor_user)
    assert [r["patient"] for r in flagged_patients()] == [other]
    assert flagged_page(doctor=doctor_user)["count"] == 1
    shown = flagged_page(include_reviewed=True)
    rows = {r["patient"]: r for r in shown["rows"]}
    assert shown["count"] == 2
    assert rows[p]["review"].note == "Called the patient; back next week."
    assert rows[other]["review"] is None
    # the rule reasons stay, with the review
    state = patient_flag_state(patient=p)
    assert state["reasons"] == ["2 no-shows in a row"]
    assert state["review"]["standing"] is True
    assert state["review"]["doctor"] == "Dora Doctor"


def test_a_new_no_show_after_the_review_brings_the_flag_back(doctor_user, monkeypatch):
    p = flagged(AdmittedPatientFactory(), hours_ago=72)
    review_earlier(monkeypatch, p, doctor_user, hours_ago=60)
    assert flagged_patients() == []
    # attendance that is not a no-show keeps the review standing
    mark(past_session(hours_ago=48, minutes=60), p, "present")
    assert flagged_patients() == []
    assert patient_flag_state(patient=p)["reasons"] == []  # the run is broken
    # one new no-show after the review: three unexcused absences in 30 days
    mark(past_session(hours_ago=36, minutes=60), p, "unexcused")
    assert [r["patient"] for r in flagged_patients()] == [p]
    state = patient_flag_state(patient=p)
    assert state["reasons"] == ["3 unexcused absences in the last 30 days"]
    assert state["review"]["standing"] is False
    # and it can be reviewed again
    review(p, doctor_user, note="Second talk.")
    assert flagged_patients() == []
    assert FlagReview.objects.filter(patient=p).count() == 2


def test_a_no_show_recorded_late_for_an_earlier_session_brings_the_flag_back(
    doctor_user, monkeypatch
):
    # no-shows 96 and 72 hours ago, reviewed 60 hours ago
    p = flagged(AdmittedPatientFactory(attending_doctor=doctor_user), hours_ago=72)
    review_earlier(monkeypatch, p, doctor_user, hours_ago=60)
    assert flagged_patients() == []
    # a session 84 hours ago, marked only now: the doctor did not see this no-show
    mark(past_session(hours_ago=84), p, "unexcused")
    assert [r["patient"] for r in flagged_patients()] == [p]
    assert flagged_page(doctor=doctor_user)["count"] == 1
    state = patient_flag_state(patient=p)
    assert state["reasons"] == [
        "3 unexcused absences in the last 30 days",
        "3 no-shows in a row",
    ]
    assert state["review"]["standing"] is False


def test_a_mark_corrected_to_a_no_show_after_the_review_brings_the_flag_back(
    doctor_user, staff_user, monkeypatch
):
    p = flagged(AdmittedPatientFactory(), hours_ago=72)
    session = past_session(hours_ago=108)  # before the two no-shows
    marked_at_the_end(session, p, "present")
    review_earlier(monkeypatch, p, doctor_user, hours_ago=60)
    assert flagged_patients() == []
    # a correction of a mark the doctor saw as present
    attendance_record(
        session=session,
        patient=p,
        status="unexcused",
        actor=staff_user,
        reason="Signed in by mistake; the patient was not there.",
    )
    assert [r["patient"] for r in flagged_patients()] == [p]
    assert patient_flag_state(patient=p)["review"]["standing"] is False


def test_marks_recorded_before_the_review_keep_it_standing(doctor_user, monkeypatch):
    # a third no-show for an earlier session, but recorded before the review
    p = flagged(AdmittedPatientFactory(), hours_ago=72)
    marked_at_the_end(past_session(hours_ago=120), p, "unexcused")
    review_earlier(monkeypatch, p, doctor_user, hours_ago=60)
    assert flagged_patients() == []
    assert patient_flag_state(patient=p)["review"]["standing"] is True


# --- the views -------------------------------------------------------------------


@pytest.mark.parametrize(
    "role,expected",
    {None: 302, "sponsor": 403, "staff": 403, "admin": 403, "doctor": 302}.items(),
)
def test_flag_review_post_by_role(client_for, users, role, expected):
    p = flagged(AdmittedPatientFactory())
    response = client_for(users.get(role)).post(
        reverse("therapy_sessions:flag_review", args=[p.pk]), {"note": "Seen."}
    )
    assert response.status_code == expected
    assert FlagReview.objects.exists() is (role == "doctor")


@pytest.mark.parametrize(
    "role,expected",
    {None: 302, "sponsor": 403, "staff": 403, "admin": 403, "doctor": 200}.items(),
)
def test_flag_review_page_by_role(client_for, users, role, expected):
    p = flagged(AdmittedPatientFactory())
    url = reverse("therapy_sessions:flag_review", args=[p.pk])
    assert client_for(users.get(role)).get(url).status_code == expected


def test_doctor_reviews_from_the_patient_page_and_sees_who_reviewed(
    client_for, doctor_user
):
    p = flagged(AdmittedPatientFactory())
    client = client_for(doctor_user)
    detail = reverse("patients:detail", args=[p.pk])
    page = client.get(detail).content.decode()
    hours = page.split('id="hours-flags"')[1].split("</div>")[0]
    assert "Flagged for a doctor's review" in hours
    assert "Mark reviewed" in hours
    response = client.post(
        reverse("therapy_sessions:flag_review", args=[p.pk]),
        {"note": "Family crisis <b>noted</b>.", "next": detail + "#hours"},
    )
    assert response.status_code == 302
    assert response["Location"] == detail + "#hours"
    page = client.get(detail).content.decode()
    hours = page.split('id="hours-flags"')[1].split("</div>")[0]
    assert "2 no-shows in a row" in hours
    assert "Reviewed by Dr. Dora Doctor on" in hours
    assert "Family crisis &lt;b&gt;noted&lt;/b&gt;." in hours
    assert "Mark reviewed" not in hours


def test_the_patient_page_flags_again_after_a_no_show_recorded_late(
    client_for, doctor_user, monkeypatch
):
    p = flagged(AdmittedPatientFactory(), hours_ago=72)
    review_earlier(monkeypatch, p, doctor_user, hours_ago=60)
    client = client_for(doctor_user)
    detail = reverse("patients:detail", args=[p.pk])
    hours = client.get(detail).content.decode().split('id="hours-flags"')[1]
    hours = hours.split("</div>")[0]
    assert "Attendance rules (flag reviewed)" in hours
    assert "Mark reviewed" not in hours
    mark(past_session(hours_ago=84), p, "unexcused")  # entered now
    hours = client.get(detail).content.decode().split('id="hours-flags"')[1]
    hours = hours.split("</div>")[0]
    assert "Flagged for a doctor's review" in hours
    assert "3 unexcused absences in the last 30 days" in hours
    assert "Mark reviewed" in hours


def test_staff_see_the_review_but_no_review_form(client_for, staff_user, doctor_user):
    p = flagged(AdmittedPatientFactory())
    detail = reverse("patients:detail", args=[p.pk])
    page = client_for(staff_user).get(detail).content.decode()
    assert "Mark reviewed" not in page
    review(p, doctor_user)
    page = client_for(staff_user).get(detail).content.decode()
    assert "Reviewed by Dr. Dora Doctor" in page


def test_a_review_without_a_note_is_refused_with_a_message(client_for, doctor_user):
    p = flagged(AdmittedPatientFactory())
    response = client_for(doctor_user).post(
        reverse("therapy_sessions:flag_review", args=[p.pk]), {"note": "  "}
    )
    assert response.status_code == 400
    assert "errorlist" in response.content.decode()
    assert not FlagReview.objects.exists()


def test_a_review_goes_back_only_to_a_page_of_this_site(client_for, doctor_user):
    p = flagged(AdmittedPatientFactory())
    response = client_for(doctor_user).post(
        reverse("therapy_sessions:flag_review", args=[p.pk]),
        {"note": "Seen.", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("patients:detail", args=[p.pk]) + "#hours"


def test_compliance_page_hides_reviewed_flags_and_shows_them_on_request(
    client_for, doctor_user
):
    reviewed = flagged(AdmittedPatientFactory(last_name="Reviewed"))
    flagged(AdmittedPatientFactory(last_name="Waiting"))
    review(reviewed, doctor_user, note="Work schedule; ok.")
    client = client_for(doctor_user)
    url = reverse("therapy_sessions:compliance")
    body = client.get(url).content.decode()
    table = body.split('id="flagged"')[1].split("</section>")[0]
    assert "1 patient flagged and not yet reviewed" in table
    assert "Waiting" in table and "Reviewed" not in table.split("<table")[1]
    assert "Mark reviewed" in table
    assert "show reviewed flags too" in table
    body = client.get(url, {"reviewed": "1"}).content.decode()
    table = body.split('id="flagged"')[1].split("</section>")[0]
    assert "2 patients flagged (reviewed flags included)" in table
    assert "Work schedule; ok." in table


def test_compliance_and_dashboard_query_counts_do_not_change_with_reviews(
    client_for, doctor_user
):
    client = client_for(doctor_user)
    patients = [
        flagged(AdmittedPatientFactory(attending_doctor=doctor_user), 48 + 72 * i)
        for i in range(4)
    ]
    pages = [
        reverse("therapy_sessions:compliance"),
        reverse("therapy_sessions:compliance") + "?reviewed=1",
        reverse("core:doctor_dashboard"),
        reverse("patients:detail", args=[patients[0].pk]),
    ]

    def counts():
        out = []
        for url in pages:
            client.get(url)
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(url).status_code == 200
            out.append(len(ctx.captured_queries))
        return out

    before = counts()
    for p in patients[:3]:
        review(p, doctor_user)
    assert counts() == before
    body = client.get(reverse("core:doctor_dashboard")).content.decode()
    assert "Flagged for your review (1)" in body


def test_the_dashboard_count_comes_back_with_a_new_no_show(
    client_for, doctor_user, monkeypatch
):
    p = flagged(AdmittedPatientFactory(attending_doctor=doctor_user), hours_ago=72)
    review_earlier(monkeypatch, p, doctor_user, hours_ago=60)
    client = client_for(doctor_user)
    body = client.get(reverse("core:doctor_dashboard")).content.decode()
    assert "Flagged for your review (0)" in body
    mark(past_session(hours_ago=24), p, "unexcused")
    body = client.get(reverse("core:doctor_dashboard")).content.decode()
    assert "Flagged for your review (1)" in body


def test_mark_reviewed_from_the_compliance_list_comes_back_to_it(
    client_for, doctor_user
):
    p = flagged(AdmittedPatientFactory())
    client = client_for(doctor_user)
    compliance = reverse("therapy_sessions:compliance") + "?flag_sort=urgency"
    body = client.get(compliance).content.decode()
    link = html.unescape(re.search(r'href="([^"]*flag-review[^"]*)"', body)[1])
    page = client.get(link)
    assert page.status_code == 200
    text = page.content.decode()
    assert "2 no-shows in a row" in text and "Review note" in text
    back = html.unescape(re.search(r'name="next" value="([^"]*)"', text)[1])
    assert back == compliance + "#flagged"
    response = client.post(link, {"note": "Seen in clinic.", "next": back})
    assert response["Location"] == compliance + "#flagged"
    assert FlagReview.objects.get().patient == p
    assert (
        "No flagged patient is awaiting review"
        in client.get(compliance).content.decode()
    )


def test_the_review_page_of_an_unflagged_patient_has_nothing_to_review(
    client_for, doctor_user
):
    p = AdmittedPatientFactory()
    url = reverse("therapy_sessions:flag_review", args=[p.pk])
    body = client_for(doctor_user).get(url).content.decode()
    assert "there is nothing to review" in body
    assert "Mark reviewed" not in body
