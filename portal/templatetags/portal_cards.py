"""The sponsor's list of patients (sponsor:home), its cards built in Python.

The page's cards went through the template engine: a dozen lookups, ifs and
number formats per card, which cost more than the rest of the page. The markup
is the one portal/home.html wrote, whitespace included (a test holds the two
to each other); every value is escaped as `{{ }}` does (core.htmlrows)."""

from django import template
from django.utils.safestring import SafeString

from core import htmlrows

register = template.Library()

CARD = (
    '\n  <article class="card sponsor-card summary" aria-labelledby="patient-{ref}">'
    '\n    <header class="page-head">'
    '\n      <h2 id="patient-{ref}">{name}</h2>'
    '\n      <a class="button secondary" href="patients/{ref}/"'
    ' aria-describedby="patient-{ref}">Details and letter</a>'
    "\n    </header>"
    '\n    <dl class="sponsor-facts">'
    "\n      <div><dt>This week</dt>"
    "\n        {hours}</div>"
    "\n      <div><dt>Last missed session</dt>"
    "\n        {missed}</div>"
    "\n      <div><dt>Next session</dt>"
    "\n        {next}</div>"
    "\n      {family}"
    "\n    </dl>"
    "\n  </article>"
    "\n  "
)
HOURS = "<dd><strong>{} h</strong> of {} h target\n          {}</dd>\n        "
BELOW = {
    True: '<span class="badge warn">below target so far</span>',
    False: '<span class="badge ok">on target</span>',
}
NO_HOURS = '<dd class="muted">Hours are not part of what {} agreed to share.</dd>'
MISSED = (
    '<dd class="last-missed"><span class="badge bad">Missed</span> {}</dd>\n        '
)
NONE_MISSED = "<dd>None since the consent began</dd>"
NEXT = '<dd>{} <span class="muted">{}</span>{}</dd>\n        '
INVITED = ' <span class="badge ok">You are invited (family session)</span>'
NO_NEXT = '<dd class="muted">No sessions scheduled.</dd>'
FAMILY = (
    "<div><dt>Family session you are invited to</dt>"
    '\n        <dd>{} <span class="muted">{}</span></dd></div>'
)


def _card(card):
    if card.shows_hours:
        hours = htmlrows.format(
            HOURS,
            card.week_hours,
            card.target_hours,
            SafeString(BELOW[bool(card.below_target)]),
        )
    else:
        hours = htmlrows.format(NO_HOURS, card.first_name)
    if card.last_missed:
        missed = htmlrows.format(MISSED, card.last_missed_when)
    else:
        missed = NONE_MISSED
    if card.next_session:
        next_ = htmlrows.format(
            NEXT,
            card.next_when,
            card.next_modality,
            SafeString(INVITED if card.next_session.invited else ""),
        )
    else:
        next_ = NO_NEXT
    family = card.family_later
    return htmlrows.format(
        CARD,
        ref=card.ref,
        name=card.name,
        hours=SafeString(hours),
        missed=SafeString(missed),
        next=SafeString(next_),
        family=htmlrows.format(FAMILY, family.when, family.modality_label)
        if family
        else "",
    )


@register.simple_tag
def patient_cards(cards):
    """The <article> of each patient on the page (portal.selectors.Summary)."""
    return htmlrows.join(_card(card) for card in cards)
