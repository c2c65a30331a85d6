"""Helpers for the sponsor portal tests: a sponsor login with consented patients."""

import datetime

import pytest
from django.utils import timezone

from accounts import roles
from sessions.models import Alert, Attendance
from tests.conftest import make_user
from tests.factories import (
    AdmittedPatientFactory,
    ConsentFactory,
    SessionFactory,
    SponsorFactory,
    enrol,
    past_session,
)


def sponsor_login(email="sid@family.test", full_name="Sid Sponsor"):
    return make_user(roles.SPONSOR, email=email, full_name=full_name)


def consented_patient(user, *, first_name="Paula", last_name="Patient", **consent):
    """An admitted patient with a sponsor entry linked to `user` and an active
    consent covering attendance."""
    patient = AdmittedPatientFactory(first_name=first_name, last_name=last_name)
    sponsor = SponsorFactory(
        patient=patient, user=user, full_name=user.full_name, email=user.email
    )
    return ConsentFactory(sponsor=sponsor, **consent)


def attended(patient, *, hours_ago, status=Attendance.Status.PRESENT, minutes=None):
    session = past_session(hours_ago=hours_ago)
    enrol(session, patient)
    if minutes is None:
        minutes = 0 if status in Attendance.ABSENCES else session.minutes
    return Attendance.objects.create(
        session=session,
        patient=patient,
        status=status,
        minutes=minutes,
        recorded_by=session.created_by,
    )


def upcoming(patient, *, days=1):
    start = timezone.now() + datetime.timedelta(days=days)
    session = SessionFactory(start=start, end=start + datetime.timedelta(hours=3))
    enrol(session, patient)
    return session


def sent_alert(consent, session):
    return Alert.objects.create(
        session=session,
        patient=consent.patient,
        sponsor=consent.sponsor,
        channel=Alert.Channel.EMAIL,
        state=Alert.State.SENT,
        sent_at=timezone.now(),
    )


@pytest.fixture
def sponsor(db):
    return sponsor_login()


@pytest.fixture
def consent(sponsor):
    return consented_patient(sponsor)
