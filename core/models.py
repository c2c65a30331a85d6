import datetime

from django.conf import settings
from django.db import connection, models


class ClinicSettings(models.Model):
    """The clinic's program settings: one row (pk=1), edited by administrators."""

    daily_target_minutes = models.PositiveIntegerField(
        default=180, help_text="Minutes of services a patient should get on an IOP day."
    )
    weekly_target_minutes_adult = models.PositiveIntegerField(
        default=540, help_text="ASAM 2.1 adults: at least 9 hours (540 minutes) a week."
    )
    weekly_target_minutes_minor = models.PositiveIntegerField(
        default=360, help_text="Adolescents: at least 6 hours (360 minutes) a week."
    )
    alert_grace_minutes = models.PositiveIntegerField(
        default=30,
        help_text="After a session ends, how long a patient may stay unmarked before "
        "sponsors are alerted.",
    )
    absence_rule_count = models.PositiveIntegerField(
        default=3, help_text="Unexcused absences within the window that flag a patient."
    )
    absence_rule_days = models.PositiveIntegerField(
        default=30, help_text="The window, in days, for the unexcused-absence rule."
    )
    consecutive_noshow_rule = models.PositiveIntegerField(
        default=2, help_text="Consecutive no-shows that flag a patient."
    )
    correction_window_days = models.PositiveIntegerField(
        default=7,
        help_text="Days after a session during which staff may correct attendance; "
        "after that only an administrator can.",
    )
    sms_quiet_start = models.TimeField(default=datetime.time(21, 0))
    sms_quiet_end = models.TimeField(default=datetime.time(8, 0))
    alert_max_attempts = models.PositiveIntegerField(default=6)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "program settings"
        verbose_name_plural = "program settings"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pk=1), name="clinicsettings_single_row"
            ),
            models.CheckConstraint(
                condition=models.Q(absence_rule_count__gte=1)
                & models.Q(absence_rule_days__gte=1)
                & models.Q(consecutive_noshow_rule__gte=1)
                & models.Q(alert_max_attempts__gte=1),
                name="clinicsettings_rules_positive",
            ),
        ]

    def __str__(self):
        return "Program settings"

    @classmethod
    def load(cls):
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj

    @classmethod
    def read(cls):
        """The settings for reading: one SELECT, never an INSERT (the defaults when
        the row was never saved), so that a page's query count is stable. Plain
        SQL: compiling the queryset cost more than running it (0.3 ms of a page)."""
        fields = cls._meta.concrete_fields
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        sql = f"SELECT {columns} FROM {cls._meta.db_table} WHERE id = %s"  # noqa: S608 (names from the model)
        with connection.cursor() as cursor:
            cursor.execute(sql, [1])
            row = cursor.fetchone()
        if row is None:
            return cls(pk=1)
        return cls.from_db(connection.alias, [f.attname for f in fields], row)


class AuditEvent(models.Model):
    """Who looked at or changed which record, when, from where. Append-only."""

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        CREATE = "create", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Deleted"
        EXPORT = "export", "Exported"
        SIGN = "sign", "Signed"
        LOGIN = "login", "Logged in"
        LOGOUT = "logout", "Logged out"
        LOGIN_FAILED = "login_failed", "Login failed"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Both keys are looked up through the (key, -at) indexes of Meta: no index of
    # their own, two less to write with every audit row (one per page view).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    role = models.CharField(max_length=40, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    model = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=True,
        db_index=False,
    )
    changed_fields = models.JSONField(default=list, blank=True)
    summary = models.CharField(max_length=200, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-at"]),
            models.Index(fields=["user", "-at"]),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.user_id} {self.action} {self.model}"


class RenderedDocument(models.Model):
    """A PDF kept under the SHA-256 of everything it is made from (its HTML, which
    holds every value it shows and its issue date, the common stylesheet, the fonts
    and the renderer's version; see patients.pdf.document_digest), so that asking
    again for the same document returns the same bytes without laying it out
    again. A changed value changes the HTML, hence the key: a stale document can't
    be found. It holds patient information, so it lives here, never in Redis, and
    only for the day it was issued (core.services.rendered_document_keep)."""

    digest = models.CharField(max_length=64, primary_key=True)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="+"
    )
    body = models.BinaryField()
    created_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"PDF {self.digest[:12]} for patient {self.patient_id}"


class ExportStamp(models.Model):
    """A count of the writes that could change the CSV exports' rows of one UTC hour
    (sessions starting in it, their participants, marks and facilitators), kept by
    PostgreSQL triggers (core migration 0004) in the writing transaction: one row
    per hour per transaction, its `writes` raised by every statement. A row with
    no hour counts for every hour: a change that can show on any day (a patient's
    record number or name, a facilitator's name). The rows only ever appear or
    grow, so the sum over a day's hours changes whenever that day's rows may have
    (see sessions.selectors.export_cache). Only raw SQL reads them."""

    hour = models.DateTimeField(null=True)
    xact = models.BigIntegerField()
    writes = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "xact"],
                name="exportstamp_one_per_hour_and_transaction",
                nulls_distinct=False,
            )
        ]

    def __str__(self):
        return f"{self.writes} writes at {self.hour or 'every hour'}"


class ExportChunk(models.Model):
    """One clinic day of a CSV export's body (its rows, without the header), kept
    with the stamp (the sum of ExportStamp.writes over the day's hours) read in
    the same statement that computed it, and the variant (a digest of the query and
    of its parameters that are not rows: the zone, the labels, the daily target).
    It is used only while both are still the current ones
    (sessions.selectors.export_cache). It holds patient information, so it lives
    here, never in Redis, and only for the last two years."""

    report = models.CharField(max_length=16)
    day = models.DateField()
    variant = models.CharField(max_length=64)
    stamp = models.BigIntegerField()
    body = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["report", "day"], name="exportchunk_one_per_report_and_day"
            )
        ]

    def __str__(self):
        return f"{self.report} CSV rows of {self.day}"
