from django.contrib import admin

from .models import AuditEvent, ClinicSettings


@admin.register(ClinicSettings)
class ClinicSettingsAdmin(admin.ModelAdmin):
    fieldsets = [
        (
            "Hours targets",
            {
                "fields": [
                    "daily_target_minutes",
                    "weekly_target_minutes_adult",
                    "weekly_target_minutes_minor",
                ]
            },
        ),
        (
            "Attendance rules",
            {
                "fields": [
                    "absence_rule_count",
                    "absence_rule_days",
                    "consecutive_noshow_rule",
                    "correction_window_days",
                ]
            },
        ),
        (
            "Alerts",
            {
                "fields": [
                    "alert_grace_minutes",
                    "alert_max_attempts",
                    "sms_quiet_start",
                    "sms_quiet_end",
                ]
            },
        ),
    ]

    def has_add_permission(self, request):
        return not ClinicSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "role", "action", "model", "object_id", "patient"]
    list_filter = ["action", "role"]
    search_fields = ["model", "object_id", "user__email"]
    list_select_related = ["user", "patient"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
