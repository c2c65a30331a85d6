"""Scheduling forms. They shape input; the services hold the rules."""

import datetime

from django import forms

from core.timeutil import clinic_today, make_local
from core.widgets import ListSelect
from patients.models import Patient, Sponsor
from sessions.models import WEEKDAY_NAMES, Kind, Modality, Room
from sessions.selectors import scheduling as selectors

WEEKDAYS = list(enumerate(WEEKDAY_NAMES))
SCOPES = [
    ("one", "Only this session"),
    ("following", "This and all following sessions of the series"),
]


class FacilitatorField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return obj.full_name or obj.email


class PatientField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.last_name}, {obj.first_name} ({obj.record_number})"


def _patients_admitted_listed(field):
    """Accept any patient, so that the service can say why one who is not admitted
    cannot be booked, but offer only admitted patients in the list."""
    field.queryset = Patient.objects.all()
    field.widget.choices = PatientField(queryset=selectors.admitted_patients()).choices


def _clean_shape(form, data):
    """Field-level messages for the shape rules the service enforces again."""
    facilitators = data.get("facilitators")
    if facilitators is not None and not 1 <= len(facilitators) <= 2:
        form.add_error("facilitators", "Choose one or two facilitators.")
    if data.get("modality") == Modality.IN_PERSON and not data.get("room"):
        form.add_error("room", "An in-person session needs a room.")
    if data.get("modality") == Modality.TELEHEALTH and not data.get("telehealth_url"):
        form.add_error("telehealth_url", "A telehealth session needs its link.")
    return data


class _ShapeMixin(forms.Form):
    """Kind, topic, modality, room or link, capacity, facilitators, title."""

    kind = forms.ChoiceField(choices=Kind.choices, initial=Kind.GROUP)
    title = forms.CharField(
        max_length=120, required=False, help_text="Optional; shown instead of the kind."
    )
    topic = forms.ModelChoiceField(
        queryset=None, required=False, help_text="Group sessions only."
    )
    modality = forms.ChoiceField(choices=Modality.choices, initial=Modality.IN_PERSON)
    room = forms.ModelChoiceField(
        queryset=Room.objects.filter(active=True), required=False
    )
    telehealth_url = forms.URLField(
        label="Telehealth link", required=False, assume_scheme="https"
    )
    capacity = forms.IntegerField(
        min_value=1,
        max_value=200,
        required=False,
        help_text="Group sessions; defaults to the room's capacity.",
    )
    facilitators = FacilitatorField(
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        help_text="One or two.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["topic"].queryset = selectors.active_topics()
        self.fields["facilitators"].queryset = selectors.facilitator_choices()

    def clean(self):
        return _clean_shape(self, super().clean())

    def shape(self):
        d = self.cleaned_data
        return {
            "kind": d["kind"],
            "title": d["title"],
            "topic": d["topic"],
            "modality": d["modality"],
            "room": d["room"],
            "telehealth_url": d["telehealth_url"],
            "capacity": d["capacity"],
            "facilitators": list(d["facilitators"]),
        }


class SessionForm(_ShapeMixin):
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.TimeField(
        label="Starts at", widget=forms.TimeInput(attrs={"type": "time"})
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=5, max_value=720, initial=60
    )
    patient = PatientField(
        queryset=None,
        required=False,
        help_text="Optional: an admitted patient to book now.",
    )

    field_order = ["kind", "date", "start_time", "duration_minutes"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = selectors.admitted_patients()

    def times(self):
        d = self.cleaned_data
        start = make_local(d["date"], d["start_time"])
        return start, start + datetime.timedelta(minutes=d["duration_minutes"])


class SeriesForm(_ShapeMixin):
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    start_time = forms.TimeField(
        label="Starts at (local time)", widget=forms.TimeInput(attrs={"type": "time"})
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=5, max_value=720, initial=180
    )
    starts_on = forms.DateField(
        label="First day", widget=forms.DateInput(attrs={"type": "date"})
    )
    ends_on = forms.DateField(
        label="Last day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    occurrences = forms.IntegerField(
        label="or number of sessions", min_value=1, max_value=260, required=False
    )
    patients = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Optional: admitted patients to enrol in every occurrence.",
    )

    field_order = [
        "kind",
        "title",
        "topic",
        "weekdays",
        "start_time",
        "duration_minutes",
        "starts_on",
        "ends_on",
        "occurrences",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patients"].queryset = selectors.admitted_patients()
        self.fields["patients"].label_from_instance = lambda p: (
            f"{p.last_name}, {p.first_name} ({p.record_number})"
        )

    def clean(self):
        data = super().clean()
        if not data.get("ends_on") and not data.get("occurrences"):
            self.add_error("ends_on", "Give a last day or a number of sessions.")
        ends, starts = data.get("ends_on"), data.get("starts_on")
        if ends and starts and ends < starts:
            self.add_error("ends_on", "The last day is before the first day.")
        return data


class SessionEditForm(forms.Form):
    scope = forms.ChoiceField(
        choices=SCOPES, initial="one", widget=forms.RadioSelect, label="Apply to"
    )
    start_time = forms.TimeField(
        label="Starts at (local time)", widget=forms.TimeInput(attrs={"type": "time"})
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=5, max_value=720
    )
    title = forms.CharField(max_length=120, required=False)
    topic = forms.ModelChoiceField(queryset=None, required=False)
    modality = forms.ChoiceField(choices=Modality.choices)
    room = forms.ModelChoiceField(
        queryset=Room.objects.filter(active=True), required=False
    )
    telehealth_url = forms.URLField(
        label="Telehealth link", required=False, assume_scheme="https"
    )
    capacity = forms.IntegerField(min_value=1, max_value=200, required=False)
    facilitators = FacilitatorField(
        queryset=None, widget=forms.CheckboxSelectMultiple, help_text="One or two."
    )

    def __init__(self, *args, session, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session
        self.fields["topic"].queryset = selectors.active_topics()
        self.fields["facilitators"].queryset = selectors.facilitator_choices()
        if not session.series_id:
            del self.fields["scope"]
        if session.kind != Kind.GROUP:
            del self.fields["topic"]
            del self.fields["capacity"]

    def clean(self):
        return _clean_shape(self, super().clean())

    def changes(self):
        d = dict(self.cleaned_data)
        out = {
            "scope": d.pop("scope", "one"),
            "start_time": d.pop("start_time"),
            "duration_minutes": d.pop("duration_minutes"),
            "facilitators": list(d.pop("facilitators")),
        }
        if "capacity" in d and d["capacity"] is None:
            d.pop("capacity")
        out.update(d)
        return out


class CancelForm(forms.Form):
    scope = forms.ChoiceField(
        choices=SCOPES, initial="one", widget=forms.RadioSelect, label="Cancel"
    )
    reason = forms.CharField(max_length=200, label="Reason")

    def __init__(self, *args, session, **kwargs):
        super().__init__(*args, **kwargs)
        if not session.series_id:
            del self.fields["scope"]


class ParticipantAddForm(forms.Form):
    patient = PatientField(queryset=None, label="Add a patient")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _patients_admitted_listed(self.fields["patient"])


class SeriesPatientForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("add", "Add from this date"), ("remove", "Remove from this date")],
        widget=forms.RadioSelect,
        initial="add",
    )
    patient = PatientField(queryset=None)
    from_date = forms.DateField(
        label="Starting on", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _patients_admitted_listed(self.fields["patient"])
        self.fields["from_date"].initial = clinic_today()


class SeriesRescheduleForm(forms.Form):
    """Other weekdays (and time) for the rest of a series, from a date."""

    from_date = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    weekdays = forms.TypedMultipleChoiceField(
        label="New weekdays",
        choices=WEEKDAYS,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
    )
    start_time = forms.TimeField(
        label="Starts at (local time)",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    duration_minutes = forms.IntegerField(
        label="Duration (minutes)", min_value=5, max_value=720
    )

    def __init__(self, *args, series, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_date"].initial = max(clinic_today(), series.starts_on)
        self.fields["weekdays"].initial = list(series.weekdays)
        self.fields["start_time"].initial = series.start_time
        self.fields["duration_minutes"].initial = series.duration_minutes

    def clean_from_date(self):
        day = self.cleaned_data["from_date"]
        if day < clinic_today():
            raise forms.ValidationError("Change a series from today or a later date.")
        return day


class FamilyMemberForm(forms.Form):
    sponsor = forms.ModelChoiceField(
        queryset=Sponsor.objects.none(),
        required=False,
        help_text="Or invite one of the patient's sponsors.",
    )
    name = forms.CharField(max_length=150, required=False)
    relationship = forms.CharField(max_length=60, required=False)

    def __init__(self, *args, sponsors=(), **kwargs):
        super().__init__(*args, **kwargs)
        ids = [s.pk for s in sponsors]
        self.fields["sponsor"].queryset = Sponsor.objects.filter(pk__in=ids)

    def clean(self):
        data = super().clean()
        if not data.get("sponsor") and not (
            data.get("name") and data.get("relationship")
        ):
            raise forms.ValidationError(
                "Give a name and relationship, or choose a sponsor."
            )
        return data


class TopicForm(forms.Form):
    name = forms.CharField(max_length=80, label="Topic name")
    active = forms.BooleanField(required=False, initial=True, label="In use")


class RoomForm(forms.Form):
    name = forms.CharField(max_length=60, label="Room name")
    capacity = forms.IntegerField(min_value=1, max_value=500, label="Places")
    active = forms.BooleanField(required=False, initial=True, label="In use")


class AgendaForm(forms.Form):
    day = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )


class CalendarFilterForm(forms.Form):
    """The calendar's controls: a room, a facilitator, a patient found by name or
    record number. Only rendered (the view reads the query string itself): the
    choices are the lists the page already loaded."""

    room = forms.Field(required=False, label="Room", widget=ListSelect)
    facilitator = forms.Field(required=False, label="Facilitator", widget=ListSelect)
    find = forms.CharField(
        required=False,
        max_length=100,
        label="Patient",
        widget=forms.SearchInput(
            attrs={"placeholder": "Name or record number", "autocomplete": "off"}
        ),
    )

    def __init__(self, *args, rooms, facilitators, **kwargs):
        """`rooms` and `facilitators`: (id, name) pairs."""
        kwargs.setdefault("auto_id", "f-%s")
        super().__init__(*args, **kwargs)
        self.fields["room"].widget.choices = [("", "All rooms"), *rooms]
        self.fields["facilitator"].widget.choices = [("", "Everyone"), *facilitators]
