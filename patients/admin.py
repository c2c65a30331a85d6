"""Django admin for administrators. Signed decisions, consents and the disclosure
log are read-only here: changes go through the app's services (a decision cannot
change at all; a consent is replaced or revoked)."""

from django.contrib import admin

from .models import (
    AdmissionRequest,
    Consent,
    Disclosure,
    DoctorDecision,
    Patient,
    PatientStatusChange,
    Sponsor,
    Track,
)


@admin.register(Track)
class TrackAdmin(admin.ModelAdmin):
    list_display = ["name", "description", "active"]
    list_editable = ["active"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class StatusChangeInline(admin.TabularInline):
    model = PatientStatusChange
    extra = 0
    can_delete = False
    readonly_fields = ["from_status", "to_status", "at", "by", "reason"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    """Status and its dates change only through the lifecycle in the app."""

    list_display = ["record_number", "last_name", "first_name", "status", "track"]
    list_filter = ["status", "track", "referral_source"]
    search_fields = ["record_number", "last_name", "first_name", "phone"]
    list_select_related = ["track"]
    readonly_fields = [
        "record_number",
        "status",
        "referred_on",
        "admitted_on",
        "discharged_on",
        "discharge_reason",
    ]
    raw_id_fields = ["primary_counselor", "attending_doctor"]
    inlines = [StatusChangeInline]

    def has_add_permission(self, request):
        return False  # registration draws a record number: use the app

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AdmissionRequest)
class AdmissionRequestAdmin(ReadOnlyAdmin):
    list_display = ["patient", "requested_at", "requested_by", "status"]
    list_filter = ["status"]
    list_select_related = ["patient", "requested_by"]


@admin.register(DoctorDecision)
class DoctorDecisionAdmin(ReadOnlyAdmin):
    list_display = ["patient", "decision", "signed_by", "signed_at", "review_date"]
    list_filter = ["decision"]
    list_select_related = ["patient", "signed_by"]


@admin.register(Sponsor)
class SponsorAdmin(ReadOnlyAdmin):
    list_display = ["full_name", "relationship", "patient", "user"]
    search_fields = ["full_name", "email"]
    list_select_related = ["patient", "user"]


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = [
        "patient",
        "sponsor",
        "scope",
        "effective_on",
        "expires_on",
        "revoked_on",
    ]
    list_select_related = ["patient", "sponsor"]


@admin.register(Disclosure)
class DisclosureAdmin(ReadOnlyAdmin):
    list_display = ["at", "patient", "recipient", "what", "channel"]
    list_filter = ["channel"]
    list_select_related = ["patient"]
