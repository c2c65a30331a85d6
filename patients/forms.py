"""Forms bind and clean input; the rules live in patients.services."""

import re

from django import forms
from django.core.exceptions import ValidationError

from accounts import roles
from accounts.models import User
from core.timeutil import clinic_today
from core.widgets import ListSelect

from .models import AdmissionRequest, Consent, DoctorDecision, Patient, Sponsor, Track
from .services import PATIENT_FIELDS


def normalize_phone(value):
    """A North American number as (555) 201-3344, or an international +digits.
    Raises ValidationError for a number that cannot exist."""
    value = (value or "").strip()
    if not value:
        return ""
    if re.search(r"[^0-9()+.\-\s/x]", value, flags=re.I):
        raise ValidationError("A phone number has only digits, spaces, ( ) - + and .")
    digits = re.sub(r"\D", "", value)
    if value.startswith("+") and not value.startswith("+1"):
        if not 8 <= len(digits) <= 15:
            raise ValidationError(
                "An international number has 8 to 15 digits after the +."
            )
        return "+" + digits
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10:
        raise ValidationError(
            "Enter a 10-digit phone number with its area code, e.g. (555) 201-3344."
        )
    if digits[0] in "01" or digits[3] in "01":
        raise ValidationError(
            "That phone number cannot exist: area codes and exchanges do not start "
            "with 0 or 1."
        )
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


class PhoneField(forms.CharField):
    widget = forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"})

    def clean(self, value):
        return normalize_phone(super().clean(value))


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


def staff_users():
    return User.objects.filter(groups__name=roles.STAFF, is_active=True).order_by(
        "full_name"
    )


def doctor_users():
    return User.objects.filter(groups__name=roles.DOCTOR, is_active=True).order_by(
        "full_name"
    )


class PatientForm(forms.ModelForm):
    phone = PhoneField(max_length=32, required=False)
    presenting_problems = forms.MultipleChoiceField(
        choices=Patient.Problem.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    confirm_duplicate = forms.BooleanField(
        required=False,
        label="This is a different person who has the same name and date of birth",
    )

    class Meta:
        model = Patient
        fields = list(PATIENT_FIELDS)
        widgets = {
            "date_of_birth": DateInput(),
            "medical_probation_details": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {
            "presenting_problems_other": "Other problem (describe)",
            "medical_probation": "On medical probation",
            "sponsor_required": "A sponsor is required (admission waits for one "
            "with an active consent)",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["primary_counselor"].queryset = staff_users()
        self.fields["attending_doctor"].queryset = doctor_users()
        self.fields["track"].queryset = Track.objects.filter(active=True)
        self.fields["presenting_problems"].required = True
        self.fields["presenting_problems"].error_messages["required"] = (
            "Choose at least one presenting problem."
        )
        self.show_duplicate_confirm = bool(self.data.get("confirm_duplicate"))

    def clean_date_of_birth(self):
        dob = self.cleaned_data["date_of_birth"]
        if dob and dob > clinic_today():
            raise ValidationError("The date of birth cannot be in the future.")
        return dob

    def service_fields(self):
        data = dict(self.cleaned_data)
        data.pop("confirm_duplicate", None)
        return data

    def _post_clean(self):
        # The service validates and saves; skip the ModelForm's model validation
        # (record_number is generated there).
        pass


class PatientFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        required=False,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Name, record number or phone"}
        ),
    )
    status = forms.ChoiceField(
        choices=[("", "Any status"), *Patient.Status.choices],
        required=False,
        widget=ListSelect,
    )
    counselor = forms.ChoiceField(required=False, widget=ListSelect)
    doctor = forms.ChoiceField(required=False, widget=ListSelect)
    track = forms.ChoiceField(required=False, widget=ListSelect)
    sort = forms.ChoiceField(
        choices=[
            ("name", "Name A-Z"),
            ("-name", "Name Z-A"),
            ("record", "Record number"),
            ("status", "Status"),
            ("-referred", "Newest referral"),
            ("-admitted", "Latest admission"),
        ],
        required=False,
        widget=ListSelect,
    )

    def __init__(self, *args, choices, **kwargs):
        super().__init__(*args, **kwargs)
        # The choices were loaded once by the selector (filter_choices); a value
        # is valid when it is one of them, so neither rendering nor validating
        # costs a query.
        self.fields["counselor"].choices = [("", "Any counselor")] + [
            (str(pk), name) for pk, name in choices["counselors"]
        ]
        self.fields["doctor"].choices = [("", "Any doctor")] + [
            (str(pk), name) for pk, name in choices["doctors"]
        ]
        self.fields["track"].choices = [("", "Any track")] + [
            (str(pk), name) for pk, name in choices["tracks"]
        ]
        self._choices = choices

    def _pick(self, name, rows):
        """The id of the chosen (id, name) row, or None."""
        raw = str(self.data.get(name))
        return next((pk for pk, _ in rows if str(pk) == raw), None)

    def stored(self):
        """The cleaned parameters as plain strings, to keep in the session."""
        filters = self.filters()
        return {
            "q": filters["search"],
            "status": filters["status"],
            "counselor": str(filters["counselor"] or ""),
            "doctor": str(filters["doctor"] or ""),
            "track": str(filters["track"] or ""),
            "sort": filters["sort"],
        }

    def filters(self):
        """Cleaned filters without extra queries (invalid values are ignored)."""
        status = self.data.get("status", "")
        sort = self.data.get("sort", "name")
        return {
            "search": str(self.data.get("q", "")).replace("\x00", "")[:100],
            "status": status if status in Patient.Status.values else "",
            "counselor": self._pick("counselor", self._choices["counselors"]),
            "doctor": self._pick("doctor", self._choices["doctors"]),
            "track": self._pick("track", self._choices["tracks"]),
            "sort": sort if sort in dict(self.fields["sort"].choices) else "name",
        }


class AdmissionRequestForm(forms.ModelForm):
    presenting_problems = forms.MultipleChoiceField(
        choices=Patient.Problem.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = AdmissionRequest
        fields = [
            "clinical_summary",
            "presenting_problems",
            "level_of_care",
            "asam_edition",
            "proposed_track",
            "proposed_start",
            "medical_probation",
            "medical_probation_details",
            "doctor",
        ]
        widgets = {
            "proposed_start": DateInput(),
            "clinical_summary": forms.Textarea(attrs={"rows": 6}),
            "medical_probation_details": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {
            "asam_edition": "ASAM Criteria edition used",
            "doctor": "Doctor asked to review (optional)",
            "medical_probation": "On medical probation",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["doctor"].queryset = doctor_users()
        self.fields["proposed_track"].queryset = Track.objects.filter(active=True)

    def _post_clean(self):
        pass


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=DoctorDecision.Decision.choices, widget=forms.RadioSelect
    )
    conditions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="Required for an approval with conditions.",
    )
    review_date = forms.DateField(
        widget=DateInput(),
        required=False,
        help_text="Required for an approval with conditions.",
    )
    reason = forms.CharField(
        label="Reason",
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Required when declining.",
    )
    password = forms.CharField(
        label="Your password (electronic signature)",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        strip=False,
    )
    otp_code = forms.CharField(
        label="One-time code from your authenticator app",
        required=False,
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
        help_text="Required once two-factor authentication is on for your account.",
    )


class HoldForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why is the patient on hold?")
    clear_future_sessions = forms.BooleanField(
        required=False,
        label="Also remove the patient from all future sessions",
    )


class ResumeForm(forms.Form):
    reason = forms.CharField(max_length=300, required=False, label="Note (optional)")


class DischargeForm(forms.Form):
    on = forms.DateField(label="Discharge date", widget=DateInput())
    reason = forms.ChoiceField(
        label="Reason for discharge",
        choices=[("", "Choose a reason"), *Patient.DischargeReason.choices],
    )
    note = forms.CharField(max_length=200, required=False, label="Note (optional)")
    confirm = forms.BooleanField(
        label="I understand that the patient is removed from all future sessions",
        error_messages={"required": "Confirm the removal from future sessions."},
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(max_length=200, label="Why is the request withdrawn?")


class SponsorForm(forms.ModelForm):
    phone = PhoneField(max_length=32, required=False)

    class Meta:
        model = Sponsor
        fields = ["full_name", "relationship", "phone", "email", "preferred_channel"]
        labels = {"preferred_channel": "Preferred alert channel"}

    def _post_clean(self):
        pass


class ConsentForm(forms.Form):
    scope = forms.ChoiceField(
        label="What may be disclosed",
        choices=Consent.Scope.choices,
        initial=Consent.Scope.ATTENDANCE,
    )
    purpose = forms.CharField(max_length=300, widget=forms.Textarea(attrs={"rows": 2}))
    effective_on = forms.DateField(label="Effective from", widget=DateInput())
    expiry = forms.ChoiceField(
        label="Expires",
        choices=[("discharge", "On discharge from the program"), ("date", "On a date")],
        widget=forms.RadioSelect,
        initial="discharge",
    )
    expires_on = forms.DateField(
        label="Expiry date", widget=DateInput(), required=False
    )
    revocable = forms.ChoiceField(
        label="Revocation",
        choices=[
            ("yes", "The patient may revoke this consent at any time"),
            ("no", "Irrevocable until a stated event (court-referred patients only)"),
        ],
        widget=forms.RadioSelect,
        initial="yes",
    )
    irrevocable_until = forms.CharField(
        max_length=200,
        required=False,
        label="Irrevocable until",
        help_text="For example: the end of the term of probation set by the court.",
    )
    signed_name = forms.CharField(
        max_length=150, label="Patient's signature (typed full name)"
    )
    signed_on = forms.DateField(label="Date signed", widget=DateInput())
    witnessed = forms.BooleanField(
        required=False,
        label="I witnessed the patient sign this consent",
    )

    def service_kwargs(self):
        d = self.cleaned_data
        by_date = d["expiry"] == "date"
        if by_date and not d.get("expires_on"):
            self.add_error("expires_on", "Give the expiry date.")
            return None
        return {
            "scope": d["scope"],
            "purpose": d["purpose"],
            "effective_on": d["effective_on"],
            "expires_on": d["expires_on"] if by_date else None,
            "expires_on_discharge": not by_date,
            "revocable": d["revocable"] == "yes",
            "irrevocable_until": d["irrevocable_until"],
            "signed_name": d["signed_name"],
            "signed_on": d["signed_on"],
            "witnessed": d["witnessed"],
        }


class RevokeForm(forms.Form):
    on = forms.DateField(label="Revoked on", widget=DateInput())
    how = forms.CharField(
        max_length=200,
        label="How the revocation was received",
        help_text="For example: signed note handed to the front desk.",
    )
    event_occurred = forms.BooleanField(
        required=False, label="The stated event has occurred"
    )


class SponsorChoiceForm(forms.Form):
    sponsor = forms.ModelChoiceField(
        queryset=Sponsor.objects.none(), label="Give a copy to"
    )

    def __init__(self, *args, sponsors, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sponsor"].queryset = Sponsor.objects.filter(
            pk__in=[s.pk for s in sponsors]
        )
