"""The pages' plain-SQL reads are planned once per connection, and still counted."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.db import prepared_cursor

STATEMENT = "SELECT count(*) FROM patients_patient WHERE status = %(status)s"


def _prepared_statements():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE NOT from_sql"
        )
        return [row[0] for row in cursor.fetchall()]


def test_a_read_run_often_is_prepared_on_its_connection_and_counted(db):
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    assert threshold == 5
    with CaptureQueriesContext(connection) as queries:
        for _ in range(threshold + 1):
            with prepared_cursor() as cursor:
                cursor.execute(STATEMENT, {"status": "admitted"})
                assert cursor.fetchone() == (0,)
    assert len(queries) == threshold + 1
    assert [s for s in _prepared_statements() if "patients_patient" in s] == [
        "SELECT count(*) FROM patients_patient WHERE status = $1"
    ]


def test_the_orm_and_plain_cursors_are_never_prepared(db, staff_user):
    from patients.models import Patient

    for _ in range(8):
        list(Patient.objects.filter(status="admitted"))
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s::int + 1", [1])
    assert not [s for s in _prepared_statements() if "patients_patient" in s]
    assert not [s for s in _prepared_statements() if "+ 1" in s]
