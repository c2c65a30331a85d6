"""The patient page's read as a function: patient_page(...) returns the patient
and every section of the page as one jsonb object (patients.page.patient_page).

As a single statement, PostgreSQL parsed, analysed and planned its forty
subqueries on every request, which took longer (about 2 ms) than running it
(about 1 ms). PL/pgSQL keeps the plan of a function's statement for the
session: after the first calls on a connection the page's read is executed
only. A change to the read is a new migration replacing the function; the
tests hold it to the ORM read (tests/patients/test_patient_page_sql.py).
"""

from django.db import migrations

SQL = r"""
CREATE FUNCTION patient_page(
    p_patient bigint,
    p_now timestamptz,
    p_upcoming integer,
    p_past integer,
    p_tz text,
    p_minutes_lo timestamptz,
    p_minutes_hi timestamptz,
    p_absence_days integer,
    p_noshow_rule integer,
    p_unexcused text,
    p_run_lookback integer,
    p_missed text,
    p_failed text,
    p_alerts integer
) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $fn$
BEGIN
  RETURN (SELECT to_jsonb(page) FROM (
    SELECT
      to_jsonb(p) AS patient,
      (SELECT to_jsonb(t) FROM patients_track t WHERE t.id = p.track_id) AS track,
      (SELECT to_jsonb(u) - 'password' FROM accounts_user u
        WHERE u.id = p.primary_counselor_id) AS counselor,
      (SELECT to_jsonb(u) - 'password' FROM accounts_user u
        WHERE u.id = p.attending_doctor_id) AS doctor,
      -- sponsors by name, each with its open invitation and its consents,
      -- newest first
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(s),
                'invitation', (SELECT to_jsonb(i) FROM portal_sponsorinvitation i
                                WHERE i.sponsor_id = s.id AND i.state = 'open'),
                'consents', (
                  SELECT COALESCE(jsonb_agg(jsonb_build_object(
                           'row', to_jsonb(c),
                           'witnessed_by',
                             (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                               WHERE u.id = c.witnessed_by_id),
                           'revoked_recorded_by',
                             (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                               WHERE u.id = c.revoked_recorded_by_id))
                         ORDER BY c.effective_on DESC, c.id DESC), '[]')
                    FROM patients_consent c WHERE c.sponsor_id = s.id))
              ORDER BY s.full_name, s.id), '[]')
         FROM patients_sponsor s WHERE s.patient_id = p.id) AS sponsors,
      -- admission requests, newest first, each with its decisions, newest first
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(r),
                'requested_by', (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                                  WHERE u.id = r.requested_by_id),
                'doctor', (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                            WHERE u.id = r.doctor_id),
                'proposed_track', (SELECT to_jsonb(t) FROM patients_track t
                                    WHERE t.id = r.proposed_track_id),
                'decisions', (
                  SELECT COALESCE(jsonb_agg(jsonb_build_object(
                           'row', to_jsonb(d),
                           'signed_by',
                             (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                               WHERE u.id = d.signed_by_id))
                         ORDER BY d.signed_at DESC, d.id DESC), '[]')
                    FROM patients_doctordecision d WHERE d.request_id = r.id))
              ORDER BY r.requested_at DESC, r.id DESC), '[]')
         FROM patients_admissionrequest r WHERE r.patient_id = p.id) AS requests,
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(h),
                'by', (SELECT to_jsonb(u) - 'password' FROM accounts_user u
                        WHERE u.id = h.by_id))
              ORDER BY h.at DESC, h.id DESC), '[]')
         FROM patients_patientstatuschange h WHERE h.patient_id = p.id) AS history,
      -- the next and the last sessions, picked through the patient's participations
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(s),
                'room', (SELECT to_jsonb(r) FROM therapy_sessions_room r
                          WHERE r.id = s.room_id),
                'topic', (SELECT to_jsonb(t) FROM therapy_sessions_topic t
                           WHERE t.id = s.topic_id))
              ORDER BY s.start, s.id), '[]')
         FROM therapy_sessions_therapysession s
        WHERE s.id IN (
              (SELECT x.session_id FROM therapy_sessions_participant x
                WHERE x.patient_id = p.id AND x."end" > p_now
                ORDER BY x.start, x.session_id LIMIT p_upcoming)
              UNION ALL
              (SELECT x.session_id FROM therapy_sessions_participant x
                WHERE x.patient_id = p.id AND x."end" <= p_now
                ORDER BY x.start DESC, x.session_id DESC LIMIT p_past))) AS sessions,
      (SELECT to_jsonb(f) FROM therapy_sessions_calendarfeed f
        WHERE f.patient_id = p.id) AS feed,
      (SELECT to_jsonb(cs) FROM core_clinicsettings cs WHERE cs.id = 1) AS settings,
      -- attended minutes per local day (as attendance.PATIENT_DAILY_MINUTES_SQL,
      -- through the marks' own copy of their session's start, indexed by patient)
      (SELECT COALESCE(jsonb_agg(jsonb_build_array(day, minutes)), '[]') FROM (
          SELECT (a.session_start AT TIME ZONE p_tz)::date AS day,
                 SUM(a.minutes) AS minutes
          FROM therapy_sessions_attendance a
          WHERE a.patient_id = p.id
            AND a.session_start >= p_minutes_lo AND a.session_start < p_minutes_hi
          GROUP BY 1) per_day) AS minutes,
      -- the latest marks for the rule flags, as attendance.PATIENT_LATEST_MARKS_SQL
      -- returns them (each row: status, unexcused absences in the rule's window,
      -- unexcused absences since the latest review, that review), with the window
      -- and the run length taken from the settings
      (SELECT COALESCE(jsonb_agg(jsonb_build_array(
                l.status, c.recent, c.since_review,
                rev.reviewed_at, rev.note, rev.full_name, rev.email)
              ORDER BY l.start DESC, l.id DESC), '[]')
         FROM (
           SELECT a.id, a.status, a.session_start AS start
             FROM therapy_sessions_attendance a
            WHERE a.patient_id = p.id
            ORDER BY a.session_start DESC, a.id DESC
            LIMIT COALESCE((SELECT consecutive_noshow_rule FROM core_clinicsettings
                             WHERE id = 1), p_noshow_rule) + p_run_lookback
         ) l
         LEFT JOIN LATERAL (
           SELECT r.reviewed_at, r.note, u.full_name, u.email
             FROM therapy_sessions_flagreview r
             JOIN accounts_user u ON u.id = r.reviewed_by_id
            WHERE r.patient_id = p.id
            ORDER BY r.reviewed_at DESC, r.id DESC
            LIMIT 1
         ) rev ON true
         CROSS JOIN LATERAL (
           SELECT COUNT(*) FILTER (
                    WHERE x.session_start >= p_now - make_interval(
                            secs => COALESCE((SELECT absence_rule_days
                                                FROM core_clinicsettings WHERE id = 1),
                                             p_absence_days) * 86400)
                      AND x.session_start <= p_now) AS recent,
                  COUNT(*) FILTER (WHERE x.session_start > rev.reviewed_at)
                    AS since_review
             FROM therapy_sessions_attendance x
            WHERE x.patient_id = p.id AND x.status = p_unexcused
         ) c) AS marks,
      -- the newest missed-session alerts with their session and sponsor, and counts
      (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                'row', to_jsonb(a),
                'session', (SELECT to_jsonb(s) FROM therapy_sessions_therapysession s
                             WHERE s.id = a.session_id),
                'sponsor', (SELECT to_jsonb(s) FROM patients_sponsor s
                             WHERE s.id = a.sponsor_id))
              ORDER BY a.created_at DESC, a.id DESC), '[]')
         FROM (SELECT * FROM therapy_sessions_alert a
                WHERE a.patient_id = p.id AND a.kind = p_missed
                ORDER BY a.created_at DESC, a.id DESC LIMIT p_alerts) a) AS alerts,
      (SELECT jsonb_build_array(
                COUNT(*), COUNT(*) FILTER (WHERE a.state = p_failed))
         FROM therapy_sessions_alert a
        WHERE a.patient_id = p.id AND a.kind = p_missed) AS alert_counts
    FROM patients_patient p
    WHERE p.id = p_patient
  ) page);
END
$fn$;
"""

REVERSE_SQL = "DROP FUNCTION patient_page;"


class Migration(migrations.Migration):
    dependencies = [("patients", "0002_immutable_decisions_record_numbers")]

    operations = [migrations.RunSQL(SQL, REVERSE_SQL)]
