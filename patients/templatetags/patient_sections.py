"""Rows of the patient page's own sections (consents, decisions, status history),
built in Python as patient_rows.py builds the list's rows.

The patient page is the page staff open most, and these loops through the
template engine (a reverse, date filters and a dozen lookups per row) cost
more than the page's data. The markup is the one detail.html wrote, whitespace
included; every value is escaped (core.htmlrows)."""

from django import template
from django.template.defaultfilters import linebreaksbr
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst

from core import htmlrows, urlcache
from core.choices import display
from patients.models import AdmissionRequest

register = template.Library()


DASH = "—"


def _or_dash(value, dash=DASH):
    """`{{ value|default:"—" }}` (or another default)."""
    return value if value else dash


def _name(user):
    """`user.full_name` as a template prints it ("" when there is no user)."""
    return user.full_name if user is not None else ""


# ---------------------------------------------------------------- consents

CONSENT_ROW = (
    "\n      <tr>"
    "\n        <td>#{pk}{replaces}</td>"
    '\n        <td><span class="badge{badge}">{status}</span></td>'
    '\n        <td>{scope}<br><span class="muted small">{purpose}</span></td>'
    "\n        <td>{effective}</td>"
    "\n        <td>{expires}</td>"
    "\n        <td>“{signed_name}”, {signed_on}<br>"
    '<span class="muted small">witnessed by {witness}</span></td>'
    "\n        <td>{revocation}</td>"
    "\n        {actions}"
    "\n      </tr>"
    "\n      "
)
CONSENT_ACTIONS = (
    "<td>"
    '\n          <a href="{pdf}">PDF</a>'
    "\n          {change}"
    "\n          {copy}"
    "\n        </td>"
)
CONSENT_BADGE = {"active": " ok", "pending": " warn"}


def _expires(c, fmt):
    parts = []
    if c.expires_on:
        parts.append(fmt.day(c.expires_on))
    if c.expires_on and c.expires_on_discharge:
        parts.append(" or ")
    if c.expires_on_discharge:
        parts.append("on discharge")
    return "".join(parts)


def _revocation(c, fmt):
    if c.revoked_on:
        return htmlrows.format(
            "Revoked {} ({}), recorded by {}",
            fmt.day(c.revoked_on),
            c.revoked_how,
            _name(c.revoked_recorded_by),
        )
    if not c.revocable:
        return htmlrows.format("Irrevocable until: {}", c.irrevocable_until)
    return "Revocable in writing"


def _consent_actions(c, status, sponsor, fmt, csrf):
    pdf = fmt.url("patients:consent_pdf", c.pk)
    change = ""
    if not c.revoked_on and status != "expired":
        change = htmlrows.format(
            ' · <a href="{}">Revoke</a> · <a href="{}?replaces={}">Replace</a>',
            fmt.url("patients:consent_revoke", c.pk),
            fmt.url("patients:consent_create", sponsor.pk),
            c.pk,
        )
    copy = ""
    if status == "active":
        copy = htmlrows.format(
            '<form method="post" action="{}">{}<button type="submit"'
            ' class="link-button">Copy for {} (logged)</button></form>',
            pdf,
            csrf,
            sponsor.full_name,
        )
    return htmlrows.format(CONSENT_ACTIONS, pdf=pdf, change=change, copy=copy)


@register.simple_tag(takes_context=True)
def consent_rows(context, sponsor, can_manage):
    """The <tr> of each of the sponsor's consents (sponsor.consent_rows: the
    consent and its status today), with the actions column for front-desk
    roles."""
    fmt = htmlrows.RowFormats()
    csrf = htmlrows.csrf_input(context) if can_manage else ""
    rows = []
    for row in sponsor.consent_rows:
        c, status = row["consent"], row["status"]
        rows.append(
            htmlrows.format(
                CONSENT_ROW,
                pk=c.pk,
                replaces=htmlrows.format(
                    ' <span class="muted small">replaces #{}</span>', c.replaces_id
                )
                if c.replaces_id
                else "",
                badge=CONSENT_BADGE.get(status, " bad"),
                status=capfirst(status),
                scope=display(c, "scope"),
                purpose=c.purpose,
                effective=fmt.day(c.effective_on),
                expires=_expires(c, fmt),
                signed_name=c.signed_name,
                signed_on=fmt.day(c.signed_on),
                witness=_name(c.witnessed_by),
                revocation=_revocation(c, fmt),
                actions=_consent_actions(c, status, sponsor, fmt, csrf)
                if can_manage
                else "",
            )
        )
    return htmlrows.join(rows)


# ---------------------------------------------------------------- sponsors

SPONSOR_HEAD = (
    '<article class="sponsor" aria-labelledby="sponsor-{pk}-h">'
    '\n    <h3 id="sponsor-{pk}-h">{name} <span class="muted small">· {relationship}'
    "</span>"
    "\n      {badge}</h3>"
    '\n    <p class="small">{email}{sep}{phone} · alerts by {channel}{login}'
    "\n      {links}</p>"
)
CONSENT_BADGE_ACTIVE = {
    True: mark_safe('<span class="badge ok">consent active</span>'),
    False: mark_safe('<span class="badge bad">no active consent</span>'),
}
SPONSOR_LINKS = (
    ' · <a href="{}">Edit</a> · <a href="{}">Record a new consent</a>'
    ' · <a href="{}">Print consent form</a>'
)
CONSENTS_TABLE = (
    '\n    <div class="table-wrap">'
    "\n    <table>"
    '\n      <caption class="muted small">Consents to {name}</caption>'
    '\n      <thead><tr><th scope="col">Consent</th><th scope="col">Status</th>'
    '<th scope="col">What</th><th scope="col">Effective</th>'
    '<th scope="col">Expires</th><th scope="col">Signed</th>'
    '<th scope="col">Revocation</th>{actions}</tr></thead>'
    "\n      <tbody>"
    "\n      {rows}"
    "\n      </tbody>"
    "\n    </table>"
    "\n    </div>"
    "\n    "
)
ACTIONS_TH = mark_safe('<th scope="col">Actions</th>')
NO_CONSENT = (
    '<p class="muted">No consent recorded yet: nothing may be disclosed to {}.</p>'
)


@register.simple_tag
def sponsor_head(sponsor, can_manage):
    """The opening of a sponsor's <article>: its heading (consent active or not)
    and its contact line, with the staff's links."""
    links = ""
    if can_manage:
        links = htmlrows.format(
            SPONSOR_LINKS,
            urlcache.url("patients:sponsor_edit", sponsor.pk),
            urlcache.url("patients:consent_create", sponsor.pk),
            urlcache.url("patients:consent_blank_pdf", sponsor.pk),
        )
    return htmlrows.format(
        SPONSOR_HEAD,
        pk=sponsor.pk,
        name=sponsor.full_name,
        relationship=display(sponsor, "relationship"),
        badge=CONSENT_BADGE_ACTIVE[bool(sponsor.has_active_consent)],
        email=sponsor.email or "",
        sep=" · " if sponsor.email and sponsor.phone else "",
        phone=sponsor.phone,
        channel=str(display(sponsor, "preferred_channel")).lower(),
        login=" · has a login" if sponsor.user_id else "",
        links=links,
    )


@register.simple_tag(takes_context=True)
def sponsor_consents(context, sponsor, can_manage):
    """A sponsor's consents table (consent_rows), or the line saying nothing
    may be disclosed."""
    if not sponsor.consent_rows:
        return htmlrows.format(NO_CONSENT, sponsor.first_name)
    return htmlrows.format(
        CONSENTS_TABLE,
        name=sponsor.full_name,
        actions=ACTIONS_TH if can_manage else "",
        rows=consent_rows(context, sponsor, can_manage),
    )


# ---------------------------------------------------------------- decisions

DECISION_ROW = (
    "\n      <tr>"
    '\n        <td><a href="{url}">{decision}</a></td>'
    "\n        <td>{signed_by}, {signed_at}</td>"
    "\n        <td>{conditions}</td>"
    "\n        <td>{review}</td>"
    "\n        <td>{state}</td>"
    "\n      </tr>"
    "\n      "
)
CURRENT = {
    True: mark_safe('<span class="badge ok">current</span>'),
    False: mark_safe('<span class="badge">superseded</span>'),
}


@register.simple_tag
def decision_rows(req, fmt=None):
    """The <tr> of each decision on an admission request (req.decision_list,
    newest first, each marked `current` or not)."""
    fmt = fmt or htmlrows.RowFormats()
    return htmlrows.join(
        htmlrows.format(
            DECISION_ROW,
            url=fmt.url("patients:decision", d.pk),
            decision=display(d, "decision"),
            signed_by=str(d.signed_by),
            signed_at=fmt.date(d.signed_at, "M j, Y g:i A"),
            conditions=d.conditions or d.reason or DASH,
            review=fmt.day(d.review_date) or DASH,
            state=CURRENT[bool(d.current)],
        )
        for d in req.decision_list
    )


# ---------------------------------------------------------------- requests

REQUEST = (
    '\n  <article aria-labelledby="req-{pk}-h">'
    '\n    <h3 id="req-{pk}-h">Request of {requested} <span class="badge{badge}">'
    "{status}</span></h3>"
    '\n    <p class="small">Asked by {requested_by}{doctor} · {level} ({asam}) ·'
    " {track} from {start}{probation}</p>"
    "\n    <p>{summary}</p>"
    "\n    {withdraw}"
    "\n    {decide}"
    "\n    {decisions}"
    "\n  </article>"
    "\n  "
)
DECISIONS_TABLE = (
    '\n    <div class="table-wrap">'
    "\n    <table>"
    '\n      <caption class="muted small">Decisions on this request</caption>'
    '\n      <thead><tr><th scope="col">Decision</th><th scope="col">Signed</th>'
    '<th scope="col">Conditions / reason</th><th scope="col">Review</th>'
    '<th scope="col">State</th></tr></thead>'
    "\n      <tbody>"
    "\n      {}"
    "\n      </tbody>"
    "\n    </table>"
    "\n    </div>"
    "\n    "
)
NO_REQUEST = mark_safe('\n  <p class="muted">No admission request yet.</p>\n  ')


def _request(req, can_manage, can_decide, fmt):
    pending = req.status == AdmissionRequest.Status.PENDING
    return htmlrows.format(
        REQUEST,
        pk=req.pk,
        requested=fmt.day(req.requested_at),
        badge=" warn" if pending else "",
        status=display(req, "status"),
        requested_by=_name(req.requested_by),
        doctor=htmlrows.format(", for review by {}", req.doctor) if req.doctor else "",
        level=display(req, "level_of_care"),
        asam=display(req, "asam_edition"),
        track=_or_dash(
            req.proposed_track.name if req.proposed_track else "", "no track"
        ),
        start=fmt.day(req.proposed_start),
        probation=htmlrows.format(
            ' · <span class="badge warn">medical probation</span> {}',
            req.medical_probation_details,
        )
        if req.medical_probation
        else "",
        summary=linebreaksbr(req.clinical_summary, autoescape=True),
        withdraw=htmlrows.format(
            '<p><a href="{}">Withdraw this request</a></p>',
            fmt.url("patients:request_withdraw", req.pk),
        )
        if pending and can_manage
        else "",
        decide=htmlrows.format(
            '<p><a class="button" href="{}">Review and decide</a></p>',
            fmt.url("patients:decide", req.pk),
        )
        if pending and can_decide
        else "",
        decisions=htmlrows.format(DECISIONS_TABLE, decision_rows(req, fmt))
        if req.decision_list
        else "",
    )


@register.simple_tag
def request_articles(requests, can_manage, can_decide):
    """The <article> of each admission request (newest first, each with its
    decisions), or the line saying there is none."""
    if not requests:
        return NO_REQUEST
    fmt = htmlrows.RowFormats()
    return htmlrows.join(_request(req, can_manage, can_decide, fmt) for req in requests)


# ---------------------------------------------------------------- status history

HISTORY_ROW = "\n    <tr><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td></tr>\n    "


@register.simple_tag
def history_rows(history):
    """The <tr> of each status change, newest first."""
    date = htmlrows.dates()
    return htmlrows.join(
        htmlrows.format(
            HISTORY_ROW,
            date(h.at, "M j, Y g:i A"),
            htmlrows.format("{} → ", display(h, "from_status"))
            if h.from_status
            else "",
            display(h, "to_status"),
            _name(h.by) or DASH,
            h.reason,
        )
        for h in history
    )


# ---------------------------------------------------------------- summary

FACTS = (
    "    <dt>Record number</dt><dd>{record}</dd>"
    "\n    <dt>Status</dt><dd>{status}</dd>"
    "\n    <dt>Referred</dt><dd>{referred}</dd>"
    "\n    <dt>Date of birth</dt><dd>{born} (age {age})</dd>"
    "\n    <dt>Phone</dt><dd>{phone}</dd>"
    "\n    <dt>Email</dt><dd>{email}</dd>"
    "\n    <dt>Preferred language</dt><dd>{language}</dd>"
    "\n    <dt>Presenting problems</dt><dd>{problems}</dd>"
    "\n    <dt>Medical probation</dt><dd>{probation}</dd>"
    "\n    <dt>Track</dt><dd>{track}</dd>"
    "\n    <dt>Primary counselor</dt><dd>{counselor}</dd>"
    "\n    <dt>Attending doctor</dt><dd>{doctor}</dd>"
    "\n    <dt>Sponsor required</dt><dd>{sponsor_required}</dd>"
)
NO_ACTIVE_CONSENT = mark_safe(' <span class="badge bad">no active consent yet</span>')


@register.simple_tag
def patient_facts(patient, active_consent):
    """The summary's <dt>/<dd> pairs (the patient read with its track,
    counselor and doctor)."""
    fmt = htmlrows.RowFormats()
    status = [htmlrows.esc(display(patient, "status"))]
    if patient.admitted_on:
        status.append(htmlrows.format(" · admitted {}", fmt.day(patient.admitted_on)))
    if patient.discharged_on:
        status.append(
            htmlrows.format(
                " · discharged {} ({})",
                fmt.day(patient.discharged_on),
                display(patient, "discharge_reason"),
            )
        )
    referred = htmlrows.format(
        "{} · {}", fmt.day(patient.referred_on), display(patient, "referral_source")
    )
    if patient.referral_detail:
        referred += htmlrows.format(" · {}", patient.referral_detail)
    labels = patient.presenting_problem_labels
    problems = htmlrows.format("{}", ", ".join(map(str, labels))) if labels else DASH
    if patient.presenting_problems_other:
        problems += htmlrows.format(" ({})", patient.presenting_problems_other)
    if patient.medical_probation:
        probation = htmlrows.format(
            '<span class="badge warn">Yes</span> {}', patient.medical_probation_details
        )
    else:
        probation = "No"
    if patient.sponsor_required:
        sponsor_required = htmlrows.join(
            ["Yes", "" if active_consent else NO_ACTIVE_CONSENT]
        )
    else:
        sponsor_required = "No"
    track = patient.track
    return htmlrows.format(
        FACTS,
        record=patient.record_number,
        status=htmlrows.join(status),
        referred=referred,
        born=fmt.day(patient.date_of_birth),
        age=patient.age,
        phone=_or_dash(patient.phone),
        email=_or_dash(patient.email),
        language=patient.preferred_language,
        problems=SafeString(problems),
        probation=SafeString(probation),
        track=_or_dash(track.name if track is not None else ""),
        counselor=_or_dash(patient.primary_counselor),
        doctor=_or_dash(patient.attending_doctor),
        sponsor_required=SafeString(sponsor_required),
    )
