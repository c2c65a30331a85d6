"""Triggers that let the database refuse double bookings and over-full groups.

Participant and SessionFacilitator rows carry a copy of their session's start, end
and "active" (not cancelled), so that exclusion constraints can refuse overlaps.
The triggers keep the copies right whatever code writes the rows, and refuse a
patient row beyond the session's capacity (the session row is locked first, so
two concurrent enrolments for the last seat are serialized)."""

from django.db import migrations

SQL = r"""
CREATE FUNCTION therapy_sessions_copy_session_times() RETURNS trigger AS $$
DECLARE s RECORD;
BEGIN
    SELECT start, "end", status INTO s
      FROM therapy_sessions_therapysession WHERE id = NEW.session_id;
    NEW.start := s.start;
    NEW."end" := s."end";
    NEW.active := (s.status <> 'cancelled');
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER participant_copy_session_times
    BEFORE INSERT OR UPDATE ON therapy_sessions_participant
    FOR EACH ROW EXECUTE FUNCTION therapy_sessions_copy_session_times();
CREATE TRIGGER facilitator_copy_session_times
    BEFORE INSERT OR UPDATE ON therapy_sessions_sessionfacilitator
    FOR EACH ROW EXECUTE FUNCTION therapy_sessions_copy_session_times();

CREATE FUNCTION therapy_sessions_propagate_session_times() RETURNS trigger AS $$
BEGIN
    IF NEW.start IS DISTINCT FROM OLD.start OR NEW."end" IS DISTINCT FROM OLD."end"
       OR NEW.status IS DISTINCT FROM OLD.status THEN
        UPDATE therapy_sessions_participant
           SET start = NEW.start, "end" = NEW."end",
               active = (NEW.status <> 'cancelled')
         WHERE session_id = NEW.id;
        UPDATE therapy_sessions_sessionfacilitator
           SET start = NEW.start, "end" = NEW."end",
               active = (NEW.status <> 'cancelled')
         WHERE session_id = NEW.id;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER session_propagate_times
    AFTER UPDATE ON therapy_sessions_therapysession
    FOR EACH ROW EXECUTE FUNCTION therapy_sessions_propagate_session_times();

CREATE FUNCTION therapy_sessions_check_capacity() RETURNS trigger AS $$
DECLARE cap integer; taken integer;
BEGIN
    SELECT capacity INTO cap FROM therapy_sessions_therapysession
     WHERE id = NEW.session_id FOR UPDATE;
    SELECT count(*) INTO taken FROM therapy_sessions_participant
     WHERE session_id = NEW.session_id;
    IF taken >= cap THEN
        RAISE EXCEPTION 'session % is full (capacity %)', NEW.session_id, cap
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'participant_within_capacity';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER participant_within_capacity
    BEFORE INSERT ON therapy_sessions_participant
    FOR EACH ROW EXECUTE FUNCTION therapy_sessions_check_capacity();

CREATE FUNCTION therapy_sessions_check_capacity_shrink() RETURNS trigger AS $$
DECLARE taken integer;
BEGIN
    IF NEW.capacity < OLD.capacity THEN
        SELECT count(*) INTO taken FROM therapy_sessions_participant
         WHERE session_id = NEW.id;
        IF taken > NEW.capacity THEN
            RAISE EXCEPTION 'session % has % patients, more than capacity %',
                NEW.id, taken, NEW.capacity
                USING ERRCODE = 'check_violation',
                      CONSTRAINT = 'participant_within_capacity';
        END IF;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER session_capacity_not_below_roster
    BEFORE UPDATE OF capacity ON therapy_sessions_therapysession
    FOR EACH ROW EXECUTE FUNCTION therapy_sessions_check_capacity_shrink();
"""

REVERSE = r"""
DROP TRIGGER IF EXISTS session_capacity_not_below_roster ON therapy_sessions_therapysession;
DROP FUNCTION IF EXISTS therapy_sessions_check_capacity_shrink();
DROP TRIGGER IF EXISTS participant_within_capacity ON therapy_sessions_participant;
DROP FUNCTION IF EXISTS therapy_sessions_check_capacity();
DROP TRIGGER IF EXISTS session_propagate_times ON therapy_sessions_therapysession;
DROP FUNCTION IF EXISTS therapy_sessions_propagate_session_times();
DROP TRIGGER IF EXISTS facilitator_copy_session_times ON therapy_sessions_sessionfacilitator;
DROP TRIGGER IF EXISTS participant_copy_session_times ON therapy_sessions_participant;
DROP FUNCTION IF EXISTS therapy_sessions_copy_session_times();
"""


class Migration(migrations.Migration):
    dependencies = [("therapy_sessions", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
