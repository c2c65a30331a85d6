"""core.jsonrows.instance builds from a to_jsonb row the instance the ORM reads."""

import pytest
from django.db.models.signals import post_init

from core.jsonrows import fetch_row, instance
from patients.models import Consent, Patient
from sessions.models import TherapySession
from tests.factories import AdmittedPatientFactory, ConsentFactory, SessionFactory

pytestmark = pytest.mark.django_db


def _values(obj):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _as_read(model, pk):
    table = model._meta.db_table
    # The table name is a constant of the model, not a value.
    (row,) = fetch_row(f"SELECT to_jsonb(x) FROM {table} x WHERE id = %s", [pk])  # noqa: S608
    return instance(model, row)


@pytest.mark.parametrize(
    "make",
    [
        lambda: AdmittedPatientFactory(presenting_problems=["alcohol", "opioids"]),
        lambda: ConsentFactory(),
        lambda: SessionFactory(),
    ],
)
def test_an_instance_from_a_json_row_equals_the_orms(make):
    made = make()
    model = type(made)
    read = _as_read(model, made.pk)
    assert _values(read) == _values(model.objects.get(pk=made.pk))
    assert not read._state.adding and read._state.db == "default"
    assert instance(model, None) is None


def test_models_with_init_receivers_are_built_through_from_db():
    seen = []

    def receiver(sender, instance, **kwargs):
        seen.append(instance)

    post_init.connect(receiver, sender=Patient)
    try:
        patient = AdmittedPatientFactory()
        seen.clear()
        read = _as_read(Patient, patient.pk)
    finally:
        post_init.disconnect(receiver, sender=Patient)
    assert seen == [read]
    assert _values(read) == _values(Patient.objects.get(pk=patient.pk))


def test_the_pages_models_take_the_direct_path():
    # Nothing registers init receivers for the models the pages build (a
    # receiver would only make them slower, see the test above).
    for model in (Patient, Consent, TherapySession):
        assert not post_init.has_listeners(model)
