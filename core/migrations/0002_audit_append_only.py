"""The audit trail is append-only: the database refuses UPDATE, DELETE."""

from django.db import migrations

SQL = r"""
CREATE FUNCTION core_refuse_audit_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only'
        USING ERRCODE = 'restrict_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER auditevent_append_only
    BEFORE UPDATE OR DELETE ON core_auditevent
    FOR EACH ROW EXECUTE FUNCTION core_refuse_audit_change();

"""

REVERSE = r"""
DROP TRIGGER IF EXISTS auditevent_append_only ON core_auditevent;
DROP FUNCTION IF EXISTS core_refuse_audit_change();
"""


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
