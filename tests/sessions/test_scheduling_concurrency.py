"""Two staff members add the last seat of a group at the same moment."""

import threading

import pytest
from django.db import IntegrityError, connections

from sessions.models import Participant
from sessions.services import scheduling as svc
from sessions.services.scheduling import SchedulingError
from tests.factories import AdmittedPatientFactory, SessionFactory, enrol, staff


@pytest.mark.django_db(transaction=True)
def test_two_threads_enrolling_the_last_seat_exactly_one_succeeds():
    actor = staff()
    session = enrol(SessionFactory(capacity=3), *AdmittedPatientFactory.create_batch(2))
    contenders = AdmittedPatientFactory.create_batch(2)
    barrier = threading.Barrier(2)
    results = {}

    def enrol_last_seat(patient):
        try:
            barrier.wait(timeout=10)
            svc.participant_add(session=session, patient=patient, actor=actor)
            results[patient.pk] = "ok"
        except SchedulingError as exc:
            results[patient.pk] = exc.messages[0]
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=enrol_last_seat, args=(p,)) for p in contenders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(results) == sorted(p.pk for p in contenders)
    outcomes = list(results.values())
    assert outcomes.count("ok") == 1
    refused = next(o for o in outcomes if o != "ok")
    assert "is full (3 places)" in refused
    assert Participant.objects.filter(session=session).count() == 3


@pytest.mark.django_db(transaction=True)
def test_capacity_trigger_refuses_a_fourth_patient_even_without_the_service():
    session = enrol(SessionFactory(capacity=3), *AdmittedPatientFactory.create_batch(3))
    with pytest.raises(IntegrityError, match="is full"):
        Participant.objects.create(session=session, patient=AdmittedPatientFactory())
