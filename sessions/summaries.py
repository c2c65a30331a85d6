"""The attendance summaries PostgreSQL keeps (migrations 0008, 0009): weekly
attended minutes and unmarked booked seconds per patient, and each patient's run
of no-shows. Their triggers bucket
the marks into clinic weeks with therapy_sessions_clinic_zone(), written from
CLINIC_TIME_ZONE; after every `migrate` the function is brought in line with the
setting here, and the weekly minutes counted again when it changed."""

from django.conf import settings
from django.db import connections, transaction

REBUILD_WEEKLY_MINUTES = """
DELETE FROM therapy_sessions_weeklyminutes;
INSERT INTO therapy_sessions_weeklyminutes
       (patient_id, week, minutes, unmarked_seconds)
SELECT patient_id, week, SUM(minutes), SUM(seconds)
  FROM (SELECT patient_id, therapy_sessions_clinic_week(session_start) AS week,
               minutes, 0 AS seconds
          FROM therapy_sessions_attendance
         WHERE session_start IS NOT NULL
        UNION ALL
        SELECT patient_id, therapy_sessions_clinic_week(start), 0,
               EXTRACT(EPOCH FROM ("end" - start))
          FROM therapy_sessions_participant
         WHERE active AND NOT marked) c
 GROUP BY 1, 2;
"""


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


def sync_clinic_zone(using="default", **kwargs):
    """post_migrate: when CLINIC_TIME_ZONE is not the zone the weekly minutes
    were kept in, write the new zone and count the weekly minutes again (two
    queries when nothing changed; one before migration 0008)."""
    zone = settings.CLINIC_TIME_ZONE
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute("SELECT to_regprocedure('therapy_sessions_clinic_zone()')")
        if cursor.fetchone()[0] is None:
            return
        cursor.execute("SELECT therapy_sessions_clinic_zone()")
        if cursor.fetchone()[0] == zone:
            return
        write_clinic_zone(cursor, zone)
        cursor.execute(REBUILD_WEEKLY_MINUTES)
