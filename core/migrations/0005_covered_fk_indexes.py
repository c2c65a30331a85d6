"""Foreign keys that an index of their model already leads with lose the index
of their own (one less index to write per row); see core.migration_ops."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.migration_ops import drop_key_indexes


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_export_chunks"),
        ("patients", "0005_covered_fk_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        drop_key_indexes(
            migrations.AlterField(
                model_name="auditevent",
                name="patient",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to="patients.patient",
                ),
            ),
            migrations.AlterField(
                model_name="auditevent",
                name="user",
                field=models.ForeignKey(
                    blank=True,
                    db_index=False,
                    null=True,
                    on_delete=django.db.models.deletion.PROTECT,
                    related_name="+",
                    to=settings.AUTH_USER_MODEL,
                ),
            ),
        ),
    ]
