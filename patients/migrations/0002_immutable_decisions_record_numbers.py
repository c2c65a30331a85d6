"""A signed doctor's decision can never be changed or deleted; record numbers come
from a sequence."""

from django.db import migrations

SQL = r"""
CREATE FUNCTION patients_refuse_decision_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a signed doctor''s decision cannot be changed or deleted; record a new decision instead'
        USING ERRCODE = 'restrict_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER doctordecision_immutable
    BEFORE UPDATE OR DELETE ON patients_doctordecision
    FOR EACH ROW EXECUTE FUNCTION patients_refuse_decision_change();


CREATE SEQUENCE patients_record_number_seq START 1001;
"""

REVERSE = r"""
DROP SEQUENCE IF EXISTS patients_record_number_seq;
DROP TRIGGER IF EXISTS doctordecision_immutable ON patients_doctordecision;
DROP FUNCTION IF EXISTS patients_refuse_decision_change();
"""


class Migration(migrations.Migration):
    dependencies = [("patients", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
