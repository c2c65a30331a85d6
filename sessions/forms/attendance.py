"""Forms for taking attendance, correcting it, and choosing date ranges."""

import datetime

from django import forms

from sessions.models import Attendance

MAX_RANGE_DAYS = 731
EARLIEST = datetime.date(1900, 1, 1)
LATEST = datetime.date(2100, 12, 31)


class AttendanceForm(forms.Form):
    patient = forms.IntegerField(
        widget=forms.HiddenInput, min_value=1, max_value=2**63 - 1
    )
    status = forms.ChoiceField(choices=Attendance.Status.choices)
    minutes = forms.IntegerField(
        required=False,
        min_value=-(2**31),
        max_value=2**31,
        label="Minutes attended",
        error_messages={"invalid": "Minutes must be a whole number."},
    )
    note = forms.CharField(required=False, max_length=300)
    reason = forms.CharField(
        required=False, max_length=300, label="Reason for the correction"
    )


class DateRangeForm(forms.Form):
    start = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        for name, day in (("start", start), ("end", end)):
            if day and not EARLIEST <= day <= LATEST:
                self.add_error(name, "Choose a date between 1900 and 2100.")
                return data
        if start and end:
            if end < start:
                self.add_error("end", "The end date must be on or after the start.")
            elif end - start > datetime.timedelta(days=MAX_RANGE_DAYS):
                self.add_error("end", "Choose a range of at most two years.")
        return data


class ExportForm(DateRangeForm):
    report = forms.ChoiceField(
        label="Report",
        choices=[
            ("sessions", "One row per patient per session"),
            ("daily", "Per patient per day (per-diem billing)"),
        ],
        widget=forms.RadioSelect,
        initial="sessions",
    )
