"""The list's cards built in Python (portal.templatetags.portal_cards) write what
the template loop they replaced wrote, byte for byte, in every branch, with
every value escaped."""

import datetime

from django.template import engines

from patients.models import Consent, Patient, Sponsor
from portal.selectors import Slot, Summary

# The loop as portal/home.html had it.
TEMPLATE_LOOP = """\
  {% for card in cards %}
  <article class="card sponsor-card summary" aria-labelledby="patient-{{ card.ref }}">
    <header class="page-head">
      <h2 id="patient-{{ card.ref }}">{{ card.name }}</h2>
      <a class="button secondary" href="patients/{{ card.ref }}/" aria-describedby="patient-{{ card.ref }}">Details and letter</a>
    </header>
    <dl class="sponsor-facts">
      <div><dt>This week</dt>
        {% if card.shows_hours %}<dd><strong>{{ card.week_hours }} h</strong> of {{ card.target_hours }} h target
          {% if card.below_target %}<span class="badge warn">below target so far</span>{% else %}<span class="badge ok">on target</span>{% endif %}</dd>
        {% else %}<dd class="muted">Hours are not part of what {{ card.first_name }} agreed to share.</dd>{% endif %}</div>
      <div><dt>Last missed session</dt>
        {% if card.last_missed %}<dd class="last-missed"><span class="badge bad">Missed</span> {{ card.last_missed_when }}</dd>
        {% else %}<dd>None since the consent began</dd>{% endif %}</div>
      <div><dt>Next session</dt>
        {% if card.next_session %}<dd>{{ card.next_when }} <span class="muted">{{ card.next_modality }}</span>{% if card.next_session.invited %} <span class="badge ok">You are invited (family session)</span>{% endif %}</dd>
        {% else %}<dd class="muted">No sessions scheduled.</dd>{% endif %}</div>
      {% if card.family_later %}<div><dt>Family session you are invited to</dt>
        <dd>{{ card.family_later.when }} <span class="muted">{{ card.family_later.modality_label }}</span></dd></div>{% endif %}
    </dl>
  </article>
  {% endfor %}
"""  # noqa: E501

TAG = "{% load portal_cards %}  {% patient_cards cards %}\n"


def _summary(pk, first, last, *, scope, minutes, target, missed, nxt, family):
    consent = Consent(pk=pk, patient_id=pk, sponsor_id=pk, scope=scope)
    consent.patient = Patient(
        pk=pk,
        first_name=first,
        last_name=last,
        date_of_birth=datetime.date(1990, 1, 1),
    )
    consent.sponsor = Sponsor(pk=pk, patient_id=pk, full_name="S")
    return Summary(
        consent=consent,
        shows_hours=scope == Consent.Scope.ATTENDANCE_HOURS,
        week_minutes=minutes,
        target_minutes=target,
        last_missed=missed,
        next_session=nxt,
        family_next=family,
    )


def test_the_cards_are_the_template_loops_markup():
    at = datetime.datetime(2026, 11, 30, 15, 0, tzinfo=datetime.UTC)
    hour = datetime.timedelta(hours=1)
    hours = Consent.Scope.ATTENDANCE_HOURS
    plain = Consent.Scope.ATTENDANCE
    cards = [
        _summary(
            1, "Ann", "O'Hara <b>", scope=hours, minutes=200, target=540,
            missed=at - 50 * hour, nxt=Slot(at, at + 3 * hour, "in_person", True),
            family=Slot(at, at + hour, "telehealth", True),
        ),
        _summary(
            2, "Bo & Co", "Lee", scope=hours, minutes=600, target=540,
            missed=None, nxt=None, family=Slot(at, at + hour, "telehealth", True),
        ),
        _summary(
            3, '"Cy"', "Ng", scope=plain, minutes=0, target=540, missed=at,
            nxt=Slot(at + 2 * hour, at + 5 * hour, "telehealth", False),
            family=Slot(at + 50 * hour, at + 51 * hour, "in_person", True),
        ),
        _summary(
            4, "Di", "Ray", scope=hours, minutes=0, target=0, missed=None,
            nxt=None, family=None,
        ),
    ]  # fmt: skip
    engine = engines["django"]
    for shown in (cards, cards[:1], []):
        expected = engine.from_string(TEMPLATE_LOOP).render({"cards": shown})
        assert engine.from_string(TAG).render({"cards": shown}) == expected
    html = engine.from_string(TAG).render({"cards": cards})
    assert "O&#x27;Hara &lt;b&gt;" in html and "Bo &amp; Co" in html
    assert "3.3 h</strong> of 9.0 h" in html and "You are invited" in html


def test_the_lists_instances_are_those_from_db_builds():
    """core.jsonrows.loaded fills an instance as Model.from_db would with
    the fields read (the others deferred)."""
    from core.jsonrows import loaded

    day = datetime.date(2026, 11, 30)
    for model, values in (
        (
            Consent,
            {"id": 5, "patient_id": 6, "sponsor_id": 7, "scope": "attendance"},
        ),
        (
            Patient,
            {"id": 6, "first_name": "A", "last_name": "B", "date_of_birth": day},
        ),
        (Sponsor, {"id": 7, "patient_id": 6, "full_name": "C D"}),
    ):
        fast = loaded(model, **values)
        names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
        slow = model.from_db("default", names, [values[n] for n in names])
        assert type(fast) is model
        assert {k: v for k, v in vars(fast).items() if k != "_state"} == {
            k: v for k, v in vars(slow).items() if k != "_state"
        }
        assert fast.get_deferred_fields() == slow.get_deferred_fields()
        assert (fast._state.adding, fast._state.db) == (False, slow._state.db)
        assert fast.pk == values["id"]
