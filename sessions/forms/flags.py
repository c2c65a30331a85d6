"""The doctor's review of an attendance-rule flag."""

from django import forms

from sessions.services.flags import NOTE_MAX_LENGTH


class FlagReviewForm(forms.Form):
    note = forms.CharField(
        max_length=NOTE_MAX_LENGTH,
        label="Review note",
        help_text="What you found or decided (required).",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)
