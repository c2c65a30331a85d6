"""factory_boy factories shared by every test module.

They write rows directly (no services), for arranging a test's starting state."""

import datetime

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts import roles
from accounts.models import User
from core.timeutil import clinic_today, make_local
from patients.models import Consent, Patient, Sponsor, Track
from sessions.models import (
    Kind,
    Modality,
    Participant,
    Room,
    SessionFacilitator,
    TherapySession,
    Topic,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@clinic.test")
    full_name = factory.Faker("name")
    password = factory.django.Password("correct-horse-battery-9")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


def staff(**kw):
    return UserFactory(role=roles.STAFF, **kw)


def doctor(**kw):
    return UserFactory(role=roles.DOCTOR, credentials="MD", **kw)


class TrackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Track
        django_get_or_create = ["name"]

    name = "Evening IOP"


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    record_number = factory.Sequence(lambda n: f"T{n + 1:06d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    date_of_birth = factory.LazyFunction(lambda: datetime.date(1988, 4, 12))
    phone = "(555) 201-3344"
    presenting_problems = factory.LazyFunction(lambda: ["alcohol"])
    status = Patient.Status.REFERRED


class AdmittedPatientFactory(PatientFactory):
    status = Patient.Status.ADMITTED
    admitted_on = factory.LazyFunction(lambda: clinic_today() - datetime.timedelta(30))


class SponsorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sponsor

    patient = factory.SubFactory(AdmittedPatientFactory)
    full_name = factory.Faker("name")
    relationship = Sponsor.Relationship.FAMILY
    email = factory.Sequence(lambda n: f"sponsor{n}@family.test")
    phone = "(555) 300-1000"
    preferred_channel = Sponsor.Channel.EMAIL


class ConsentFactory(factory.django.DjangoModelFactory):
    """An active consent by default (effective 30 days ago, expiring in a year)."""

    class Meta:
        model = Consent

    sponsor = factory.SubFactory(SponsorFactory)
    patient = factory.SelfAttribute("sponsor.patient")
    disclosing_party = "Harbor Light Recovery Center"
    scope = Consent.Scope.ATTENDANCE
    purpose = "So my sponsor can check that I attend and call me if I miss a session."
    effective_on = factory.LazyFunction(lambda: clinic_today() - datetime.timedelta(30))
    expires_on = factory.LazyFunction(lambda: clinic_today() + datetime.timedelta(365))
    signed_name = factory.LazyAttribute(lambda o: o.patient.full_name)
    signed_on = factory.SelfAttribute("effective_on")
    witnessed_by = factory.SubFactory(UserFactory, role=roles.STAFF)


class RoomFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Room
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"Room {n}")
    capacity = 12


class TopicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Topic
        django_get_or_create = ["name"]

    name = "Relapse prevention"


class SessionFactory(factory.django.DjangoModelFactory):
    """A group session tomorrow 18:00-21:00 local, in a room. Pass start/end to move."""

    class Meta:
        model = TherapySession

    kind = Kind.GROUP
    topic = factory.SubFactory(TopicFactory)
    start = factory.LazyFunction(
        lambda: make_local(clinic_today() + datetime.timedelta(1), datetime.time(18))
    )
    end = factory.LazyAttribute(lambda o: o.start + datetime.timedelta(hours=3))
    modality = Modality.IN_PERSON
    room = factory.SubFactory(RoomFactory)
    capacity = 12
    created_by = factory.SubFactory(UserFactory, role=roles.STAFF)


def enrol(session, *patients, by=None):
    for patient in patients:
        Participant.objects.create(session=session, patient=patient, added_by=by)
    return session


def facilitate(session, user):
    SessionFacilitator.objects.create(session=session, user=user)
    return session


def past_session(hours_ago=24, minutes=180, **kw):
    start = timezone.now() - datetime.timedelta(hours=hours_ago)
    return SessionFactory(
        start=start, end=start + datetime.timedelta(minutes=minutes), **kw
    )


def mark(session, patient, status="present", minutes=None, by=None, recorded_at=None):
    """Write an attendance row directly (enrolling the patient if needed), recorded
    now unless `recorded_at` says when."""
    from sessions.models import Attendance

    if not Participant.objects.filter(session=session, patient=patient).exists():
        enrol(session, patient)
    if minutes is None:
        minutes = 0 if status in ("excused", "unexcused") else session.minutes
    return Attendance.objects.create(
        session=session,
        patient=patient,
        status=status,
        minutes=minutes,
        recorded_by=by or staff(),
        recorded_at=recorded_at or timezone.now(),
    )
