"""One small clinic with one object of every kind, for the URL-wide tests."""

import datetime
import secrets

from django.utils import timezone

from accounts import roles
from core.timeutil import clinic_today
from patients.models import AdmissionRequest, DoctorDecision
from sessions.models import Alert, CalendarFeed, FamilyMember, SessionSeries
from tests.factories import (
    AdmittedPatientFactory,
    ConsentFactory,
    PatientFactory,
    SessionFactory,
    SponsorFactory,
    TrackFactory,
    UserFactory,
    enrol,
    facilitate,
    mark,
    past_session,
)


def build_world(users):
    staff, doctor, sponsor_user = users["staff"], users["doctor"], users["sponsor"]
    track = TrackFactory()
    patient = AdmittedPatientFactory(
        track=track, attending_doctor=doctor, primary_counselor=staff
    )
    sponsor = SponsorFactory(patient=patient, user=sponsor_user)
    consent = ConsentFactory(sponsor=sponsor, patient=patient)
    decided = AdmissionRequest.objects.create(
        patient=patient,
        requested_by=staff,
        doctor=doctor,
        clinical_summary="Summary",
        proposed_track=track,
        proposed_start=clinic_today(),
        status=AdmissionRequest.Status.DECIDED,
    )
    decision = DoctorDecision.objects.create(
        request=decided,
        patient=patient,
        decision=DoctorDecision.Decision.APPROVED,
        signed_by=doctor,
    )
    waiting = PatientFactory(status="awaiting_approval")
    pending = AdmissionRequest.objects.create(
        patient=waiting,
        requested_by=staff,
        doctor=doctor,
        clinical_summary="Summary",
        proposed_track=track,
        proposed_start=clinic_today(),
    )
    session = SessionFactory()
    enrol(session, patient)
    # A session that ended an hour ago: its roster takes attendance.
    ended = SessionFactory(
        start=timezone.now() - datetime.timedelta(hours=4),
        end=timezone.now() - datetime.timedelta(hours=1),
    )
    enrol(ended, patient)
    facilitate(session, UserFactory(role=roles.STAFF))
    family = SessionFactory(
        kind="family",
        topic=None,
        start=session.start + datetime.timedelta(days=1),
        end=session.end + datetime.timedelta(days=1),
    )
    member = FamilyMember.objects.create(
        session=family, name="Uncle Joe", relationship="uncle"
    )
    series = SessionSeries.objects.create(
        kind="group",
        topic=session.topic,
        weekdays=[0, 2],
        start_time=datetime.time(9),
        duration_minutes=180,
        starts_on=clinic_today() + datetime.timedelta(days=30),
        occurrences=2,
        modality="in_person",
        room=session.room,
        created_by=staff,
    )
    alert = Alert.objects.create(
        session=session,
        patient=patient,
        sponsor=sponsor,
        channel=Alert.Channel.EMAIL,
        state=Alert.State.FAILED,
        next_attempt_at=timezone.now(),
    )
    feed = CalendarFeed.objects.create(
        token=secrets.token_urlsafe(24), user=UserFactory(role=roles.STAFF)
    )
    # Flagged by the attendance rules (two no-shows in a row), not yet reviewed.
    flagged = AdmittedPatientFactory(attending_doctor=doctor)
    for hours_ago in (72, 48):
        mark(past_session(hours_ago=hours_ago), flagged, "unexcused")
    from portal.models import SponsorInvitation, token_digest

    invitation_token = secrets.token_urlsafe(32)
    invitation = SponsorInvitation.objects.create(
        sponsor=SponsorFactory(patient=patient),
        email="new.sponsor@family.test",
        token_digest=token_digest(invitation_token),
        created_by=staff,
        expires_at=timezone.now() + datetime.timedelta(days=7),
    )
    return {
        "patient": patient,
        "sponsor": sponsor,
        "consent": consent,
        "decided_request": decided,
        "decision": decision,
        "pending_request": pending,
        "session": session,
        "ended_session": ended,
        "family_session": family,
        "member": member,
        "series": series,
        "alert": alert,
        "feed": feed,
        "invitation": invitation,
        "invitation_token": invitation_token,
        "flagged_patient": flagged,
    }
