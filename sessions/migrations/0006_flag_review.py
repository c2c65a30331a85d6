"""A doctor's review of a patient's attendance-rule flag: append-only (a
trigger refuses changes and deletions)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

SQL = r"""
CREATE FUNCTION therapy_sessions_refuse_flagreview_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a flag review cannot be changed or deleted; record a new review instead'
        USING ERRCODE = 'restrict_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER flagreview_append_only
    BEFORE UPDATE OR DELETE ON therapy_sessions_flagreview
    FOR EACH ROW EXECUTE FUNCTION therapy_sessions_refuse_flagreview_change();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS flagreview_append_only ON therapy_sessions_flagreview;
DROP FUNCTION IF EXISTS therapy_sessions_refuse_flagreview_change();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_immutable_decisions_record_numbers"),
        ("therapy_sessions", "0005_series_continued_as"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="FlagReview",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True,
                        primary_key=True,
                        serialize=False,
                        verbose_name="ID",
                    ),
                ),
                (
                    "reviewed_at",
                    models.DateTimeField(default=django.utils.timezone.now),
                ),
                ("reasons", models.JSONField(default=list)),
                ("note", models.CharField(max_length=300)),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="flag_reviews",
                        to="patients.patient",
                    ),
                ),
                (
                    "reviewed_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["patient", "-reviewed_at", "-id"],
                        name="flagreview_patient_latest",
                    )
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("note", ""), _negated=True),
                        name="flagreview_note_required",
                    )
                ],
            },
        ),
        migrations.RunSQL(SQL, REVERSE),
    ]
