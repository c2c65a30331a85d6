import pytest
from django.db import IntegrityError, transaction

from sessions.models import Participant
from tests import factories as f


def test_factories_build_a_consistent_clinic(db):
    consent = f.ConsentFactory()
    assert consent.is_active
    session = f.enrol(f.SessionFactory(), consent.patient)
    participant = Participant.objects.get(session=session)
    # The trigger copies the session's times onto the participant row.
    assert participant.start == session.start and participant.end == session.end


def test_database_refuses_a_patient_in_two_overlapping_sessions(db):
    patient = f.AdmittedPatientFactory()
    first = f.enrol(f.SessionFactory(), patient)
    second = f.SessionFactory(start=first.start, end=first.end, room=f.RoomFactory())
    with pytest.raises(IntegrityError), transaction.atomic():
        f.enrol(second, patient)
