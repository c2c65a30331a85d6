import hashlib

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


def token_digest(token):
    """The SHA-256 of an invitation token; only the digest is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class SponsorInvitation(models.Model):
    """A one-time link that lets a sponsor set a password (or, when they already
    have a sponsor account, adds this patient's sponsor entry to it).

    The token itself is never stored: only its SHA-256 digest, so that a copy of
    the database does not hold working links."""

    class State(models.TextChoices):
        OPEN = "open", "Waiting for the sponsor"
        ACCEPTED = "accepted", "Accepted"
        WITHDRAWN = "withdrawn", "Withdrawn"
        REPLACED = "replaced", "Replaced by a newer invitation"
        # Expiry is not a state: an open invitation past `expires_at` is expired
        # (is_expired), and the patient page says so with the date.

    sponsor = models.ForeignKey(
        "patients.Sponsor", on_delete=models.PROTECT, related_name="invitations"
    )
    email = models.EmailField(help_text="Where the link was sent.")
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.OPEN, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    send_error = models.CharField(max_length=300, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    accepted_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(state__in=["open", "accepted", "withdrawn", "replaced"]),
                name="invitation_state_valid",
            ),
            models.UniqueConstraint(
                fields=["sponsor"],
                condition=Q(state="open"),
                name="invitation_one_open_per_sponsor",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="invitation_expires_after_creation",
            ),
            models.CheckConstraint(
                condition=Q(state="open") | Q(closed_at__isnull=False),
                name="invitation_closed_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state="accepted") | Q(accepted_user__isnull=False),
                name="invitation_accepted_has_user",
            ),
        ]

    def __str__(self):
        return f"Invitation {self.pk} for sponsor {self.sponsor_id} ({self.state})"

    def is_expired(self, now=None):
        return (now or timezone.now()) >= self.expires_at

    @property
    def is_usable(self):
        return self.state == self.State.OPEN and not self.is_expired()
