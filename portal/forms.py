import datetime

from django import forms
from django.contrib.auth import password_validation

from accounts.models import User
from patients.forms import PhoneField
from patients.models import Sponsor

from .selectors import letter_bounds


class SetPasswordForm(forms.Form):
    """The sponsor's first password, checked by the site's password validators."""

    password1 = forms.CharField(
        label="Choose a password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 12 characters; not a common password, not all digits, "
        "and not like your name or email.",
    )
    password2 = forms.CharField(
        label="Type it again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, email, full_name, **kwargs):
        super().__init__(*args, **kwargs)
        self._probe = User(email=email, full_name=full_name)

    def clean_password2(self):
        one = self.cleaned_data.get("password1")
        two = self.cleaned_data.get("password2")
        if one and two and one != two:
            raise forms.ValidationError("The two passwords are different.")
        return two

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password1")
        if password and not self.errors:
            try:
                password_validation.validate_password(password, self._probe)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned


class PreferencesForm(forms.Form):
    channel = forms.ChoiceField(
        label="How should we alert you?",
        choices=Sponsor.Channel.choices,
        widget=forms.RadioSelect,
    )
    # Checked and written as the clinic's forms write a sponsor's phone (a number
    # that can exist, with its area code), so that text messages reach it.
    phone = PhoneField(
        label="Mobile phone for text messages", max_length=32, required=False
    )

    def clean(self):
        cleaned = super().clean()
        channel = cleaned.get("channel")
        needs_phone = channel in (Sponsor.Channel.SMS, Sponsor.Channel.BOTH)
        if needs_phone and not cleaned.get("phone") and "phone" not in self.errors:
            self.add_error("phone", "Text messages need a mobile phone number.")
        return cleaned


class LetterForm(forms.Form):
    start = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, consent, **kwargs):
        super().__init__(*args, **kwargs)
        self.first_day, self.last_day = letter_bounds(consent)
        for name in ("start", "end"):
            self.fields[name].widget.attrs.update(
                min=self.first_day.isoformat(), max=self.last_day.isoformat()
            )
        self.fields["start"].help_text = (
            f"The consent covers {self.first_day:%b %-d, %Y} to "
            f"{self.last_day:%b %-d, %Y}."
        )

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is None or end is None:
            return cleaned
        if start > end:
            raise forms.ValidationError("The start date is after the end date.")
        if start < self.first_day or end > self.last_day:
            raise forms.ValidationError(
                "The letter can cover only the days the consent covers: "
                f"{self.first_day:%b %-d, %Y} to {self.last_day:%b %-d, %Y}."
            )
        if end - start > datetime.timedelta(days=366):
            raise forms.ValidationError("A letter covers at most one year.")
        return cleaned
