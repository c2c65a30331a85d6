from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, RangeOperators
from django.db import models
from django.db.models import Func, Q
from django.utils import timezone


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = models.DateTimeField()


class Kind(models.TextChoices):
    INDIVIDUAL = "individual", "Individual"
    FAMILY = "family", "Family"
    GROUP = "group", "Group"


class Modality(models.TextChoices):
    IN_PERSON = "in_person", "In person"
    TELEHEALTH = "telehealth", "Telehealth"


KIND_LABELS = dict(Kind.choices)
MODALITY_LABELS = dict(Modality.choices)


def session_label(title, kind, topic_name):
    """A session's name as the pages write it: its title; else "Group: <topic>"
    for a group session with a topic (`topic_name`, None without one); else
    "<Kind> session"."""
    if title:
        return title
    if kind == Kind.GROUP and topic_name is not None:
        return f"Group: {topic_name}"
    return f"{KIND_LABELS.get(kind, kind)} session"


class Room(models.Model):
    name = models.CharField(max_length=60, unique=True)
    capacity = models.PositiveIntegerField(default=12)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity__gte=1), name="room_capacity_positive"
            )
        ]

    def __str__(self):
        return self.name


class Topic(models.Model):
    """A group topic from the clinic's curriculum (cravings, relapse prevention...)."""

    name = models.CharField(max_length=80, unique=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


class SessionSeries(models.Model):
    """A weekly pattern; each occurrence is its own TherapySession row."""

    kind = models.CharField(max_length=12, choices=Kind.choices)
    title = models.CharField(max_length=120, blank=True)
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    weekdays = ArrayField(
        models.PositiveSmallIntegerField(), help_text="0 = Monday ... 6 = Sunday"
    )
    start_time = models.TimeField(
        help_text="Local wall-clock time in the clinic's zone."
    )
    duration_minutes = models.PositiveIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    occurrences = models.PositiveIntegerField(null=True, blank=True)
    modality = models.CharField(
        max_length=12, choices=Modality.choices, default=Modality.IN_PERSON
    )
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    telehealth_url = models.URLField(blank=True)
    capacity = models.PositiveIntegerField(null=True, blank=True)
    facilitators = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    continued_as = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="continues",
        help_text="The series that took over this one's later sessions on other "
        "weekdays or at another time.",
    )

    class Meta:
        verbose_name_plural = "session series"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=False) | Q(occurrences__isnull=False),
                name="series_has_end",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5) & Q(duration_minutes__lte=720),
                name="series_duration_sane",
            ),
            models.CheckConstraint(
                condition=Q(weekdays__len__gte=1)
                & Q(weekdays__contained_by=list(range(7))),
                name="series_weekdays_valid",
            ),
        ]

    def __str__(self):
        return self.title or f"{self.get_kind_display()} series {self.pk}"

    @property
    def weekday_names(self):
        return [WEEKDAY_NAMES[d] for d in self.weekdays]


class TherapySession(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    series = models.ForeignKey(
        SessionSeries,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sessions",
    )
    kind = models.CharField(max_length=12, choices=Kind.choices)
    title = models.CharField(max_length=120, blank=True)
    topic = models.ForeignKey(
        Topic, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    start = models.DateTimeField(db_index=True)
    end = models.DateTimeField()
    modality = models.CharField(
        max_length=12, choices=Modality.choices, default=Modality.IN_PERSON
    )
    room = models.ForeignKey(
        Room, null=True, blank=True, on_delete=models.PROTECT, related_name="sessions"
    )
    telehealth_url = models.URLField(blank=True)
    capacity = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=12, choices=Status.choices, default=Status.SCHEDULED, db_index=True
    )
    cancel_reason = models.CharField(max_length=200, blank=True)
    facilitators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="SessionFacilitator", related_name="+"
    )
    patients = models.ManyToManyField(
        "patients.Patient", through="Participant", related_name="therapy_sessions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="session_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(capacity__gte=1), name="session_capacity_positive"
            ),
            models.CheckConstraint(
                condition=~Q(kind="individual") | Q(capacity=1),
                name="session_individual_capacity_one",
            ),
            models.CheckConstraint(
                condition=(Q(modality="in_person") & Q(room__isnull=False))
                | (Q(modality="telehealth") & ~Q(telehealth_url="")),
                name="session_has_room_or_link",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | ~Q(cancel_reason=""),
                name="session_cancel_has_reason",
            ),
            ExclusionConstraint(
                name="session_room_no_overlap",
                expressions=[
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                    ("room", RangeOperators.EQUAL),
                ],
                condition=~Q(status="cancelled") & Q(room__isnull=False),
            ),
        ]
        indexes = [
            # sessions not scheduled that end later (mostly cancelled ones to
            # come): what the compliance hours take away from the week's
            # unmarked bookings (WeeklyMinutes.unmarked_seconds)
            models.Index(
                fields=["end"],
                condition=~Q(status="scheduled"),
                name="session_unscheduled_end",
            ),
        ]

    def __str__(self):
        return f"{self.label} {timezone.localtime(self.start):%a %b %-d %H:%M}"

    @property
    def label(self):
        """See session_label (the topic is read only for a group session)."""
        grouped = self.kind == Kind.GROUP and self.topic_id and not self.title
        return session_label(
            self.title, self.kind, self.topic.name if grouped else None
        )

    @property
    def minutes(self):
        return int((self.end - self.start).total_seconds() // 60)


class SessionFacilitator(models.Model):
    """A facilitator of a session. start/end/active mirror the session (a trigger keeps
    them in step) so that the database can refuse double-booking a facilitator."""

    # Looked up through facilitator_once_per_session (session, user): no index of
    # its own (one less to write on every booking).
    session = models.ForeignKey(
        TherapySession,
        on_delete=models.CASCADE,
        related_name="facilitator_links",
        db_index=False,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="facilitations"
    )
    start = models.DateTimeField(editable=False)
    end = models.DateTimeField(editable=False)
    active = models.BooleanField(default=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "user"], name="facilitator_once_per_session"
            ),
            ExclusionConstraint(
                name="facilitator_no_overlap",
                expressions=[
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                    ("user", RangeOperators.EQUAL),
                ],
                condition=Q(active=True),
            ),
        ]

    def __str__(self):
        return f"{self.user_id} facilitates {self.session_id}"


class Participant(models.Model):
    """A patient expected at a session. start/end/active mirror the session (kept by a
    trigger) so that the database refuses a patient booked twice at the same time; a
    trigger also refuses more patients than the session's capacity. `marked` says
    whether the patient has an attendance row for the session (kept by triggers on
    both tables), so that the staff to-do reads a small partial index of the
    unmarked rows instead of every past participation."""

    # Both keys are looked up through the indexes of Meta, which lead with them
    # (participant_once_per_session, (patient, start)): no index of their own,
    # two less to write on every booking.
    session = models.ForeignKey(
        TherapySession,
        on_delete=models.CASCADE,
        related_name="participants",
        db_index=False,
    )
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="participations",
        db_index=False,
    )
    start = models.DateTimeField(editable=False)
    end = models.DateTimeField(editable=False)
    active = models.BooleanField(default=True, editable=False)
    marked = models.BooleanField(default=False, editable=False)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "patient"], name="participant_once_per_session"
            ),
            ExclusionConstraint(
                name="participant_no_overlap",
                expressions=[
                    (TsTzRange("start", "end"), RangeOperators.OVERLAPS),
                    ("patient", RangeOperators.EQUAL),
                ],
                condition=Q(active=True),
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "start"]),
            models.Index(
                fields=["end"],
                condition=Q(active=True, marked=False),
                name="participant_unmarked_idx",
            ),
        ]

    def __str__(self):
        return f"patient {self.patient_id} in session {self.session_id}"


class FamilyMember(models.Model):
    """Someone other than a patient expected at a family session."""

    session = models.ForeignKey(
        TherapySession, on_delete=models.CASCADE, related_name="family_members"
    )
    name = models.CharField(max_length=150)
    relationship = models.CharField(max_length=60)
    sponsor = models.ForeignKey(
        "patients.Sponsor",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="family_sessions",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "sponsor"],
                condition=Q(sponsor__isnull=False),
                name="familymember_sponsor_once",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.relationship})"


class CalendarFeed(models.Model):
    """A secret iCalendar feed URL for a facilitator or a patient."""

    token = models.CharField(max_length=64, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="calendar_feed",
    )
    patient = models.OneToOneField(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="calendar_feed",
    )
    created_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, patient__isnull=True)
                | Q(user__isnull=True, patient__isnull=False),
                name="calendarfeed_one_owner",
            )
        ]

    def __str__(self):
        return f"calendar feed {self.pk}"


class Attendance(models.Model):
    """A patient's mark at a session. session_start mirrors the session's start
    (kept by a trigger, like Participant's) so that hours and the attendance rules
    read a span of marks, or a patient's latest marks, from an index."""

    class Status(models.TextChoices):
        PRESENT = "present", "Present"
        LATE = "late", "Late"
        LEFT_EARLY = "left_early", "Left early"
        EXCUSED = "excused", "Excused absence"
        UNEXCUSED = "unexcused", "Unexcused absence (no-show)"

    ABSENCES = (Status.EXCUSED, Status.UNEXCUSED)
    PARTIAL = (Status.LATE, Status.LEFT_EARLY)

    # Both keys are looked up through the indexes of Meta, which lead with them
    # (attendance_once_per_patient_session, (patient, status),
    # attendance_patient_latest): no index of their own, two less to write on
    # every mark.
    session = models.ForeignKey(
        TherapySession,
        on_delete=models.PROTECT,
        related_name="attendance",
        db_index=False,
    )
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="attendance",
        db_index=False,
    )
    status = models.CharField(max_length=12, choices=Status.choices)
    minutes = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    session_start = models.DateTimeField(editable=False, null=True)  # set by trigger

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "patient"],
                name="attendance_once_per_patient_session",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["excused", "unexcused"]) | Q(minutes=0),
                name="attendance_absence_zero_minutes",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "status"]),
            models.Index(fields=["session_start"], name="attendance_session_start"),
            models.Index(
                fields=["patient", "-session_start", "-id"],
                name="attendance_patient_latest",
            ),
            # The no-shows of a window, counted per patient from the index alone
            # (the attendance rules' count of unexcused absences).
            models.Index(
                fields=["session_start"],
                include=["patient"],
                condition=Q(status="unexcused"),
                name="attendance_noshow_window",
            ),
        ]

    def __str__(self):
        return f"{self.status}: patient {self.patient_id}, session {self.session_id}"


class AttendanceRevision(models.Model):
    """The earlier values of a corrected attendance: who changed it, when and why."""

    attendance = models.ForeignKey(
        Attendance, on_delete=models.CASCADE, related_name="revisions"
    )
    status = models.CharField(max_length=12, choices=Attendance.Status.choices)
    minutes = models.PositiveIntegerField()
    note = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=300)

    class Meta:
        ordering = ["-changed_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="revision_has_reason")
        ]

    def __str__(self):
        return f"revision of attendance {self.attendance_id}"


class Alert(models.Model):
    """One message to send: a missed session to a sponsor, or a reminder to a patient.

    Written to the database before any worker sends it; unique per session, patient,
    recipient and channel, so a miss alerts each sponsor once per channel."""

    class Kind(models.TextChoices):
        MISSED = "missed", "Missed session"
        REMINDER = "reminder", "Session reminder"

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        SMS = "sms", "SMS"

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Not sent"

    # The reason kept on a pending SMS that waits for the clinic's quiet hours to end.
    REASON_QUIET_HOURS = "held for SMS quiet hours"

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MISSED)
    session = models.ForeignKey(
        TherapySession, on_delete=models.PROTECT, related_name="alerts"
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="alerts"
    )
    sponsor = models.ForeignKey(
        "patients.Sponsor",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="alerts",
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.PENDING
    )
    reason = models.CharField(
        max_length=200, blank=True, help_text="Why it was not sent."
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "session", "patient", "sponsor", "channel"],
                name="alert_once_per_miss_recipient_channel",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=~Q(kind="missed") | Q(sponsor__isnull=False),
                name="alert_missed_has_sponsor",
            ),
            models.CheckConstraint(
                condition=~Q(state="sent") | Q(sent_at__isnull=False),
                name="alert_sent_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} alert {self.pk} ({self.state})"

    @property
    def held_for_quiet_hours(self):
        """Pending, and not tried before the clinic's SMS quiet hours end."""
        return (
            self.state == self.State.PENDING and self.reason == self.REASON_QUIET_HOURS
        )


class FlagReview(models.Model):
    """A doctor's review of a patient's attendance-rule flag, with the reasons
    the rules gave at the time. Append-only: a later review is a new row. A
    review keeps the patient off the flagged lists until an unexcused absence
    follows it: one for a session that starts after it, or one recorded after
    it (a mark entered late, or corrected to a no-show, for an earlier session,
    which the doctor did not see)."""

    # Looked up through flagreview_patient_latest, which leads with it.
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        related_name="flag_reviews",
        db_index=False,
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_at = models.DateTimeField(default=timezone.now)
    reasons = models.JSONField(default=list)
    note = models.CharField(max_length=300)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(note=""), name="flagreview_note_required"
            ),
        ]
        indexes = [
            models.Index(
                fields=["patient", "-reviewed_at", "-id"],
                name="flagreview_patient_latest",
            ),
        ]

    def __str__(self):
        return f"Flag review {self.pk}: patient {self.patient_id}"


class WeeklyMinutes(models.Model):
    """Attended minutes of a patient in one clinic week (`week` is its Monday in
    CLINIC_TIME_ZONE; a mark counts in the week of its session's local start day).
    Kept by PostgreSQL triggers on attendance (migration 0008), whatever writes
    the marks: inserts, corrections, deletions and session moves (which rewrite
    the marks' session_start) add their difference to the weeks they touch. The
    compliance page and the doctor's dashboard read one row per patient and week
    here instead of summing every mark of the two weeks. Never written by Python."""

    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # the unique index below leads with the week
    )
    week = models.DateField()
    minutes = models.IntegerField(default=0)
    # Seconds of the patient's active, unmarked participations starting in the
    # week (any session status), kept by triggers on participants (migration
    # 0009): the sessions still ahead this week are these less the few already
    # ended or not scheduled, instead of every booking of the week summed.
    unmarked_seconds = models.DecimalField(
        max_digits=18, decimal_places=6, db_default=0
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["week", "patient"],
                include=["minutes", "unmarked_seconds"],
                name="weeklyminutes_once",
            ),
            models.CheckConstraint(
                condition=Q(minutes__gte=0), name="weeklyminutes_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(unmarked_seconds__gte=0),
                name="weeklyminutes_unmarked_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.minutes} min: patient {self.patient_id}, week of {self.week}"


class NoShowRun(models.Model):
    """A patient's current run of no-shows: how many of their latest marks (by
    session start, then id) are unexcused absences, back to the latest mark that
    is not one. Kept by PostgreSQL triggers on attendance (migration 0008); the
    attendance rules read it instead of walking every patient's latest marks.
    No row means no marks (a run of 0). Never written by Python."""

    patient = models.OneToOneField(
        "patients.Patient",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="+",
    )
    run = models.IntegerField(default=0)

    def __str__(self):
        return f"{self.run} no-shows in a row: patient {self.patient_id}"
