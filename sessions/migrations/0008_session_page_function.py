"""The session page's read as a function: session_page(id) returns the session,
its room, topic, series, creator, facilitators, family members, the settings,
the roster (participants with their patients and marks) and the corrections as
one jsonb object (sessions.selectors.session_page).

As a single statement, PostgreSQL parsed, analysed and planned its subqueries
on every request, which took longer than running them. PL/pgSQL keeps the plan
of a function's statement for the session: after the first calls on a
connection the read is executed only. A change to the read is a new migration
replacing the function; the tests hold it to the ORM read
(tests/sessions/test_session_page_sql.py).
"""

from django.db import migrations

SQL = r"""
CREATE FUNCTION therapy_sessions_session_page(p_session bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN (SELECT to_jsonb(page) FROM (
    SELECT
      to_jsonb(s) AS session,
      (SELECT to_jsonb(r) FROM therapy_sessions_room r WHERE r.id = s.room_id) AS room,
      (SELECT to_jsonb(t) FROM therapy_sessions_topic t
        WHERE t.id = s.topic_id) AS topic,
      (SELECT to_jsonb(x) FROM therapy_sessions_sessionseries x
        WHERE x.id = s.series_id) AS series,
      (SELECT to_jsonb(u) - 'password' FROM accounts_user u
        WHERE u.id = s.created_by_id) AS created_by,
      -- the facilitators in the order they were added
      (SELECT COALESCE(jsonb_agg(
                (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                  WHERE u.id = f.user_id)
              ORDER BY f.id), '[]')
         FROM therapy_sessions_sessionfacilitator f WHERE f.session_id = s.id)
         AS facilitators,
      (SELECT COALESCE(jsonb_agg(to_jsonb(m) ORDER BY m.id), '[]')
         FROM therapy_sessions_familymember m WHERE m.session_id = s.id) AS family,
      (SELECT to_jsonb(cs) FROM core_clinicsettings cs WHERE cs.id = 1) AS settings,
      -- the expected patients by name, each with the mark at this session (if any)
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(p),
                'patient', to_jsonb(pt),
                'mark', to_jsonb(a),
                'recorded_by', (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                                 WHERE u.id = a.recorded_by_id))
              ORDER BY pt.last_name, pt.first_name, p.patient_id), '[]')
         FROM therapy_sessions_participant p
         JOIN patients_patient pt ON pt.id = p.patient_id
         LEFT JOIN therapy_sessions_attendance a
           ON a.patient_id = p.patient_id AND a.session_id = s.id
        WHERE p.session_id = s.id) AS participants,
      -- the corrections of this session's marks, newest first
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(v),
                'recorded_by', (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                                 WHERE u.id = v.recorded_by_id),
                'changed_by', (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                                WHERE u.id = v.changed_by_id))
              ORDER BY v.changed_at DESC, v.id DESC), '[]')
         FROM therapy_sessions_attendancerevision v
         JOIN therapy_sessions_attendance a ON a.id = v.attendance_id
        WHERE a.session_id = s.id) AS revisions
    FROM therapy_sessions_therapysession s
    WHERE s.id = p_session
  ) page);
END
$fn$;
"""

REVERSE_SQL = "DROP FUNCTION therapy_sessions_session_page;"


class Migration(migrations.Migration):
    dependencies = [("therapy_sessions", "0007_series_weekdays_valid")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
