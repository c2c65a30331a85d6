from django.contrib import admin

from patients.admin import ReadOnlyAdmin

from .models import SponsorInvitation


@admin.register(SponsorInvitation)
class SponsorInvitationAdmin(ReadOnlyAdmin):
    """Read-only: invitations are sent, re-sent and withdrawn from the patient page
    (the services write the audit rows); the token itself is never stored."""

    list_display = ["sponsor", "email", "state", "created_at", "expires_at", "sent_at"]
    list_filter = ["state"]
    search_fields = ["email", "sponsor__full_name"]
    list_select_related = ["sponsor"]
    exclude = ["token_digest"]
