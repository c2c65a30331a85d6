"""core.choices.display gives what get_<field>_display() gives, for every
choice of every choice field of the models the patient page shows, and for a
value that is not a choice."""

import pytest
from django.apps import apps

from core.choices import display

MODELS = [
    "patients.Patient",
    "patients.Sponsor",
    "patients.Consent",
    "patients.AdmissionRequest",
    "patients.DoctorDecision",
    "patients.PatientStatusChange",
    "therapy_sessions.Alert",
    "therapy_sessions.TherapySession",
]


@pytest.mark.parametrize("label", MODELS)
def test_labels_are_those_of_get_display(label):
    model = apps.get_model(label)
    fields = [f for f in model._meta.concrete_fields if f.choices and not f.is_relation]
    assert fields
    for field in fields:
        getter = getattr(model, f"get_{field.name}_display")
        for value in [v for v, _ in field.flatchoices] + ["not-a-choice", None, ""]:
            obj = model()
            setattr(obj, field.attname, value)
            assert display(obj, field.name) == getter(obj), (field.name, value)
