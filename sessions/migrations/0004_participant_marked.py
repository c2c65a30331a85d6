"""Participant.marked: whether the patient has an attendance row for the session.

Triggers keep it right whatever code writes the rows: a participant row computes it
when inserted (or when its session, patient or flag is written), and attendance
inserts, deletes and updates refresh the participant rows they touch (one UPDATE per
statement, so a bulk COPY of attendance costs one join, not a row at a time). The
partial index holds only active, unmarked rows: the staff to-do of ended sessions
with patients still unmarked reads those, not every past participation."""

from django.db import migrations, models

SQL = r"""
CREATE FUNCTION therapy_sessions_participant_set_marked() RETURNS trigger AS $$
BEGIN
    NEW.marked := EXISTS (
        SELECT 1 FROM therapy_sessions_attendance a
         WHERE a.session_id = NEW.session_id AND a.patient_id = NEW.patient_id);
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER participant_set_marked
    BEFORE INSERT OR UPDATE OF session_id, patient_id, marked
    ON therapy_sessions_participant
    FOR EACH ROW EXECUTE FUNCTION therapy_sessions_participant_set_marked();

-- Attendance rows changed by one statement: refresh their participants' flag (the
-- participant trigger above computes the value; rows already right are skipped).
CREATE FUNCTION therapy_sessions_attendance_refresh_marked() RETURNS trigger AS $$
BEGIN
    UPDATE therapy_sessions_participant p
       SET marked = NOT p.marked
      FROM (SELECT DISTINCT session_id, patient_id FROM changed) c
     WHERE p.session_id = c.session_id AND p.patient_id = c.patient_id
       AND p.marked IS DISTINCT FROM EXISTS (
           SELECT 1 FROM therapy_sessions_attendance a
            WHERE a.session_id = p.session_id AND a.patient_id = p.patient_id);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER attendance_insert_refresh_marked
    AFTER INSERT ON therapy_sessions_attendance
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION therapy_sessions_attendance_refresh_marked();
CREATE TRIGGER attendance_delete_refresh_marked
    AFTER DELETE ON therapy_sessions_attendance
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION therapy_sessions_attendance_refresh_marked();

CREATE FUNCTION therapy_sessions_attendance_move_marked() RETURNS trigger AS $$
BEGIN
    UPDATE therapy_sessions_participant p
       SET marked = NOT p.marked
      FROM (SELECT session_id, patient_id FROM old_rows
            UNION SELECT session_id, patient_id FROM new_rows) c
     WHERE p.session_id = c.session_id AND p.patient_id = c.patient_id
       AND p.marked IS DISTINCT FROM EXISTS (
           SELECT 1 FROM therapy_sessions_attendance a
            WHERE a.session_id = p.session_id AND a.patient_id = p.patient_id);
    RETURN NULL;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER attendance_update_refresh_marked
    AFTER UPDATE ON therapy_sessions_attendance
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION therapy_sessions_attendance_move_marked();

UPDATE therapy_sessions_participant p SET marked = true
 WHERE EXISTS (
     SELECT 1 FROM therapy_sessions_attendance a
      WHERE a.session_id = p.session_id AND a.patient_id = p.patient_id);
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS attendance_update_refresh_marked ON therapy_sessions_attendance;
DROP FUNCTION IF EXISTS therapy_sessions_attendance_move_marked();
DROP TRIGGER IF EXISTS attendance_delete_refresh_marked ON therapy_sessions_attendance;
DROP TRIGGER IF EXISTS attendance_insert_refresh_marked ON therapy_sessions_attendance;
DROP FUNCTION IF EXISTS therapy_sessions_attendance_refresh_marked();
DROP TRIGGER IF EXISTS participant_set_marked ON therapy_sessions_participant;
DROP FUNCTION IF EXISTS therapy_sessions_participant_set_marked();
"""


class Migration(migrations.Migration):
    dependencies = [("therapy_sessions", "0003_attendance_session_start")]

    operations = [
        migrations.AddField(
            model_name="participant",
            name="marked",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunSQL(SQL, REVERSE),
        migrations.AddIndex(
            model_name="participant",
            index=models.Index(
                condition=models.Q(("active", True), ("marked", False)),
                fields=["end"],
                name="participant_unmarked_idx",
            ),
        ),
    ]
