"""Foreign keys that an index of their model already leads with lose the index
of their own (one less index to write per row); see core.migration_ops."""

import django.db.models.deletion
from django.db import migrations, models

from core.migration_ops import drop_key_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0005_covered_fk_indexes"),
        ("therapy_sessions", "0010_noshow_window_index"),
    ]

    operations = [
        drop_key_indexes(
            migrations.AlterField(
                model_name="attendance",
                name="patient",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="attendance",
                    to="patients.patient",
                ),
            ),
            migrations.AlterField(
                model_name="attendance",
                name="session",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="attendance",
                    to="therapy_sessions.therapysession",
                ),
            ),
            migrations.AlterField(
                model_name="flagreview",
                name="patient",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="flag_reviews",
                    to="patients.patient",
                ),
            ),
            migrations.AlterField(
                model_name="participant",
                name="patient",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="participations",
                    to="patients.patient",
                ),
            ),
            migrations.AlterField(
                model_name="participant",
                name="session",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="participants",
                    to="therapy_sessions.therapysession",
                ),
            ),
            migrations.AlterField(
                model_name="sessionfacilitator",
                name="session",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.CASCADE,
                    related_name="facilitator_links",
                    to="therapy_sessions.therapysession",
                ),
            ),
        ),
    ]
