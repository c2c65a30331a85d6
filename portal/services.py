"""Writes for the sponsor portal: invitations, preferences and the disclosure log."""

import datetime
import logging
import secrets
import smtplib

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from accounts.roles import SPONSOR, has_role
from accounts.selectors import user_by_email
from core.audit import audit
from core.models import AuditEvent
from patients.models import PART2_NOTICE, Consent, Disclosure, Sponsor
from sessions.pdf import attendance_letter_pdf

from . import selectors
from .emails import send_invitation_email
from .models import SponsorInvitation, token_digest

logger = logging.getLogger(__name__)

INVITATION_LIFETIME = datetime.timedelta(days=7)


class InvitationError(ValidationError):
    """An invitation that cannot be used; the message is for the person."""

    def __init__(self, message, code):
        super().__init__(message, code=code)


# --- invitations -------------------------------------------------------------


def _deliver(invitation, token):
    """Send the email outside the transaction and record the outcome. The raw
    token exists only here (the database keeps its digest), so the email is sent
    from this request; a failure is shown to staff, who can re-send."""
    try:
        send_invitation_email(invitation=invitation, token=token)
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("sponsor invitation %s not sent: %s", invitation.pk, exc)
        error = f"{type(exc).__name__}: {exc}"[:300]
        SponsorInvitation.objects.filter(pk=invitation.pk).update(send_error=error)
        invitation.send_error = error
        return invitation
    now = timezone.now()
    SponsorInvitation.objects.filter(pk=invitation.pk).update(
        sent_at=now, send_error=""
    )
    invitation.sent_at = now
    return invitation


def invitation_send(*, sponsor: Sponsor, by: User) -> SponsorInvitation:
    """Invite a sponsor to the portal. A newer invitation replaces an open one."""
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        sponsor = Sponsor.objects.select_for_update().get(pk=sponsor.pk)
        if sponsor.user_id:
            raise InvitationError(
                f"{sponsor.full_name} already has access to the sponsor portal.",
                "has_access",
            )
        if not sponsor.email:
            raise InvitationError(
                f"Add an email address for {sponsor.full_name} before inviting.",
                "no_email",
            )
        now = timezone.now()
        replaced = SponsorInvitation.objects.filter(
            sponsor=sponsor, state=SponsorInvitation.State.OPEN
        ).update(state=SponsorInvitation.State.REPLACED, closed_at=now, closed_by=by)
        invitation = SponsorInvitation.objects.create(
            sponsor=sponsor,
            email=sponsor.email.lower(),
            token_digest=token_digest(token),
            created_by=by,
            created_at=now,
            expires_at=now + INVITATION_LIFETIME,
        )
        audit(
            user=by,
            action=AuditEvent.Action.CREATE,
            obj=invitation,
            patient=sponsor.patient,
            summary="Sponsor portal invitation re-sent"
            if replaced
            else "Sponsor portal invitation sent",
        )
    return _deliver(invitation, token)


def invitation_resend(*, invitation: SponsorInvitation, by: User):
    if invitation.state != SponsorInvitation.State.OPEN:
        raise InvitationError(
            "This invitation is no longer open; send a new one.", "closed"
        )
    return invitation_send(sponsor=invitation.sponsor, by=by)


def invitation_withdraw(*, invitation: SponsorInvitation, by: User):
    with transaction.atomic():
        invitation = (
            SponsorInvitation.objects.select_for_update()
            .select_related("sponsor__patient")
            .get(pk=invitation.pk)
        )
        if invitation.state != SponsorInvitation.State.OPEN:
            raise InvitationError("This invitation is no longer open.", "closed")
        invitation.state = SponsorInvitation.State.WITHDRAWN
        invitation.closed_at = timezone.now()
        invitation.closed_by = by
        invitation.save(update_fields=["state", "closed_at", "closed_by"])
        audit(
            user=by,
            action=AuditEvent.Action.UPDATE,
            obj=invitation,
            patient=invitation.sponsor.patient,
            changed_fields=["state"],
            summary="Sponsor portal invitation withdrawn",
        )
    return invitation


def invitation_check(invitation):
    """Raise InvitationError unless the invitation can be used now."""
    if invitation is None:
        raise InvitationError(
            "This link is not valid. Check that you copied all of it.", "unknown"
        )
    if invitation.state == SponsorInvitation.State.ACCEPTED or (
        invitation.state == SponsorInvitation.State.OPEN and invitation.sponsor.user_id
    ):
        raise InvitationError(
            "This link has already been used. Log in with your email and password.",
            "used",
        )
    if invitation.state != SponsorInvitation.State.OPEN:
        raise InvitationError(
            "This invitation was withdrawn or replaced by a newer one. Use the link "
            "in the most recent email, or call the clinic.",
            "withdrawn",
        )
    if invitation.is_expired():
        raise InvitationError(
            "This link has expired (links last 7 days). Call the clinic and ask "
            "them to send a new one.",
            "expired",
        )


def invitation_login_check(existing):
    """Raise InvitationError when the existing login with the invitation's email
    (None: there is none) cannot hold a sponsor entry: a clinic account."""
    if existing is not None and not has_role(existing, SPONSOR):
        raise InvitationError(
            "This email address belongs to a clinic account, which cannot be used "
            "as a sponsor login. Call the clinic.",
            "clinic_account",
        )


def invitation_accept(*, token: str, password: str | None = None):
    """Use an invitation: create the sponsor's login with `password`, or, when
    a sponsor login with this email exists, add this patient's entry to it.

    Returns (user, created)."""
    with transaction.atomic():
        invitation = (
            SponsorInvitation.objects.select_for_update()
            .select_related("sponsor")
            .filter(token_digest=token_digest(token))
            .first()
        )
        invitation_check(invitation)
        sponsor = (
            Sponsor.objects.select_for_update()
            .select_related("patient")
            .get(pk=invitation.sponsor_id)
        )
        existing = user_by_email(invitation.email)
        invitation_login_check(existing)
        created = existing is None
        if existing is not None:
            user = existing
        else:
            if not password:
                raise InvitationError("Choose a password.", "no_password")
            user = User.objects.create_user(
                email=invitation.email, password=password, full_name=sponsor.full_name
            )
            user.groups.add(Group.objects.get(name=SPONSOR))
        if sponsor.user_id and sponsor.user_id != user.pk:
            raise InvitationError(
                "This sponsor entry is already linked to another login. Call the "
                "clinic.",
                "linked",
            )
        sponsor.user = user
        try:
            with transaction.atomic():
                sponsor.save(update_fields=["user"])
        except IntegrityError as exc:
            raise InvitationError(
                "Your login is already linked to this patient.", "duplicate"
            ) from exc
        invitation.state = SponsorInvitation.State.ACCEPTED
        invitation.closed_at = timezone.now()
        invitation.accepted_user = user
        invitation.save(update_fields=["state", "closed_at", "accepted_user"])
        audit(
            user=user,
            action=AuditEvent.Action.UPDATE,
            obj=sponsor,
            patient=sponsor.patient,
            changed_fields=["user"],
            summary="Sponsor accepted the portal invitation"
            + ("" if created else " (existing login)"),
        )
    return user, created


# --- preferences ---------------------------------------------------------------


def sponsor_preferences_update(*, user: User, channel: str, phone: str):
    """Set the alert channel and phone on every sponsor entry of this login.
    Returns the number of entries changed; each change is audited."""
    changed_rows = 0
    with transaction.atomic():
        rows = list(
            Sponsor.objects.select_for_update()
            .filter(user=user)
            .select_related("patient")
            .order_by("pk")
        )
        for row in rows:
            changed = []
            if row.preferred_channel != channel:
                row.preferred_channel = channel
                changed.append("preferred_channel")
            if row.phone != phone:
                row.phone = phone
                changed.append("phone")
            if channel != Sponsor.Channel.SMS and not row.email:
                row.email = user.email
                changed.append("email")
            if not changed:
                continue
            row.save(update_fields=changed)
            audit(
                user=user,
                action=AuditEvent.Action.UPDATE,
                obj=row,
                patient=row.patient,
                changed_fields=changed,
                summary=f"Sponsor changed alert preferences: channel {channel}",
            )
            changed_rows += 1
        if user.phone != phone:
            user.phone = phone
            user.save(update_fields=["phone"])
    return changed_rows


# --- the disclosure log ---------------------------------------------------------


def disclosures_record(
    *, user: User, consents, what: str, channel: str, reference: str = ""
):
    """One Disclosure row per consent (per patient disclosed), in one query."""
    cut = selectors.DISCLOSURE_LENGTHS
    rows = [
        Disclosure(
            patient_id=consent.patient_id,
            sponsor_id=consent.sponsor_id,
            consent=consent,
            recipient=f"{consent.sponsor.full_name} <{user.email}>"[: cut["recipient"]],
            what=what[: cut["what"]],
            channel=channel,
            reference=reference[: cut["reference"]],
        )
        for consent in consents
    ]
    if rows:
        Disclosure.objects.bulk_create(rows)
    return rows


HOME_WHAT = (
    "Sponsor page, list of patients (page {number}): hours this week "
    "(when the consent covers hours), last missed session, next session, next "
    "family session the sponsor is invited to"
)


def patients_page_disclose(*, user: User, page_number, reference: str = ""):
    """The sponsor's page of patients (selectors.patients_page) and, in the same
    statement, one Disclosure row per patient shown, with the values
    disclosures_record writes (HOME_WHAT with the page's number, through the
    portal). The page is read and its rows written in one round trip; the
    statement commits on its own (autocommit), so the rows are durable before
    the page is rendered."""
    what_head, what_tail = HOME_WHAT.split("{number}")
    return selectors.patients_page(
        user=user,
        page_number=page_number,
        disclose={
            "recipient_email": user.email,
            "what_head": what_head,
            "what_tail": what_tail,
            "channel": Disclosure.Channel.PORTAL.value,
            "reference": reference,
        },
    )


def attendance_letter_render(*, user: User, consent, start, end, reference=""):
    """The sponsor's copy of the attendance letter as PDF bytes, logged as a
    disclosure: hours only when the consent covers them, and no identifiers
    beyond the patient's name."""
    pdf = attendance_letter_pdf(
        patient=consent.patient,
        start=start,
        end=end,
        include_hours=consent.scope == Consent.Scope.ATTENDANCE_HOURS,
        include_identifiers=False,
    )
    disclosures_record(
        user=user,
        consents=[consent],
        what=f"Attendance letter (PDF) for {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        channel=Disclosure.Channel.PDF,
        reference=reference,
    )
    return pdf


__all__ = [
    "PART2_NOTICE",
    "InvitationError",
    "attendance_letter_render",
    "disclosures_record",
    "patients_page_disclose",
    "invitation_accept",
    "invitation_check",
    "invitation_login_check",
    "invitation_resend",
    "invitation_send",
    "invitation_withdraw",
    "sponsor_preferences_update",
]
