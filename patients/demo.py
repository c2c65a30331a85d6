"""Demo patients, admission history, sponsors and consents. Safe to run again.

Rows are written directly (not through the services) so that the demo clinic has a
past: patients admitted weeks ago, decisions signed then, consents that expired.
A patient is recognised by name and date of birth and is never created twice."""

import datetime
from dataclasses import dataclass, field

from django.conf import settings

from core.audit import audit
from core.models import AuditEvent
from core.timeutil import clinic_today

from .models import (
    AdmissionRequest,
    Consent,
    DoctorDecision,
    Patient,
    PatientStatusChange,
    Sponsor,
)
from .services import record_number_next

S = Patient.Status
D = DoctorDecision.Decision


@dataclass
class SponsorSpec:
    name: str
    relationship: str
    email: str = ""
    phone: str = ""
    channel: str = "email"
    consent: str = "active"  # active, expired, revoked, irrevocable, none


@dataclass
class PatientSpec:
    first: str
    last: str
    dob: datetime.date
    status: str
    track: str = "Evening IOP"
    counselor: str = "staff@demo.test"
    doctor: str = "doctor@demo.test"
    referral: str = "self"
    referral_detail: str = ""
    problems: list = field(default_factory=lambda: ["alcohol"])
    probation: str = ""
    sponsor_required: bool = False
    referred_days_ago: int = 40
    admitted_days_ago: int = 30
    decision: str = ""  # approved, conditional, declined
    review_in_days: int = 0
    conditions: str = ""
    decline_reason: str = ""
    discharged_days_ago: int = 0
    discharge_reason: str = ""
    hold_reason: str = ""
    phone: str = ""
    language: str = "English"
    sponsors: list = field(default_factory=list)
    summary: str = ""


PATIENTS = [
    PatientSpec(
        "Daniel",
        "Bennett",
        datetime.date(1999, 3, 14),
        S.ADMITTED,
        problems=["alcohol", "drugs"],
        decision=D.APPROVED,
        phone="(555) 234-7781",
        summary="Alcohol and cannabis use since 17, two DUIs avoided narrowly; "
        "motivated, lives with his mother.",
        sponsors=[
            SponsorSpec(
                "Carol Bennett", "family", "sponsor@demo.test", "(555) 234-7700", "both"
            )
        ],
    ),
    PatientSpec(
        "Marcus",
        "Webb",
        datetime.date(1987, 11, 2),
        S.ADMITTED,
        track="Morning IOP",
        counselor="l.okafor@demo.test",
        problems=["drugs"],
        decision=D.APPROVED,
        admitted_days_ago=18,
        referred_days_ago=25,
        phone="(555) 318-4420",
        summary="Opioid use disorder, stable on buprenorphine; step-down from PHP.",
        sponsors=[
            SponsorSpec(
                "Miguel Reyes",
                "recovery_sponsor",
                "m.reyes@demo.test",
                "(555) 318-9000",
                "email",
            )
        ],
    ),
    PatientSpec(
        "Tyler",
        "Brooks",
        datetime.date(1994, 7, 21),
        S.ADMITTED,
        referral="court",
        referral_detail="Springfield County DUI Court, case 26-DUI-0815",
        sponsor_required=True,
        decision=D.APPROVED,
        counselor="r.castillo@demo.test",
        admitted_days_ago=21,
        referred_days_ago=28,
        phone="(555) 402-1187",
        summary="Court-ordered IOP after a second DUI; alcohol use disorder, moderate.",
        sponsors=[
            SponsorSpec(
                "Officer Tom Grant",
                "probation",
                "officer.grant@demo.test",
                "(555) 600-2200",
                "email",
                consent="irrevocable",
            )
        ],
    ),
    PatientSpec(
        "Sofia",
        "Alvarez",
        datetime.date(1979, 1, 30),
        S.ADMITTED,
        track="Morning IOP",
        problems=["alcohol"],
        decision=D.CONDITIONAL,
        probation="Elevated liver enzymes (ALT 142); recheck labs in four weeks.",
        conditions="Weekly liver panel; attend at least 3 sessions a week; review "
        "with the attending doctor before any medication change.",
        review_in_days=9,
        admitted_days_ago=19,
        referred_days_ago=24,
        phone="(555) 771-0456",
        language="Spanish",
        summary="Alcohol use disorder, severe; medically cleared for outpatient care "
        "on probation pending labs.",
        sponsors=[
            SponsorSpec(
                "Luis Alvarez",
                "partner",
                "luis.alvarez@family.test",
                "(555) 771-0457",
                "sms",
                consent="expired",
            )
        ],
    ),
    PatientSpec(
        "Hannah",
        "Kim",
        datetime.date(1991, 9, 9),
        S.ADMITTED,
        problems=["gambling", "spending"],
        decision=D.APPROVED,
        counselor="l.okafor@demo.test",
        doctor="a.lindqvist@demo.test",
        admitted_days_ago=35,
        referred_days_ago=42,
        phone="(555) 829-3310",
        summary="Gambling disorder with compulsive spending; significant debt.",
        sponsors=[
            SponsorSpec(
                "Grace Kim",
                "family",
                "grace.kim@family.test",
                "(555) 829-3311",
                "email",
                consent="revoked",
            )
        ],
    ),
    PatientSpec(
        "Priya",
        "Shah",
        datetime.date(1985, 4, 3),
        S.ADMITTED,
        track="Morning IOP",
        problems=["spending", "other"],
        decision=D.APPROVED,
        admitted_days_ago=12,
        referred_days_ago=16,
        phone="(555) 562-9031",
        summary="Compulsive spending and online shopping; co-occurring anxiety.",
    ),
    PatientSpec(
        "Jerome",
        "Porter",
        datetime.date(1972, 12, 12),
        S.ON_HOLD,
        problems=["alcohol"],
        decision=D.APPROVED,
        admitted_days_ago=40,
        referred_days_ago=46,
        hold_reason="Hospitalized for knee surgery",
        counselor="r.castillo@demo.test",
        phone="(555) 448-2290",
        summary="Alcohol use disorder; long-term remission broken after a layoff.",
    ),
    PatientSpec(
        "Emily",
        "Chen",
        datetime.date(1996, 6, 25),
        S.AWAITING_APPROVAL,
        problems=["alcohol", "drugs"],
        referred_days_ago=3,
        probation="Withdrawal seizure history; on a taper supervised by her PCP.",
        doctor="a.lindqvist@demo.test",
        phone="(555) 293-5564",
        summary="Benzodiazepine and alcohol use; completed detox five days ago.",
    ),
    PatientSpec(
        "Ryan",
        "O'Connell",
        datetime.date(2001, 2, 17),
        S.AWAITING_APPROVAL,
        track="Morning IOP",
        problems=["drugs"],
        referred_days_ago=1,
        phone="(555) 610-7742",
        summary="Stimulant use; referred by his employer's assistance program.",
        referral="employer",
        referral_detail="Northside Logistics EAP",
        sponsors=[
            SponsorSpec(
                "Miguel Reyes",
                "recovery_sponsor",
                "m.reyes@demo.test",
                "(555) 318-9000",
                "email",
            )
        ],
    ),
    PatientSpec(
        "Aisha",
        "Thompson",
        datetime.date(1989, 8, 8),
        S.REFERRED,
        referral="physician",
        referral_detail="Dr. Patel, Springfield Family Medicine",
        problems=["alcohol"],
        referred_days_ago=2,
        phone="(555) 377-0198",
    ),
    PatientSpec(
        "Omar",
        "Haddad",
        datetime.date(1998, 10, 1),
        S.REFERRED,
        referral="family",
        problems=["gambling"],
        sponsor_required=True,
        referred_days_ago=4,
        phone="(555) 512-8824",
        sponsors=[
            SponsorSpec(
                "Layla Haddad",
                "family",
                "layla.h@family.test",
                "(555) 512-8825",
                "email",
                consent="none",
            )
        ],
    ),
    PatientSpec(
        "Kevin",
        "Nguyen",
        datetime.date(1983, 5, 19),
        S.REFERRED,
        problems=["alcohol", "drugs"],
        decision=D.DECLINED,
        referred_days_ago=10,
        decline_reason="Daily use with withdrawal risk; needs medically managed "
        "withdrawal (ASAM 3.7) before IOP. Re-refer after discharge.",
        summary="Heavy daily drinking, tremor on assessment.",
        phone="(555) 745-6621",
    ),
    PatientSpec(
        "Laura",
        "Fischer",
        datetime.date(1990, 3, 28),
        S.DISCHARGED,
        decision=D.APPROVED,
        referred_days_ago=110,
        admitted_days_ago=100,
        discharged_days_ago=12,
        discharge_reason=Patient.DischargeReason.COMPLETED,
        phone="(555) 290-4476",
        summary="Alcohol use disorder, moderate; good support at home.",
    ),
    PatientSpec(
        "Derek",
        "Simmons",
        datetime.date(1997, 9, 14),
        S.DISCHARGED,
        track="Morning IOP",
        problems=["drugs"],
        decision=D.APPROVED,
        referred_days_ago=70,
        admitted_days_ago=63,
        discharged_days_ago=20,
        discharge_reason=Patient.DischargeReason.DROPPED_OUT,
        phone="(555) 921-3358",
        summary="Methamphetamine use; unstable housing.",
    ),
]


def _day(days_ago):
    return clinic_today() - datetime.timedelta(days=days_ago)


def _at(days_ago, hour=10):
    """A moment `days_ago` days back, at roughly `hour` o'clock clinic time."""
    from core.timeutil import make_local

    return make_local(_day(days_ago), datetime.time(hour))


def seed_patients(*, users, program, stdout=None):
    tracks = program["tracks"]
    staff = users["staff@demo.test"]
    created = 0
    for spec in PATIENTS:
        patient = Patient.objects.filter(
            first_name=spec.first, last_name=spec.last, date_of_birth=spec.dob
        ).first()
        if patient is None:
            patient = _create(spec, users, tracks, staff)
            created += 1
        _sponsors(spec, patient, users, staff)
    if stdout is not None:
        stdout.write(
            f"Patients: {created} created, {len(PATIENTS) - created} already there."
        )


def _create(spec, users, tracks, staff):
    doctor = users[spec.doctor]
    admitted = spec.status in (S.ADMITTED, S.ON_HOLD, S.DISCHARGED)
    patient = Patient.objects.create(
        record_number=record_number_next(),
        first_name=spec.first,
        last_name=spec.last,
        date_of_birth=spec.dob,
        phone=spec.phone,
        preferred_language=spec.language,
        referral_source=spec.referral,
        referral_detail=spec.referral_detail,
        presenting_problems=spec.problems,
        presenting_problems_other="Health anxiety" if "other" in spec.problems else "",
        medical_probation=bool(spec.probation),
        medical_probation_details=spec.probation,
        primary_counselor=users[spec.counselor],
        attending_doctor=doctor,
        track=tracks[spec.track],
        sponsor_required=spec.sponsor_required,
        status=spec.status,
        referred_on=_day(spec.referred_days_ago),
        admitted_on=_day(spec.admitted_days_ago) if admitted else None,
        discharged_on=_day(spec.discharged_days_ago)
        if spec.status == S.DISCHARGED
        else None,
        discharge_reason=spec.discharge_reason,
    )
    audit(
        user=staff,
        action=AuditEvent.Action.CREATE,
        obj=patient,
        patient=patient,
        summary=f"Registered patient {patient.record_number} (demo)",
    )

    def move(frm, to, days_ago, by, reason, hour=10):
        PatientStatusChange.objects.create(
            patient=patient,
            from_status=frm,
            to_status=to,
            at=_at(days_ago, hour),
            by=by,
            reason=reason,
        )

    move("", S.REFERRED, spec.referred_days_ago, staff, "Registered", hour=9)
    if spec.status == S.REFERRED and not spec.decision:
        return patient
    request_day = spec.referred_days_ago - (
        0 if spec.status == S.AWAITING_APPROVAL else 1
    )
    request = AdmissionRequest.objects.create(
        patient=patient,
        requested_by=users[spec.counselor],
        requested_at=_at(request_day, 11),
        doctor=doctor,
        clinical_summary=spec.summary or "Assessment completed; meets ASAM 2.1.",
        presenting_problems=spec.problems,
        proposed_track=tracks[spec.track],
        proposed_start=_day(spec.admitted_days_ago)
        if admitted
        else _day(max(request_day - 2, -3)),
        medical_probation=bool(spec.probation),
        medical_probation_details=spec.probation,
        status=AdmissionRequest.Status.PENDING
        if spec.status == S.AWAITING_APPROVAL
        else AdmissionRequest.Status.DECIDED,
    )
    move(
        S.REFERRED,
        S.AWAITING_APPROVAL,
        request_day,
        users[spec.counselor],
        "Admission requested",
        hour=11,
    )
    if spec.status == S.AWAITING_APPROVAL:
        return patient
    decided_day = spec.admitted_days_ago if admitted else request_day - 1
    decision = DoctorDecision.objects.create(
        request=request,
        patient=patient,
        decision=spec.decision,
        conditions=spec.conditions,
        review_date=clinic_today() + datetime.timedelta(days=spec.review_in_days)
        if spec.decision == D.CONDITIONAL
        else None,
        reason=spec.decline_reason,
        signed_by=doctor,
        signed_at=_at(decided_day, 14),
    )
    if spec.decision == D.DECLINED:
        move(
            S.AWAITING_APPROVAL,
            S.REFERRED,
            decided_day,
            doctor,
            f"Admission declined: {spec.decline_reason}"[:300],
            hour=14,
        )
        return patient
    move(
        S.AWAITING_APPROVAL,
        S.ADMITTED,
        decided_day,
        doctor,
        f"{decision.get_decision_display()} by {doctor}",
        hour=14,
    )
    if spec.status == S.ON_HOLD:
        move(S.ADMITTED, S.ON_HOLD, 3, staff, spec.hold_reason)
    if spec.status == S.DISCHARGED:
        move(
            S.ADMITTED,
            S.DISCHARGED,
            spec.discharged_days_ago,
            staff,
            Patient.DischargeReason(spec.discharge_reason).label,
        )
    return patient


def _sponsors(spec, patient, users, staff):
    for s in spec.sponsors:
        login = users.get(s.email)
        sponsor = Sponsor.objects.filter(patient=patient, full_name=s.name).first()
        if sponsor is None:
            sponsor = Sponsor.objects.create(
                patient=patient,
                full_name=s.name,
                relationship=s.relationship,
                email=s.email,
                phone=s.phone,
                preferred_channel=s.channel,
                user=login,
            )
        elif login is not None and sponsor.user_id != login.pk:
            sponsor.user = login
            sponsor.save(update_fields=["user"])
        if s.consent == "none" or sponsor.consents.exists():
            continue
        start = _day(spec.referred_days_ago)
        kwargs = {
            "patient": patient,
            "sponsor": sponsor,
            "disclosing_party": settings.CLINIC_NAME,
            "scope": Consent.Scope.ATTENDANCE,
            "purpose": "So that my sponsor can check that I attend the program and "
            "contact me if I miss a session.",
            "effective_on": start,
            "signed_on": start,
            "signed_name": patient.full_name,
            "witnessed_by": staff,
            "expires_on_discharge": True,
        }
        if s.consent == "expired":
            kwargs.update(
                expires_on_discharge=False,
                effective_on=_day(200),
                signed_on=_day(200),
                expires_on=_day(10),
            )
        elif s.consent == "revoked":
            kwargs.update(
                revoked_on=_day(6),
                revoked_how="Patient handed a signed note to the front desk",
                revoked_recorded_by=staff,
            )
        elif s.consent == "irrevocable":
            kwargs.update(
                purpose="Court-ordered monitoring of attendance for the term of "
                "probation.",
                revocable=False,
                irrevocable_until="the end of the probation term set by the court "
                "(Springfield County DUI Court)",
                expires_on=_day(-365),
                expires_on_discharge=False,
            )
        Consent.objects.create(**kwargs)
