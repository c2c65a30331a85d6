"""Weekly attended minutes and runs of no-shows, kept by PostgreSQL triggers on
attendance, so that the compliance page and the doctor's dashboard read about one
row per patient instead of aggregating the marks on every request.

- therapy_sessions_clinic_zone() returns CLINIC_TIME_ZONE as it was when the
  function was written (here, and again after every `migrate` by the post_migrate
  handler in sessions/apps.py, which also rebuilds the weekly minutes when the
  setting changed); therapy_sessions_clinic_week(ts) is the Monday of the clinic
  week of a moment. Readers compare the zone with the setting in the same
  statement and sum the marks instead while the two differ. Both functions are
  STABLE, not IMMUTABLE: PostgreSQL would fold an immutable zone into the
  triggers' cached plans and keep it there after the function is rewritten.
- Weekly minutes: each statement that inserts, deletes or updates attendance (a
  correction; a session moved, whose marks' session_start the trigger of 0003
  rewrites) adds its difference per patient and week in one upsert, so a COPY of
  every mark costs one aggregate. Adding differences is safe with concurrent
  writers: the upsert locks the row it adds to.
- Runs of no-shows: the statement's patients have their run counted again from
  their own latest marks (index attendance_patient_latest). Their rows are locked
  first and counted in a later statement, with a fresh snapshot, so that two
  transactions marking the same patient at once cannot each count without the
  other's mark.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def write_clinic_zone(cursor, zone):
    """(Re)write therapy_sessions_clinic_zone() to return `zone` (a setting, bound
    as a parameter and quoted by the server)."""
    cursor.execute(
        "SELECT format('CREATE OR REPLACE FUNCTION therapy_sessions_clinic_zone() "
        "RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS %%L', "
        "'SELECT ' || quote_literal(%s::text))",
        [zone],
    )
    cursor.execute(cursor.fetchone()[0])


def install_clinic_zone(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        write_clinic_zone(cursor, settings.CLINIC_TIME_ZONE)


SQL = r"""
CREATE FUNCTION therapy_sessions_clinic_week(ts timestamptz) RETURNS date
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT date_trunc('week', ts AT TIME ZONE therapy_sessions_clinic_zone())::date
$$;

-- Attendance rows changed by one statement: add their minutes to their weeks
-- (new rows), take them away (old rows), or both (an update).
CREATE FUNCTION therapy_sessions_attendance_weekly_minutes() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO therapy_sessions_weeklyminutes AS w (patient_id, week, minutes)
        SELECT patient_id, therapy_sessions_clinic_week(session_start), SUM(minutes)
          FROM new_rows WHERE session_start IS NOT NULL
         GROUP BY 1, 2
        ON CONFLICT (week, patient_id)
            DO UPDATE SET minutes = w.minutes + EXCLUDED.minutes;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE therapy_sessions_weeklyminutes w
           SET minutes = w.minutes - d.minutes
          FROM (SELECT patient_id, therapy_sessions_clinic_week(session_start) AS week,
                       SUM(minutes) AS minutes
                  FROM old_rows WHERE session_start IS NOT NULL
                 GROUP BY 1, 2) d
         WHERE w.patient_id = d.patient_id AND w.week = d.week AND d.minutes <> 0;
    ELSE
        -- rows already there take the difference; the others are inserted (a
        -- check refuses a proposed row below zero, even one that would only
        -- add to a row already there, so the upsert takes only those)
        WITH d AS (
            SELECT patient_id, week, SUM(minutes) AS minutes
              FROM (SELECT patient_id,
                           therapy_sessions_clinic_week(session_start) AS week,
                           minutes
                      FROM new_rows WHERE session_start IS NOT NULL
                    UNION ALL
                    SELECT patient_id, therapy_sessions_clinic_week(session_start),
                           -minutes
                      FROM old_rows WHERE session_start IS NOT NULL) c
             GROUP BY 1, 2
            HAVING SUM(minutes) <> 0
        ), changed AS (
            UPDATE therapy_sessions_weeklyminutes w
               SET minutes = w.minutes + d.minutes
              FROM d
             WHERE w.patient_id = d.patient_id AND w.week = d.week
            RETURNING w.patient_id, w.week
        )
        INSERT INTO therapy_sessions_weeklyminutes AS w (patient_id, week, minutes)
        SELECT d.patient_id, d.week, d.minutes
          FROM d
         WHERE NOT EXISTS (
             SELECT 1 FROM changed
              WHERE changed.patient_id = d.patient_id AND changed.week = d.week)
        ON CONFLICT (week, patient_id)
            DO UPDATE SET minutes = w.minutes + EXCLUDED.minutes;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER attendance_insert_weekly_minutes
    AFTER INSERT ON therapy_sessions_attendance
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION therapy_sessions_attendance_weekly_minutes();
CREATE TRIGGER attendance_delete_weekly_minutes
    AFTER DELETE ON therapy_sessions_attendance
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION therapy_sessions_attendance_weekly_minutes();
CREATE TRIGGER attendance_update_weekly_minutes
    AFTER UPDATE ON therapy_sessions_attendance
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION therapy_sessions_attendance_weekly_minutes();

-- A patient's run of no-shows: their latest marks that are unexcused absences,
-- back to the latest mark that is not one (by session start, then id).
CREATE FUNCTION therapy_sessions_noshow_run(patient bigint) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT COUNT(*)::integer
      FROM therapy_sessions_attendance a
     WHERE a.patient_id = patient AND a.status = 'unexcused'
       AND NOT EXISTS (
           SELECT 1
             FROM (SELECT o.session_start, o.id
                     FROM therapy_sessions_attendance o
                    WHERE o.patient_id = patient AND o.status <> 'unexcused'
                    ORDER BY o.session_start DESC, o.id DESC
                    LIMIT 1) other
            WHERE (a.session_start, a.id) <= (other.session_start, other.id))
$$;

CREATE FUNCTION therapy_sessions_refresh_noshow_runs(patients bigint[])
RETURNS void AS $$
BEGIN
    INSERT INTO therapy_sessions_noshowrun (patient_id, run)
    SELECT id, 0 FROM unnest(patients) AS id ORDER BY id
    ON CONFLICT (patient_id) DO NOTHING;
    PERFORM 1 FROM therapy_sessions_noshowrun
      WHERE patient_id = ANY (patients) ORDER BY patient_id FOR UPDATE;
    -- a statement of its own: its snapshot sees what other writers of these
    -- patients committed while this one waited for their rows
    UPDATE therapy_sessions_noshowrun r
       SET run = n.run
      FROM (SELECT id, therapy_sessions_noshow_run(id) AS run
              FROM unnest(patients) AS id) n
     WHERE r.patient_id = n.id AND r.run <> n.run;
END $$ LANGUAGE plpgsql;

CREATE FUNCTION therapy_sessions_attendance_noshow_runs() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM therapy_sessions_refresh_noshow_runs(
            ARRAY(SELECT DISTINCT patient_id FROM new_rows));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM therapy_sessions_refresh_noshow_runs(
            ARRAY(SELECT DISTINCT patient_id FROM old_rows));
    ELSE
        PERFORM therapy_sessions_refresh_noshow_runs(
            ARRAY(SELECT patient_id FROM new_rows
                  UNION SELECT patient_id FROM old_rows));
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER attendance_insert_noshow_runs
    AFTER INSERT ON therapy_sessions_attendance
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION therapy_sessions_attendance_noshow_runs();
CREATE TRIGGER attendance_delete_noshow_runs
    AFTER DELETE ON therapy_sessions_attendance
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION therapy_sessions_attendance_noshow_runs();
CREATE TRIGGER attendance_update_noshow_runs
    AFTER UPDATE ON therapy_sessions_attendance
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION therapy_sessions_attendance_noshow_runs();

"""

# The marks already recorded (also run by tests/sessions/test_attendance_summaries.py).
BACKFILL = r"""
INSERT INTO therapy_sessions_weeklyminutes (patient_id, week, minutes)
SELECT patient_id, therapy_sessions_clinic_week(session_start), SUM(minutes)
  FROM therapy_sessions_attendance
 WHERE session_start IS NOT NULL
 GROUP BY 1, 2;
INSERT INTO therapy_sessions_noshowrun (patient_id, run)
SELECT id, therapy_sessions_noshow_run(id)
  FROM (SELECT DISTINCT patient_id AS id FROM therapy_sessions_attendance) p;
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS attendance_update_noshow_runs ON therapy_sessions_attendance;
DROP TRIGGER IF EXISTS attendance_delete_noshow_runs ON therapy_sessions_attendance;
DROP TRIGGER IF EXISTS attendance_insert_noshow_runs ON therapy_sessions_attendance;
DROP FUNCTION IF EXISTS therapy_sessions_attendance_noshow_runs();
DROP FUNCTION IF EXISTS therapy_sessions_refresh_noshow_runs(bigint[]);
DROP FUNCTION IF EXISTS therapy_sessions_noshow_run(bigint);
DROP TRIGGER IF EXISTS attendance_update_weekly_minutes ON therapy_sessions_attendance;
DROP TRIGGER IF EXISTS attendance_delete_weekly_minutes ON therapy_sessions_attendance;
DROP TRIGGER IF EXISTS attendance_insert_weekly_minutes ON therapy_sessions_attendance;
DROP FUNCTION IF EXISTS therapy_sessions_attendance_weekly_minutes();
DROP FUNCTION IF EXISTS therapy_sessions_clinic_week(timestamptz);
DROP FUNCTION IF EXISTS therapy_sessions_clinic_zone();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_immutable_decisions_record_numbers"),
        ("therapy_sessions", "0007_series_weekdays_valid"),
    ]

    operations = [
        migrations.CreateModel(
            name="NoShowRun",
            fields=[
                (
                    "patient",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="patients.patient",
                    ),
                ),
                ("run", models.IntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="WeeklyMinutes",
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
                ("week", models.DateField()),
                ("minutes", models.IntegerField(default=0)),
                (
                    "patient",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("week", "patient"),
                        include=("minutes",),
                        name="weeklyminutes_once",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("minutes__gte", 0)),
                        name="weeklyminutes_not_negative",
                    ),
                ],
            },
        ),
        migrations.RunPython(install_clinic_zone, migrations.RunPython.noop),
        migrations.RunSQL(SQL, REVERSE),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
