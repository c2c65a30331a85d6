"""The demo schedule: two group tracks, individual and family sessions, rerunnable."""

import datetime
import io

import pytest
from django.core.management import call_command

from core.timeutil import clinic_today, local, week_start
from patients.models import Patient, Track
from sessions.demo import seed_schedule
from sessions.models import FamilyMember, Kind, Participant, TherapySession
from tests.factories import AdmittedPatientFactory, SponsorFactory

pytestmark = pytest.mark.django_db


def _admitted_patients():
    morning, _ = Track.objects.get_or_create(name="Morning IOP")
    evening, _ = Track.objects.get_or_create(name="Evening IOP")
    patients = AdmittedPatientFactory.create_batch(3, track=morning)
    patients += AdmittedPatientFactory.create_batch(3, track=evening)
    SponsorFactory(patient=patients[0])
    return patients


def test_seed_demo_builds_the_schedule_and_is_safe_to_run_again():
    _admitted_patients()
    call_command("seed_demo", stdout=io.StringIO())
    counts = {k: TherapySession.objects.filter(kind=k).count() for k in Kind.values}
    rows = Participant.objects.count()

    call_command("seed_demo", stdout=io.StringIO())
    again = {k: TherapySession.objects.filter(kind=k).count() for k in Kind.values}
    assert again == counts
    assert Participant.objects.count() == rows

    # Two tracks, three days a week each, over the four weeks either side of today.
    groups = TherapySession.objects.filter(kind=Kind.GROUP)
    assert counts[Kind.GROUP] == 2 * 3 * 9
    by_title = {}
    for s in groups:
        by_title.setdefault(s.title, set()).add(local(s.start).weekday())
    assert by_title == {"Morning IOP group": {0, 2, 4}, "Evening IOP group": {0, 1, 3}}
    days = sorted(local(s.start).date() for s in groups)
    monday = week_start(clinic_today())
    assert days[0] >= monday - datetime.timedelta(weeks=4)
    assert days[-1] <= monday + datetime.timedelta(weeks=4, days=6)
    assert days[0] < clinic_today() < days[-1]
    admitted = Patient.objects.filter(status=Patient.Status.ADMITTED).count()
    assert admitted >= 6
    assert counts[Kind.INDIVIDUAL] == admitted * 8
    assert counts[Kind.FAMILY] >= admitted * 4
    assert FamilyMember.objects.filter(sponsor__isnull=False).exists()
    # Every occurrence of a track has the same patients, at least its 3 here.
    for title in by_title:
        rosters = {
            frozenset(p.patient_id for p in s.participants.all())
            for s in groups.filter(title=title).prefetch_related("participants")
        }
        assert len(rosters) == 1
        assert len(next(iter(rosters))) >= 3


def test_seed_schedule_without_patients_still_schedules_the_groups(django_user_model):
    from core import demo

    users = demo.seed_people()
    program = demo.seed_program()
    out = io.StringIO()
    seed_schedule(users=users, program=program, stdout=out)
    assert TherapySession.objects.filter(kind=Kind.GROUP).count() == 54
    assert "0 patients" in out.getvalue()
