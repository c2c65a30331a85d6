"""Seconds of unmarked bookings per patient and clinic week, kept by PostgreSQL
triggers on participants, next to the attended minutes of migration 0008.

The compliance page and the doctor's dashboard count the sessions still ahead
this week (unmarked, not yet ended, of scheduled sessions). Summed from the
participants, that read every booking of the week on each request (about 2,000
on a weekday at the large clinic). WeeklyMinutes.unmarked_seconds holds every
active, unmarked participation starting in the week, whatever its session's
status, so that it follows the participant rows alone; readers take away the
few already ended (still unmarked) or of sessions not scheduled.

Each statement that inserts, deletes or updates participants (a booking, a
withdrawal, a mark, which sets Participant.marked, or a session moved, whose
participants' times the trigger of 0002 rewrites) adds its difference per
patient and week, as the attendance triggers of 0008 do: rows already there take
the difference first, the others are inserted (a check refuses a proposed row
below zero even when it would only add to a row already there).
"""

from django.db import migrations, models

# One function for the three triggers: the difference of the statement's rows
# (new rows add, old rows take away), in one place.
SQL = r"""
CREATE FUNCTION therapy_sessions_weekly_unmarked_add(
    patients bigint[], weeks date[], seconds numeric[]
) RETURNS void AS $$
    WITH d AS (
        SELECT patient_id, week, SUM(s) AS seconds
          FROM unnest(patients, weeks, seconds) AS c(patient_id, week, s)
         GROUP BY 1, 2
        HAVING SUM(s) <> 0
    ), changed AS (
        UPDATE therapy_sessions_weeklyminutes w
           SET unmarked_seconds = w.unmarked_seconds + d.seconds
          FROM d
         WHERE w.patient_id = d.patient_id AND w.week = d.week
        RETURNING w.patient_id, w.week
    )
    INSERT INTO therapy_sessions_weeklyminutes AS w
           (patient_id, week, minutes, unmarked_seconds)
    SELECT d.patient_id, d.week, 0, d.seconds
      FROM d
     WHERE NOT EXISTS (
         SELECT 1 FROM changed
          WHERE changed.patient_id = d.patient_id AND changed.week = d.week)
    ON CONFLICT (week, patient_id)
        DO UPDATE SET unmarked_seconds = w.unmarked_seconds + EXCLUDED.unmarked_seconds;
$$ LANGUAGE sql;

CREATE FUNCTION therapy_sessions_participant_weekly_unmarked() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM therapy_sessions_weekly_unmarked_add(
            array_agg(patient_id), array_agg(week), array_agg(seconds))
          FROM (SELECT patient_id, therapy_sessions_clinic_week(start) AS week,
                       EXTRACT(EPOCH FROM ("end" - start)) AS seconds
                  FROM new_rows WHERE active AND NOT marked) c
        HAVING COUNT(*) > 0;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM therapy_sessions_weekly_unmarked_add(
            array_agg(patient_id), array_agg(week), array_agg(seconds))
          FROM (SELECT patient_id, therapy_sessions_clinic_week(start) AS week,
                       -EXTRACT(EPOCH FROM ("end" - start)) AS seconds
                  FROM old_rows WHERE active AND NOT marked) c
        HAVING COUNT(*) > 0;
    ELSE
        PERFORM therapy_sessions_weekly_unmarked_add(
            array_agg(patient_id), array_agg(week), array_agg(seconds))
          FROM (SELECT patient_id, therapy_sessions_clinic_week(start) AS week,
                       EXTRACT(EPOCH FROM ("end" - start)) AS seconds
                  FROM new_rows WHERE active AND NOT marked
                UNION ALL
                SELECT patient_id, therapy_sessions_clinic_week(start),
                       -EXTRACT(EPOCH FROM ("end" - start))
                  FROM old_rows WHERE active AND NOT marked) c
        HAVING COUNT(*) > 0;
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER participant_insert_weekly_unmarked
    AFTER INSERT ON therapy_sessions_participant
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION therapy_sessions_participant_weekly_unmarked();
CREATE TRIGGER participant_delete_weekly_unmarked
    AFTER DELETE ON therapy_sessions_participant
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION therapy_sessions_participant_weekly_unmarked();
CREATE TRIGGER participant_update_weekly_unmarked
    AFTER UPDATE ON therapy_sessions_participant
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION therapy_sessions_participant_weekly_unmarked();
"""

# The bookings already there (also run by tests/sessions/test_attendance_summaries.py).
BACKFILL = r"""
UPDATE therapy_sessions_weeklyminutes SET unmarked_seconds = 0
 WHERE unmarked_seconds <> 0;
SELECT therapy_sessions_weekly_unmarked_add(
           array_agg(patient_id), array_agg(therapy_sessions_clinic_week(start)),
           array_agg(EXTRACT(EPOCH FROM ("end" - start))))
  FROM therapy_sessions_participant
 WHERE active AND NOT marked
HAVING COUNT(*) > 0;
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS participant_update_weekly_unmarked ON therapy_sessions_participant;
DROP TRIGGER IF EXISTS participant_delete_weekly_unmarked ON therapy_sessions_participant;
DROP TRIGGER IF EXISTS participant_insert_weekly_unmarked ON therapy_sessions_participant;
DROP FUNCTION IF EXISTS therapy_sessions_participant_weekly_unmarked();
DROP FUNCTION IF EXISTS therapy_sessions_weekly_unmarked_add(bigint[], date[], numeric[]);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_immutable_decisions_record_numbers"),
        ("therapy_sessions", "0008_weekly_minutes_noshow_runs"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="weeklyminutes",
            name="weeklyminutes_once",
        ),
        migrations.AddField(
            model_name="weeklyminutes",
            name="unmarked_seconds",
            field=models.DecimalField(decimal_places=6, db_default=0, max_digits=18),
        ),
        migrations.AddConstraint(
            model_name="weeklyminutes",
            constraint=models.UniqueConstraint(
                fields=("week", "patient"),
                include=("minutes", "unmarked_seconds"),
                name="weeklyminutes_once",
            ),
        ),
        migrations.AddConstraint(
            model_name="weeklyminutes",
            constraint=models.CheckConstraint(
                condition=models.Q(("unmarked_seconds__gte", 0)),
                name="weeklyminutes_unmarked_not_negative",
            ),
        ),
        migrations.AddIndex(
            model_name="therapysession",
            index=models.Index(
                condition=models.Q(("status", "scheduled"), _negated=True),
                fields=["end"],
                name="session_unscheduled_end",
            ),
        ),
        migrations.RunSQL(SQL, REVERSE),
        migrations.RunSQL(BACKFILL, migrations.RunSQL.noop),
    ]
