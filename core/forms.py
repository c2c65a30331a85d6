"""Forms for the administrator pages: audit search and program settings."""

import datetime

from django import forms
from django.core.exceptions import ValidationError

from accounts.models import User

from .models import AuditEvent, ClinicSettings

EARLIEST = datetime.date(2000, 1, 1)
LATEST = datetime.date(2100, 12, 31)


class AuditSearchForm(forms.Form):
    """Sent by POST, so that patient names never appear in a URL or a log."""

    patient = forms.CharField(
        required=False,
        max_length=100,
        help_text="Record number, or part of the first or last name.",
    )
    user = forms.ModelChoiceField(
        queryset=User.objects.order_by("full_name", "email"),
        required=False,
        empty_label="Anyone",
    )
    action = forms.ChoiceField(
        choices=[("", "Any action"), *AuditEvent.Action.choices], required=False
    )
    date_from = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)

    def clean_patient(self):
        value = self.cleaned_data["patient"].strip()
        if any(ord(c) < 32 for c in value):
            raise ValidationError("Use letters, digits and spaces only.")
        return value

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        for name in ("date_from", "date_to"):
            day = data.get(name)
            if day and not EARLIEST <= day <= LATEST:
                self.add_error(name, "Enter a date between 2000 and 2100.")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data


class ClinicSettingsForm(forms.ModelForm):
    class Meta:
        model = ClinicSettings
        fields = [
            "daily_target_minutes",
            "weekly_target_minutes_adult",
            "weekly_target_minutes_minor",
            "alert_grace_minutes",
            "absence_rule_count",
            "absence_rule_days",
            "consecutive_noshow_rule",
            "correction_window_days",
            "sms_quiet_start",
            "sms_quiet_end",
            "alert_max_attempts",
        ]
        labels = {
            "daily_target_minutes": "Daily target (minutes)",
            "weekly_target_minutes_adult": "Weekly target, adults (minutes)",
            "weekly_target_minutes_minor": "Weekly target, adolescents (minutes)",
            "alert_grace_minutes": "Grace period before alerts (minutes)",
            "absence_rule_count": "Unexcused absences that flag a patient",
            "absence_rule_days": "… within this many days",
            "consecutive_noshow_rule": "Consecutive no-shows that flag a patient",
            "correction_window_days": "Attendance correction window (days)",
            "sms_quiet_start": "No text messages from",
            "sms_quiet_end": "No text messages until",
            "alert_max_attempts": "Delivery attempts per alert",
        }
        widgets = {
            "sms_quiet_start": forms.TimeInput(attrs={"type": "time"}),
            "sms_quiet_end": forms.TimeInput(attrs={"type": "time"}),
        }

    # (field, smallest, largest): bounds a clinic would never go beyond.
    BOUNDS = [
        ("daily_target_minutes", 30, 24 * 60),
        ("weekly_target_minutes_adult", 60, 7 * 24 * 60),
        ("weekly_target_minutes_minor", 60, 7 * 24 * 60),
        ("alert_grace_minutes", 0, 24 * 60),
        ("absence_rule_count", 1, 100),
        ("absence_rule_days", 1, 365),
        ("consecutive_noshow_rule", 1, 100),
        ("correction_window_days", 0, 365),
        ("alert_max_attempts", 1, 50),
    ]

    def clean(self):
        data = super().clean()
        for name, low, high in self.BOUNDS:
            value = data.get(name)
            if value is not None and not low <= value <= high:
                self.add_error(name, f"Enter a number from {low} to {high}.")
        daily = data.get("daily_target_minutes")
        weekly = data.get("weekly_target_minutes_adult")
        if daily and weekly and daily > weekly:
            self.add_error(
                "daily_target_minutes",
                "The daily target cannot be more than the adult weekly target.",
            )
        start, end = data.get("sms_quiet_start"), data.get("sms_quiet_end")
        if start is not None and end is not None and start == end:
            self.add_error("sms_quiet_end", "Quiet hours need a different end time.")
        return data
