"""The compliance page's and the doctor's dashboard's rows are built in Python
(sessions/templatetags/compliance_rows.py): the same markup as the template
loops they replace, kept here, for rows of every kind."""

import datetime
import re

from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import User
from patients.models import Patient
from sessions.models import FlagReview

BELOW_LOOP = """{% for r in rows %}
      <tr>
        <th scope="row"><a href="{% url 'therapy_sessions:patient_hours' r.patient.pk %}">{{ r.patient.full_name }}</a> <span class="muted small">{{ r.patient.record_number }}</span>{% if r.minor %} <span class="badge">under 18</span>{% endif %}</th>
        <td>{{ r.track|default:"—" }}</td>
        <td>{{ r.counselor|default:"—" }}</td>
        <td>{{ r.last_week_hours }} / {{ r.last_week_target_hours }} h {% if r.last_week_below %}<span class="badge bad">below</span>{% if r.admitted_last_week %} <span class="muted small">admitted {{ r.patient.admitted_on|date:"M j" }}</span>{% endif %}{% else %}<span class="badge ok">met</span>{% endif %}</td>
        <td>{{ r.this_week_hours }} / {{ r.this_week_target_hours }} h</td>
        <td>{{ r.this_week_remaining_hours }} h {% if r.this_week_below %}<span class="badge warn">cannot reach target</span>{% else %}<span class="badge ok">on track</span>{% endif %}</td>
      </tr>
    {% endfor %}"""  # noqa: E501

FLAGGED_LOOP = """{% for f in rows %}
      <tr>
        <th scope="row"><a href="{% url 'therapy_sessions:patient_hours' f.patient.pk %}">{{ f.patient.full_name }}</a> <span class="muted small">{{ f.patient.record_number }}</span></th>
        <td>{{ f.doctor|default:"—" }}</td>
        <td>{% for reason in f.reasons %}<span class="badge bad">{{ reason }}</span> {% endfor %}</td>
        <td>{% if f.review %}<span class="badge ok">reviewed</span> <span class="small">Dr. {{ f.review.reviewed_by.full_name }}, {{ f.review.reviewed_at|date:"M j, Y" }}: {{ f.review.note }}</span>{% elif can_review_flags %}<a href="{% url 'therapy_sessions:flag_review' f.patient.pk %}?next={{ request.get_full_path|urlencode }}%23flagged">Mark reviewed</a>{% else %}<span class="muted">not yet reviewed</span>{% endif %}</td>
      </tr>
    {% endfor %}"""  # noqa: E501

DASHBOARD_FLAGGED = """{% for f in rows %}<li><a href="{% url 'therapy_sessions:patient_hours' f.patient.pk %}">{{ f.patient.full_name }}</a> ({{ f.patient.record_number }}) · {% for r in f.reasons %}<span class="badge bad">{{ r }}</span> {% endfor %}</li>{% endfor %}"""  # noqa: E501

DASHBOARD_BELOW = """{% for r in rows %}<li><a href="{% url 'therapy_sessions:patient_hours' r.patient.pk %}">{{ r.patient.full_name }}</a> ({{ r.patient.record_number }}) · last week {{ r.last_week_hours }} of {{ r.last_week_target_hours }} h{% if r.last_week_below %} <span class="badge bad">below</span>{% endif %} · this week {{ r.this_week_hours }} h so far, {{ r.this_week_remaining_hours }} h still scheduled{% if r.this_week_below %} <span class="badge warn">cannot reach target</span>{% endif %}</li>{% endfor %}"""  # noqa: E501


def squeeze(html):
    return re.sub(r">\s+<", "><", str(html)).strip()


def patient(pk, first, last, **kw):
    return Patient(
        pk=pk,
        first_name=first,
        last_name=last,
        record_number=f"P-{pk:06d}",
        admitted_on=kw.pop("admitted_on", datetime.date(2026, 11, 18)),
        **kw,
    )


def below_rows():
    rows = []
    for i, (first, last) in enumerate(
        [("Ann", "O'Brien"), ("<b>Bo</b>", "Smith & Co"), ("Cy", "Doe")]
    ):
        rows.append(
            {
                "patient": patient(10 + i, first, last),
                "track": ["Evening IOP", None, "A & B"][i],
                "counselor": [None, "Ms. <i>C</i>", "Dan"][i],
                "last_week_hours": [4.9, 0.0, 12.5][i],
                "last_week_target_hours": 9.0,
                "this_week_hours": [10.0, 0.0, 3.3][i],
                "this_week_target_hours": [9.0, 6.0, 9.0][i],
                "this_week_remaining_hours": [0.0, 1.5, 2.0][i],
                "this_week_below": [False, True, True][i],
                "last_week_below": [True, True, False][i],
                "admitted_last_week": [True, False, False][i],
                "minor": [False, True, False][i],
            }
        )
    return rows


def flagged_rows():
    reviewer = User(pk=3, full_name="Dora <Doctor>", email="d@clinic.test")
    review = FlagReview(
        pk=5,
        patient_id=20,
        reviewed_at=datetime.datetime(2026, 11, 3, 2, 30, tzinfo=datetime.UTC),
        note='Work & school; "ok".',
    )
    review.reviewed_by = reviewer
    return [
        {
            "patient": patient(20, "Eve", "O'Neil"),
            "doctor": "Dr. Who",
            "reasons": ["3 unexcused absences in the last 30 days"],
            "review": review,
        },
        {
            "patient": patient(21, "Fay", "<Lee>"),
            "doctor": None,
            "reasons": [
                "3 unexcused absences in the last 30 days",
                "2 no-shows in a row",
            ],
            "review": None,
        },
    ]


def render(source, **context):
    return squeeze(Template(source).render(Context(context)))


def render_tag(tag, *args, **context):
    loaded = "{% load compliance_rows %}{% " + tag + " " + " ".join(args) + " %}"
    return render(loaded, **context)


def test_below_target_rows_are_the_templates():
    rows = below_rows()
    with timezone.override("America/New_York"):
        assert render_tag("below_target_rows", "rows", rows=rows) == render(
            BELOW_LOOP, rows=rows
        )


def test_flagged_rows_are_the_templates_for_doctors_and_others():
    request = RequestFactory().get("/compliance/", {"sort": "x y", "reviewed": "1"})
    rows = flagged_rows()
    for can_review in (True, False):
        context = {"rows": rows, "can_review_flags": can_review, "request": request}
        assert render_tag(
            "flagged_rows", "rows", "can_review_flags", **context
        ) == render(FLAGGED_LOOP, **context)


def test_dashboard_items_are_the_templates():
    assert render_tag("dashboard_flagged_items", "rows", rows=flagged_rows()) == render(
        DASHBOARD_FLAGGED, rows=flagged_rows()
    )
    assert render_tag("dashboard_below_items", "rows", rows=below_rows()) == render(
        DASHBOARD_BELOW, rows=below_rows()
    )


DASHBOARD_REQUESTS = """{% for r in rows %}<li><a href="{% url 'patients:decide' r.pk %}">{{ r.patient.full_name }}</a> ({{ r.patient.record_number }}) · waiting {{ r.requested_at|timesince }}</li>{% endfor %}"""  # noqa: E501

DASHBOARD_REVIEWS = """{% for d in rows %}<li><a href="{% url 'patients:decision' d.pk %}">{{ d.patient.full_name }}</a> ({{ d.patient.record_number }}) · review {{ d.review_date|date:"M j, Y" }}{% if d.review_date < today %} <span class="badge bad">overdue</span>{% endif %}</li>{% endfor %}"""  # noqa: E501


def test_dashboard_waiting_items_are_the_templates():
    now = timezone.now()
    today = datetime.date(2026, 11, 29)
    someone = {"full_name": "Ann <O'Brien>", "record_number": "P-000001"}
    requests = [
        {
            "pk": 3,
            "patient": someone,
            "requested_at": now - datetime.timedelta(days=40),
        },
        {
            "pk": 4,
            "patient": someone,
            "requested_at": now - datetime.timedelta(hours=5),
        },
    ]
    reviews = [
        {"pk": 7, "patient": someone, "review_date": today - datetime.timedelta(1)},
        {"pk": 8, "patient": someone, "review_date": today},
        {"pk": 9, "patient": someone, "review_date": today + datetime.timedelta(9)},
    ]
    assert render_tag("dashboard_request_items", "rows", rows=requests) == render(
        DASHBOARD_REQUESTS, rows=requests
    )
    assert render_tag(
        "dashboard_review_items", "rows", "today", rows=reviews, today=today
    ) == render(DASHBOARD_REVIEWS, rows=reviews, today=today)
