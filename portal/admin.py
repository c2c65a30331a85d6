from django.contrib import admin

from .models import SponsorInvitation


@admin.register(SponsorInvitation)
class SponsorInvitationAdmin(admin.ModelAdmin):
    """Read-only: invitations are sent, re-sent and withdrawn from the patient page
    (the services write the audit rows); the token itself is never stored."""

    list_display = ["sponsor", "email", "state", "created_at", "expires_at", "sent_at"]
    list_filter = ["state"]
    search_fields = ["email", "sponsor__full_name"]
    list_select_related = ["sponsor"]
    exclude = ["token_digest"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
