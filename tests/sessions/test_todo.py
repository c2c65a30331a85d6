"""The staff to-do of ended sessions with patients still unmarked (the dashboard's
first few, the full paginated list), the flag behind it, and today's sessions on the
staff dashboard."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.timeutil import make_local
from sessions.models import Attendance, Participant
from tests.factories import (
    AdmittedPatientFactory,
    RoomFactory,
    SessionFactory,
    enrol,
    mark,
    past_session,
)

from .reference import unmarked_sessions

pytestmark = pytest.mark.django_db


def _marked(session, patient):
    return Participant.objects.get(session=session, patient=patient).marked


def _todo(html):
    return html.split('id="unmarked-sessions"')[1].split("</section>")[0]


def test_participant_marked_follows_attendance_however_it_is_written():
    session = past_session(hours_ago=5)
    a, b, c = (AdmittedPatientFactory() for _ in range(3))
    enrol(session, a, b, c)
    assert not _marked(session, a)
    mark(session, a, "present")
    assert _marked(session, a) and not _marked(session, b)
    # Several rows in one statement.
    Attendance.objects.bulk_create(
        [
            Attendance(
                session=session,
                patient=p,
                status="unexcused",
                minutes=0,
                recorded_by=session.created_by,
            )
            for p in (b, c)
        ]
    )
    assert _marked(session, b) and _marked(session, c)
    # A mark removed: the patient is unmarked again; a correction changes nothing.
    Attendance.objects.filter(session=session, patient=b).delete()
    assert not _marked(session, b)
    Attendance.objects.filter(session=session, patient=c).update(status="excused")
    assert _marked(session, c)
    # Removed from the session and added back: the existing mark still counts, and
    # no code can set the flag by hand.
    Participant.objects.filter(session=session, patient=a).delete()
    enrol(session, a)
    assert _marked(session, a)
    Participant.objects.filter(session=session, patient=b).update(marked=True)
    assert not _marked(session, b)
    assert [(s.pk, s.unmarked_count, s.total) for s in unmarked_sessions()] == [
        (session.pk, 1, 1)
    ]


def test_dashboard_counts_every_session_to_mark_and_links_to_all_of_them(
    client_for, staff_user
):
    # 12 ended sessions with someone unmarked; the oldest is long past the
    # correction window (a first mark is still allowed then).
    sessions = [
        past_session(hours_ago=5 + 24 * i, title=f"Group {i:02d}") for i in range(11)
    ]
    sessions.append(past_session(hours_ago=24 * 60, title="Old group"))
    for s in sessions:
        enrol(s, AdmittedPatientFactory())
    done = past_session(hours_ago=3, title="All marked")
    mark(done, AdmittedPatientFactory())
    html = client_for(staff_user).get(reverse("core:staff_dashboard")).content.decode()
    todo = _todo(html)
    assert "12 ended sessions with patients not yet marked" in todo
    assert "the 10 most recent below" in todo
    assert todo.count("1 unmarked") == 10
    assert "Group 00" in todo and "Group 09" in todo
    assert "Group 10" not in todo and "Old group" not in todo
    assert "All marked" not in todo
    link = reverse("therapy_sessions:unmarked_sessions")
    assert (
        f'href="{link}"' in todo and "All 12 sessions with attendance to take" in todo
    )


def test_unmarked_list_pages_every_session_most_recent_first(
    client_for, staff_user, monkeypatch
):
    from sessions.views import attendance as views

    monkeypatch.setattr(views, "UNMARKED_PAGE_SIZE", 5)
    titles = [f"Group {i:02d}" for i in range(7)]
    for i, title in enumerate(titles):
        s = past_session(hours_ago=5 + 24 * 20 * i, title=title)
        enrol(s, *(AdmittedPatientFactory() for _ in range(i % 2 + 1)))
    client = client_for(staff_user)
    url = reverse("therapy_sessions:unmarked_sessions")
    first = client.get(url).content.decode()
    assert "7 sessions" in first and "page 1 of 2" in first
    assert [t for t in titles if t in first] == titles[:5]
    assert first.index("Group 00") < first.index("Group 04")
    assert "2 unmarked" in first and 'href="?page=2"' in first
    second = client.get(url, {"page": 2}).content.decode()
    assert [t for t in titles if t in second] == titles[5:]
    for bad, shown in (("abc", "Group 00"), ("99999", "Group 06")):
        response = client.get(url, {"page": bad})
        assert response.status_code == 200 and shown in response.content.decode()


def test_unmarked_list_says_so_when_everything_is_marked(client_for, staff_user):
    s = past_session(hours_ago=5)
    mark(s, AdmittedPatientFactory())
    html = (
        client_for(staff_user)
        .get(reverse("therapy_sessions:unmarked_sessions"))
        .content.decode()
    )
    assert "0 sessions" in html and "Every ended session has its attendance" in html


def test_unmarked_list_costs_the_same_queries_for_few_and_many_sessions(
    client_for, staff_user
):
    client = client_for(staff_user)
    url = reverse("therapy_sessions:unmarked_sessions")
    counts = []
    for n in (2, 30):
        for i in range(n):
            enrol(
                past_session(hours_ago=5 + 4 * (i + 100 * n)), AdmittedPatientFactory()
            )
        client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            client.get(url)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts


def test_dashboard_lists_the_next_sessions_today_and_links_to_the_agenda(
    client_for, staff_user
):
    day = datetime.date(2027, 3, 10)  # a Wednesday
    room = RoomFactory()
    with time_machine.travel(make_local(day, datetime.time(12, 30)), tick=False):

        def at(hour, minute=0, **kw):
            start = make_local(day, datetime.time(hour, minute))
            return SessionFactory(
                start=start, end=start + datetime.timedelta(minutes=20), room=room, **kw
            )

        at(9, title="Morning done")
        running = at(12, 20, title="Running now")
        enrol(running, AdmittedPatientFactory(), AdmittedPatientFactory())
        for i in range(11):
            at(13 + i // 2, 30 * (i % 2), title=f"Later {i:02d}")
        cancelled = at(20, 30, title="Called off")
        cancelled.status, cancelled.cancel_reason = "cancelled", "Facilitator ill"
        cancelled.save()
        html = client_for(staff_user).get(reverse("core:staff_dashboard")).content
    today = html.decode().split('id="today-h"')[1].split("</section>")[0]
    assert "13 sessions today, 12 not ended yet; the next 10 below" in today
    assert "Morning done" not in today and "Called off" not in today
    assert "Running now" in today and "2 patients" in today
    assert "Later 08" in today and "Later 09" not in today
    assert (
        today.index("Running now") < today.index("Later 00") < today.index("Later 08")
    )
    assert f'href="{reverse("therapy_sessions:agenda")}"' in today
    assert "all 13 sessions" in today


def test_dashboard_says_when_todays_sessions_have_all_ended(client_for, staff_user):
    day = datetime.date(2027, 3, 10)
    with time_machine.travel(make_local(day, datetime.time(22)), tick=False):
        start = make_local(day, datetime.time(9))
        SessionFactory(start=start, end=start + datetime.timedelta(hours=3))
        html = client_for(staff_user).get(reverse("core:staff_dashboard")).content
    today = html.decode().split('id="today-h"')[1].split("</section>")[0]
    assert "1 session today, 0 not ended yet" in today
    assert "Today's sessions have all ended" in today


def test_dashboard_costs_the_same_queries_on_a_quiet_and_a_busy_day(
    client_for, staff_user
):
    day = datetime.date(2027, 3, 10)
    client = client_for(staff_user)
    counts = []
    with time_machine.travel(make_local(day, datetime.time(7)), tick=False):
        for n in (1, 14):
            for i in range(n):
                start = make_local(day, datetime.time(8 + i % 12, 5 * (n % 6)))
                s = SessionFactory(
                    start=start, end=start + datetime.timedelta(minutes=4)
                )
                enrol(s, AdmittedPatientFactory())
                enrol(past_session(hours_ago=3 + i + 50 * n), AdmittedPatientFactory())
            client.get(reverse("core:staff_dashboard"))
            with CaptureQueriesContext(connection) as ctx:
                client.get(reverse("core:staff_dashboard"))
            counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
