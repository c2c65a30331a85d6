"""Reads of accounts."""

from accounts.models import User


def user_by_email(email):
    """The login with this email, whatever its case and role, or None."""
    email = (email or "").strip()
    return User.objects.filter(email__iexact=email).first() if email else None
