from django import forms

from sessions.models import Alert


class AlertFilterForm(forms.Form):
    date_from = forms.DateField(
        label="Session from",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    date_to = forms.DateField(
        label="Session to",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    patient = forms.CharField(label="Patient", required=False, max_length=80)
    sponsor = forms.CharField(label="Sponsor", required=False, max_length=80)
    state = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "Any status"), *Alert.State.choices],
    )
    kind = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "Any kind"), *Alert.Kind.choices]
    )
    # One patient's alerts, by id (the patient page's link): no name in the URL.
    patient_id = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=2**31 - 1,
        widget=forms.HiddenInput,
        error_messages={
            key: "That patient link is not valid."
            for key in ("invalid", "min_value", "max_value")
        },
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", "The end date is before the start date.")
        return data
