"""Attendance carries a copy of its session's start, kept by triggers like
Participant's, so that hours and the attendance rules read a span of marks or a
patient's latest marks from an index instead of joining every mark to its session.
The column is nullable for writers that leave it out (the trigger fills it in on
every insert and update, whatever they send).
"""

from django.db import migrations, models

SQL = r"""
UPDATE therapy_sessions_attendance a
   SET session_start = s.start
  FROM therapy_sessions_therapysession s
 WHERE s.id = a.session_id;

CREATE FUNCTION therapy_sessions_attendance_copy_start() RETURNS trigger AS $$
BEGIN
    SELECT start INTO NEW.session_start
      FROM therapy_sessions_therapysession WHERE id = NEW.session_id;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER attendance_copy_session_start
    BEFORE INSERT OR UPDATE ON therapy_sessions_attendance
    FOR EACH ROW EXECUTE FUNCTION therapy_sessions_attendance_copy_start();

CREATE FUNCTION therapy_sessions_propagate_start_to_attendance() RETURNS trigger AS $$
BEGIN
    IF NEW.start IS DISTINCT FROM OLD.start THEN
        UPDATE therapy_sessions_attendance
           SET session_start = NEW.start
         WHERE session_id = NEW.id;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER session_propagate_start_to_attendance
    AFTER UPDATE OF start ON therapy_sessions_therapysession
    FOR EACH ROW EXECUTE FUNCTION therapy_sessions_propagate_start_to_attendance();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS session_propagate_start_to_attendance
    ON therapy_sessions_therapysession;
DROP FUNCTION IF EXISTS therapy_sessions_propagate_start_to_attendance();
DROP TRIGGER IF EXISTS attendance_copy_session_start ON therapy_sessions_attendance;
DROP FUNCTION IF EXISTS therapy_sessions_attendance_copy_start();
"""


class Migration(migrations.Migration):
    dependencies = [("therapy_sessions", "0002_booking_triggers")]

    operations = [
        migrations.AddField(
            model_name="attendance",
            name="session_start",
            field=models.DateTimeField(editable=False, null=True),
        ),
        migrations.RunSQL(SQL, REVERSE),
        migrations.AddIndex(
            model_name="attendance",
            index=models.Index(
                fields=["session_start"], name="attendance_session_start"
            ),
        ),
        migrations.AddIndex(
            model_name="attendance",
            index=models.Index(
                fields=["patient", "-session_start", "-id"],
                name="attendance_patient_latest",
            ),
        ),
        migrations.AddIndex(
            model_name="attendance",
            index=models.Index(
                condition=models.Q(("status", "unexcused")),
                fields=["session_start"],
                name="attendance_noshow_start",
            ),
        ),
    ]
