from django.contrib import admin

from .models import (
    CalendarFeed,
    FamilyMember,
    Participant,
    Room,
    SessionFacilitator,
    SessionSeries,
    TherapySession,
    Topic,
)


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "capacity", "active"]
    list_editable = ["capacity", "active"]


@admin.register(Topic)
class TopicAdmin(admin.ModelAdmin):
    list_display = ["name", "active"]
    list_editable = ["active"]


class FacilitatorInline(admin.TabularInline):
    model = SessionFacilitator
    extra = 0
    fields = ["user"]
    raw_id_fields = ["user"]


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    fields = ["patient", "added_by", "added_at"]
    readonly_fields = ["added_at"]
    raw_id_fields = ["patient", "added_by"]


class FamilyMemberInline(admin.TabularInline):
    model = FamilyMember
    extra = 0
    raw_id_fields = ["sponsor"]


@admin.register(TherapySession)
class TherapySessionAdmin(admin.ModelAdmin):
    """Read-mostly: scheduling goes through the clinic's pages (and services)."""

    list_display = ["__str__", "kind", "start", "room", "status", "series"]
    list_filter = ["kind", "status", "modality", "room"]
    date_hierarchy = "start"
    list_select_related = ["room", "topic", "series"]
    raw_id_fields = ["series", "created_by"]
    inlines = [FacilitatorInline, ParticipantInline, FamilyMemberInline]


@admin.register(SessionSeries)
class SessionSeriesAdmin(admin.ModelAdmin):
    list_display = ["__str__", "kind", "start_time", "starts_on", "ends_on", "room"]
    list_select_related = ["room", "topic"]
    raw_id_fields = ["created_by"]
    filter_horizontal = ["facilitators"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["pk", "user", "patient", "created_at"]
    raw_id_fields = ["user", "patient"]
    readonly_fields = ["token"]
