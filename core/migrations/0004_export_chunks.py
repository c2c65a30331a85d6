"""The CSV exports' kept days (ExportChunk) and the write counts that say when a
kept day is stale (ExportStamp), counted by triggers in the writing transaction.

Which rows a trigger counts: a session, participant, mark or facilitator row is
counted at the UTC hour its session starts (the old and the new hour on an update,
so a session moved to another day counts on both days); no zone is needed here,
since a clinic day in any zone is a span of UTC hours (the reader sums the hours
that overlap the day's bounds). A change of a patient's record number or name, or
of a user's name, can show on any day: it is counted with no hour (every day).
The triggers run once per statement, so a bulk COPY costs one upsert of its
distinct hours.

core_csv_field writes a value as COPY ... WITH (FORMAT csv) does: nothing for
NULL; quoted, quotes doubled, when empty or holding a comma, a double quote or a
line break; else as is. The kept days' CSV is written with it."""

from django.db import migrations, models

SQL = r"""
CREATE FUNCTION core_csv_field(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value IS NULL THEN ''
        WHEN value = '' OR strpos(value, ',') > 0 OR strpos(value, '"') > 0
             OR strpos(value, E'\n') > 0 OR strpos(value, E'\r') > 0
        THEN '"' || replace(value, '"', '""') || '"'
        ELSE value
    END
$$;

-- One more write at each distinct UTC hour of the statement's rows (TG_ARGV[0]:
-- the column holding the session's start). A NULL start counts for every hour.
CREATE FUNCTION core_export_count_rows() RETURNS trigger AS $$
DECLARE source text;
BEGIN
    source := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT %1$I FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT %1$I FROM old_rows'
        ELSE 'SELECT %1$I FROM old_rows UNION ALL SELECT %1$I FROM new_rows'
    END;
    EXECUTE format(
        'INSERT INTO core_exportstamp AS st (hour, xact, writes)
         SELECT DISTINCT date_trunc(''hour'', t.start, ''UTC''),
                pg_current_xact_id()::text::bigint, 1
         FROM (' || source || ') AS t (start)
         ON CONFLICT (hour, xact) DO UPDATE SET writes = st.writes + 1',
        TG_ARGV[0]);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION core_export_count_everywhere() RETURNS void AS $$
    INSERT INTO core_exportstamp AS st (hour, xact, writes)
    VALUES (NULL, pg_current_xact_id()::text::bigint, 1)
    ON CONFLICT (hour, xact) DO UPDATE SET writes = st.writes + 1;
$$ LANGUAGE sql;

CREATE FUNCTION core_export_count_patient_names() RETURNS trigger AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE (o.record_number, o.first_name, o.last_name)
               IS DISTINCT FROM (n.record_number, n.first_name, n.last_name)
    ) THEN
        PERFORM core_export_count_everywhere();
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION core_export_count_user_names() RETURNS trigger AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE o.full_name IS DISTINCT FROM n.full_name
    ) THEN
        PERFORM core_export_count_everywhere();
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER core_export_count_patient_names
    AFTER UPDATE ON patients_patient
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION core_export_count_patient_names();
CREATE TRIGGER core_export_count_user_names
    AFTER UPDATE ON accounts_user
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION core_export_count_user_names();
"""

# Each table whose rows the exports read, with the column holding the session's
# start: three statement triggers (transition tables allow one event each).
COUNTED = [
    ("therapy_sessions_therapysession", "start"),
    ("therapy_sessions_participant", "start"),
    ("therapy_sessions_attendance", "session_start"),
    ("therapy_sessions_sessionfacilitator", "start"),
]
TRIGGER = """
CREATE TRIGGER core_export_count_{event}
    AFTER {event} ON {table}
    REFERENCING {tables}
    FOR EACH STATEMENT EXECUTE FUNCTION core_export_count_rows('{column}');
"""
TABLES = {
    "insert": "NEW TABLE AS new_rows",
    "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "OLD TABLE AS old_rows",
}
SQL += "".join(
    TRIGGER.format(event=event, table=table, column=column, tables=tables)
    for table, column in COUNTED
    for event, tables in TABLES.items()
)
# Kept days are read whole and compress about five times (a month of the large
# clinic is about a megabyte): LZ4 where the server has it, as it reads fastest.
SQL += """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_settings
                WHERE name = 'default_toast_compression'
                  AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE core_exportchunk ALTER COLUMN body SET COMPRESSION lz4;
    END IF;
END $$;
"""

REVERSE = "".join(
    f"DROP TRIGGER IF EXISTS core_export_count_{event} ON {table};\n"
    for table, _ in COUNTED
    for event in TABLES
) + (
    "DROP TRIGGER IF EXISTS core_export_count_user_names ON accounts_user;\n"
    "DROP TRIGGER IF EXISTS core_export_count_patient_names ON patients_patient;\n"
    "DROP FUNCTION IF EXISTS core_export_count_user_names();\n"
    "DROP FUNCTION IF EXISTS core_export_count_patient_names();\n"
    "DROP FUNCTION IF EXISTS core_export_count_everywhere();\n"
    "DROP FUNCTION IF EXISTS core_export_count_rows();\n"
    "DROP FUNCTION IF EXISTS core_csv_field(text);\n"
)


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0003_rendered_document"),
        ("accounts", "0002_session_generation"),
        ("patients", "0002_immutable_decisions_record_numbers"),
        ("therapy_sessions", "0007_series_weekdays_valid"),
    ]

    operations = [
        migrations.CreateModel(
            name="ExportChunk",
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
                ("report", models.CharField(max_length=16)),
                ("day", models.DateField()),
                ("variant", models.CharField(max_length=64)),
                ("stamp", models.BigIntegerField()),
                ("body", models.BinaryField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("report", "day"),
                        name="exportchunk_one_per_report_and_day",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ExportStamp",
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
                ("hour", models.DateTimeField(null=True)),
                ("xact", models.BigIntegerField()),
                ("writes", models.PositiveIntegerField(default=1)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("hour", "xact"),
                        name="exportstamp_one_per_hour_and_transaction",
                        nulls_distinct=False,
                    )
                ],
            },
        ),
        migrations.RunSQL(SQL, REVERSE),
    ]
