import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.timeutil import clinic_today

PART2_NOTICE = (
    "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
)


class Track(models.Model):
    """A program track such as Morning IOP or Evening IOP; the clinic keeps the list."""

    name = models.CharField(max_length=60, unique=True)
    description = models.CharField(max_length=200, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Patient(models.Model):
    class Status(models.TextChoices):
        REFERRED = "referred", "Referred"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        ADMITTED = "admitted", "Admitted"
        ON_HOLD = "on_hold", "On hold"
        DISCHARGED = "discharged", "Discharged"

    class ReferralSource(models.TextChoices):
        SELF = "self", "Self"
        FAMILY = "family", "Family"
        PHYSICIAN = "physician", "Physician"
        EMPLOYER = "employer", "Employer"
        COURT = "court", "Court / DUI"

    class Problem(models.TextChoices):
        ALCOHOL = "alcohol", "Alcohol"
        DRUGS = "drugs", "Drugs"
        GAMBLING = "gambling", "Gambling"
        SEXUAL = "sexual", "Compulsive sexual behaviour"
        SPENDING = "spending", "Compulsive spending"
        OTHER = "other", "Other"

    class DischargeReason(models.TextChoices):
        # Treatment Episode Data Set (TEDS-D) reasons for discharge.
        COMPLETED = "completed", "Treatment completed"
        TRANSFERRED = "transferred", "Transferred to another program"
        DROPPED_OUT = "dropped_out", "Dropped out"
        TERMINATED = "terminated", "Terminated by the facility"
        INCARCERATED = "incarcerated", "Incarcerated"
        DIED = "died", "Died"
        OTHER = "other", "Other"

    record_number = models.CharField(max_length=16, unique=True, editable=False)
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    preferred_name = models.CharField(max_length=80, blank=True)
    date_of_birth = models.DateField()
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    preferred_language = models.CharField(max_length=40, default="English")
    referral_source = models.CharField(
        max_length=20, choices=ReferralSource.choices, default=ReferralSource.SELF
    )
    referral_detail = models.CharField(
        "referring court, probation office or person", max_length=200, blank=True
    )
    presenting_problems = ArrayField(
        models.CharField(max_length=20, choices=Problem.choices), default=list
    )
    presenting_problems_other = models.CharField(max_length=200, blank=True)
    medical_probation = models.BooleanField(default=False)
    medical_probation_details = models.TextField(blank=True)
    primary_counselor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="counseled_patients",
    )
    attending_doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="doctor_patients",
    )
    track = models.ForeignKey(
        Track, null=True, blank=True, on_delete=models.PROTECT, related_name="patients"
    )
    sponsor_required = models.BooleanField(default=False)
    reminders_opt_in = models.BooleanField(
        "send session reminders to the patient", default=False
    )
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.REFERRED, db_index=True
    )
    referred_on = models.DateField(default=clinic_today)
    admitted_on = models.DateField(null=True, blank=True)
    discharged_on = models.DateField(null=True, blank=True)
    discharge_reason = models.CharField(
        max_length=20, choices=DischargeReason.choices, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(status="discharged")
                    & Q(discharged_on__isnull=False)
                    & ~Q(discharge_reason="")
                )
                | (~Q(status="discharged") & Q(discharge_reason="")),
                name="patient_discharge_has_date_and_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["admitted", "on_hold"])
                | Q(admitted_on__isnull=False),
                name="patient_admitted_has_date",
            ),
            models.CheckConstraint(
                condition=Q(date_of_birth__gt=datetime.date(1900, 1, 1)),
                name="patient_dob_plausible",
            ),
        ]
        indexes = [
            models.Index(fields=["last_name", "first_name"]),
            models.Index(fields=["date_of_birth"]),
            # The admitted patients with what the compliance lists compute their
            # targets from and sort by, read from the index alone.
            models.Index(
                fields=["id"],
                include=[
                    "last_name",
                    "first_name",
                    "date_of_birth",
                    "attending_doctor",
                ],
                condition=Q(status="admitted"),
                name="patient_admitted_hours",
            ),
        ]

    def __str__(self):
        return f"{self.full_name} ({self.record_number})"

    @property
    def full_name(self):
        return f"{self.first_name} {self.last_name}"

    def age_on(self, day):
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))

    @property
    def presenting_problem_labels(self):
        labels = dict(self.Problem.choices)
        return [labels.get(p, p) for p in self.presenting_problems]

    @property
    def age(self):
        return self.age_on(clinic_today())

    @property
    def is_minor(self):
        return self.age < 18


class PatientStatusChange(models.Model):
    """One move in a patient's status lifecycle: who, when, why."""

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="status_changes"
    )
    from_status = models.CharField(
        max_length=20, choices=Patient.Status.choices, blank=True
    )
    to_status = models.CharField(max_length=20, choices=Patient.Status.choices)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self):
        return f"{self.from_status or 'new'} -> {self.to_status}"


class AdmissionRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DECIDED = "decided", "Decided"
        WITHDRAWN = "withdrawn", "Withdrawn"

    class AsamEdition(models.TextChoices):
        THIRD = "3", "ASAM Criteria, 3rd edition"
        FOURTH = "4", "ASAM Criteria, 4th edition"

    class LevelOfCare(models.TextChoices):
        IOP_21 = "2.1", "Level 2.1 Intensive outpatient"

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="admission_requests"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    doctor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="admission_requests_to_review",
        help_text="The doctor asked to review; any doctor may decide.",
    )
    clinical_summary = models.TextField()
    presenting_problems = ArrayField(
        models.CharField(max_length=20, choices=Patient.Problem.choices), default=list
    )
    level_of_care = models.CharField(
        max_length=5, choices=LevelOfCare.choices, default=LevelOfCare.IOP_21
    )
    asam_edition = models.CharField(
        max_length=2, choices=AsamEdition.choices, default=AsamEdition.FOURTH
    )
    proposed_track = models.ForeignKey(
        Track, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    proposed_start = models.DateField()
    medical_probation = models.BooleanField(default=False)
    medical_probation_details = models.TextField(blank=True)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )

    class Meta:
        ordering = ["requested_at"]
        constraints = [
            # At most one pending request per patient.
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status="pending"),
                name="admissionrequest_one_pending_per_patient",
            ),
        ]
        indexes = [
            # The waiting requests, oldest first (the doctor's dashboard).
            models.Index(
                fields=["requested_at", "id"],
                condition=Q(status="pending"),
                name="admissionrequest_pending_queue",
            ),
        ]

    def __str__(self):
        return f"Admission request {self.pk} for {self.patient.record_number}"

    @property
    def presenting_problem_labels(self):
        labels = dict(Patient.Problem.choices)
        return [labels.get(p, p) for p in self.presenting_problems]


class DoctorDecision(models.Model):
    """A doctor's signed decision. Immutable in the database (a trigger refuses
    UPDATE and DELETE); a changed mind is a new decision that supersedes this one."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        CONDITIONAL = "conditional", "Approved with conditions"
        DECLINED = "declined", "Declined"

    request = models.ForeignKey(
        AdmissionRequest, on_delete=models.PROTECT, related_name="decisions"
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="decisions"
    )
    decision = models.CharField(max_length=12, choices=Decision.choices)
    conditions = models.TextField(blank=True)
    review_date = models.DateField(null=True, blank=True)
    reason = models.TextField(blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(default=timezone.now)
    signature_method = models.CharField(max_length=20, default="password")
    supersedes = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="superseded_by",
    )

    class Meta:
        ordering = ["-signed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(decision="conditional")
                | (~Q(conditions="") & Q(review_date__isnull=False)),
                name="decision_conditional_has_conditions_and_review",
            ),
            models.CheckConstraint(
                condition=~Q(decision="declined") | ~Q(reason=""),
                name="decision_declined_has_reason",
            ),
        ]
        indexes = [
            # Conditional approvals by review date (the doctor's dashboard).
            models.Index(
                fields=["review_date", "id"],
                condition=Q(decision="conditional"),
                name="decision_conditional_review",
            ),
        ]

    def __str__(self):
        signed = f"{self.signed_at:%Y-%m-%d}"
        return f"{self.get_decision_display()} by {self.signed_by} on {signed}"

    @property
    def is_current(self):
        return not hasattr(self, "superseded_by")


class Sponsor(models.Model):
    """A person the patient named: family, recovery sponsor, employer, probation."""

    class Relationship(models.TextChoices):
        FAMILY = "family", "Family member"
        PARTNER = "partner", "Spouse or partner"
        RECOVERY_SPONSOR = "recovery_sponsor", "Recovery sponsor"
        EMPLOYER = "employer", "Employer"
        PROBATION = "probation", "Probation or parole officer"
        OTHER = "other", "Other"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "Text message (SMS)"
        BOTH = "both", "Email and text message"

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="sponsors"
    )
    full_name = models.CharField(max_length=150)
    relationship = models.CharField(max_length=20, choices=Relationship.choices)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    preferred_channel = models.CharField(
        max_length=10, choices=Channel.choices, default=Channel.EMAIL
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sponsorships",
        help_text="The sponsor's login, once they accept an invitation.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["full_name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(phone="") | ~Q(email=""),
                name="sponsor_has_contact",
            ),
            models.CheckConstraint(
                condition=~Q(preferred_channel="email") | ~Q(email=""),
                name="sponsor_email_channel_has_email",
            ),
            models.CheckConstraint(
                condition=~Q(preferred_channel="sms") | ~Q(phone=""),
                name="sponsor_sms_channel_has_phone",
            ),
            models.CheckConstraint(
                condition=~Q(preferred_channel="both") | (~Q(phone="") & ~Q(email="")),
                name="sponsor_both_channels_have_contact",
            ),
            models.UniqueConstraint(
                fields=["patient", "user"],
                condition=Q(user__isnull=False),
                name="sponsor_one_row_per_patient_and_login",
            ),
        ]

    def __str__(self):
        return f"{self.full_name} ({self.get_relationship_display()})"

    @property
    def first_name(self):
        return self.full_name.split(" ")[0]


class Consent(models.Model):
    """A patient's written consent to disclose to one sponsor (42 CFR 2.31)."""

    class Scope(models.TextChoices):
        ATTENDANCE = (
            "attendance",
            "Attendance status and dates of scheduled sessions",
        )
        ATTENDANCE_HOURS = (
            "attendance_hours",
            "Attendance status, dates of scheduled sessions and hours attended",
        )
        ENROLLMENT = "enrollment", "Enrollment status only (no attendance)"

    class Status(models.TextChoices):
        PENDING = "pending", "Not yet in effect"
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"

    ATTENDANCE_SCOPES = (Scope.ATTENDANCE, Scope.ATTENDANCE_HOURS)

    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="consents"
    )
    # Looked up through the (sponsor, patient) index of Meta.
    sponsor = models.ForeignKey(
        Sponsor, on_delete=models.PROTECT, related_name="consents", db_index=False
    )
    disclosing_party = models.CharField(
        "who may disclose", max_length=200, default="", blank=True
    )
    scope = models.CharField(
        "what may be disclosed",
        max_length=20,
        choices=Scope.choices,
        default=Scope.ATTENDANCE,
    )
    purpose = models.CharField(max_length=300)
    effective_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    expires_on_discharge = models.BooleanField(default=False)
    revocable = models.BooleanField(
        default=True,
        help_text="A court-referred patient's consent to a probation officer may be "
        "irrevocable until a stated event.",
    )
    irrevocable_until = models.CharField(max_length=200, blank=True)
    revocation_instructions = models.CharField(
        max_length=300,
        default="The patient may revoke this consent at any time, in writing, "
        "by giving or sending a signed note to the clinic's front desk.",
    )
    signed_name = models.CharField("patient's typed signature", max_length=150)
    signed_on = models.DateField()
    witnessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    replaces = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
    )
    revoked_on = models.DateField(null=True, blank=True)
    revoked_how = models.CharField(max_length=200, blank=True)
    revoked_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-effective_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=False) | Q(expires_on_discharge=True),
                name="consent_has_expiry",
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True)
                | Q(expires_on__gte=models.F("effective_on")),
                name="consent_expiry_after_effective",
            ),
            models.CheckConstraint(
                condition=Q(revoked_on__isnull=True)
                | (~Q(revoked_how="") & Q(revoked_recorded_by__isnull=False)),
                name="consent_revocation_recorded",
            ),
            models.CheckConstraint(
                condition=Q(revocable=True) | ~Q(irrevocable_until=""),
                name="consent_irrevocable_names_event",
            ),
        ]
        indexes = [models.Index(fields=["sponsor", "patient"])]

    def __str__(self):
        return f"Consent {self.pk} to {self.sponsor.full_name}"

    def status_on(self, day, patient_discharged=None):
        if self.revoked_on and self.revoked_on <= day:
            return self.Status.REVOKED
        if self.expires_on and self.expires_on < day:
            return self.Status.EXPIRED
        if patient_discharged is None:
            patient_discharged = self.patient.status == Patient.Status.DISCHARGED
        if self.expires_on_discharge and patient_discharged:
            return self.Status.EXPIRED
        if self.effective_on > day:
            return self.Status.PENDING
        return self.Status.ACTIVE

    @property
    def status(self):
        return self.status_on(clinic_today())

    @property
    def is_active(self):
        return self.status == self.Status.ACTIVE

    @property
    def covers_attendance(self):
        return self.scope in self.ATTENDANCE_SCOPES


def active_consent_q(day, prefix=""):
    """A Q for consents active on `day` (the SQL twin of Consent.status_on)."""
    p = prefix
    return (
        Q(**{f"{p}effective_on__lte": day})
        & (Q(**{f"{p}revoked_on__isnull": True}) | Q(**{f"{p}revoked_on__gt": day}))
        & (Q(**{f"{p}expires_on__isnull": True}) | Q(**{f"{p}expires_on__gte": day}))
        & (
            Q(**{f"{p}expires_on_discharge": False})
            | ~Q(**{f"{p}patient__status": Patient.Status.DISCHARGED})
        )
    )


class Disclosure(models.Model):
    """A record of what went out about a patient, to whom, under which consent."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "Text message"
        PORTAL = "portal", "Sponsor portal page"
        PDF = "pdf", "PDF document"

    # Looked up through the (patient, -at) index of Meta.
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="disclosures", db_index=False
    )
    sponsor = models.ForeignKey(
        Sponsor, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    consent = models.ForeignKey(
        Consent,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="disclosures",
    )
    recipient = models.CharField(max_length=200)
    what = models.CharField(max_length=300)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    reference = models.CharField(
        max_length=80, blank=True, help_text="The alert, page or document disclosed."
    )
    at = models.DateTimeField(default=timezone.now, db_index=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["patient", "-at"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d} {self.what} to {self.recipient}"
