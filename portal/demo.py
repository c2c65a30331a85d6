"""Demo data for the sponsor portal: one open invitation, with its link printed, so
that someone trying the demo can follow the set-password flow.

Safe to run again: the demo token is derived from SECRET_KEY and the sponsor, so a
second run finds the same invitation (and only pushes its expiry forward)."""

from django.conf import settings
from django.utils import timezone
from django.utils.crypto import salted_hmac

from core.timeutil import clinic_today
from patients.models import Consent, Sponsor, active_consent_q

from .emails import invitation_link
from .models import SponsorInvitation, token_digest
from .services import INVITATION_LIFETIME


def _demo_token(sponsor):
    return salted_hmac("portal.demo.invitation", str(sponsor.pk)).hexdigest()[:32]


def seed_portal(*, users, program, stdout=None):
    # A sponsor without a login, preferably one whose consent is in force.
    candidates = (
        Sponsor.objects.filter(user__isnull=True).exclude(email="").order_by("pk")
    )
    consented = Consent.objects.filter(active_consent_q(clinic_today())).values(
        "sponsor_id"
    )
    sponsor = candidates.filter(pk__in=consented).first() or candidates.first()
    if sponsor is None:
        return None
    token = _demo_token(sponsor)
    now = timezone.now()
    invitation = SponsorInvitation.objects.filter(
        token_digest=token_digest(token)
    ).first()
    if invitation is None:
        SponsorInvitation.objects.filter(
            sponsor=sponsor, state=SponsorInvitation.State.OPEN
        ).update(state=SponsorInvitation.State.REPLACED, closed_at=now)
        invitation = SponsorInvitation.objects.create(
            sponsor=sponsor,
            email=sponsor.email.lower(),
            token_digest=token_digest(token),
            created_by=users["staff@demo.test"],
            created_at=now,
            expires_at=now + INVITATION_LIFETIME,
            sent_at=now,
        )
    elif invitation.state == SponsorInvitation.State.OPEN:
        invitation.expires_at = now + INVITATION_LIFETIME
        invitation.save(update_fields=["expires_at"])
    if stdout is not None and invitation.state == SponsorInvitation.State.OPEN:
        stdout.write(
            f"  Sponsor portal invitation for {sponsor.full_name} "
            f"({settings.SITE_URL}):\n    {invitation_link(token)}"
        )
    return invitation
