"""Foreign keys that an index of their model already leads with lose the index
of their own (one less index to write per row); see core.migration_ops."""

import django.db.models.deletion
from django.db import migrations, models

from core.migration_ops import drop_key_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0004_admitted_hours_index"),
    ]

    operations = [
        drop_key_indexes(
            migrations.AlterField(
                model_name="consent",
                name="sponsor",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="consents",
                    to="patients.sponsor",
                ),
            ),
            migrations.AlterField(
                model_name="disclosure",
                name="patient",
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="disclosures",
                    to="patients.patient",
                ),
            ),
        ),
    ]
