"""The schema's indexes, as migrated: every foreign key can be looked up through
an index (deleting or protecting a row, the joins of the pages), and no index is
the leading part of another one (each costs a write on every row it holds:
attendance marks, bookings, and an audit row on every page view)."""

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

OUR_APPS = ("accounts", "core", "patients", "therapy_sessions", "portal")

# Foreign keys without an index that leads with them, and why.
UNINDEXED_KEYS = {
    # Written by triggers, read by (week, patient); a patient with weekly
    # minutes has attendance, which protects the patient from deletion.
    ("therapy_sessions_weeklyminutes", "patient_id"),
}

KEYS_WITHOUT_INDEX_SQL = """
SELECT c.conrelid::regclass::text, a.attname
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
WHERE c.contype = 'f' AND cardinality(c.conkey) = 1
  AND c.conrelid::regclass::text = ANY(%s)
  AND NOT EXISTS (
      SELECT 1 FROM pg_index i
      WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1]
        AND i.indpred IS NULL
  )
ORDER BY 1, 2
"""

# Pairs of plain btree indexes of a table where the first one's columns, with
# their operator classes and order, are the leading columns of the second.
PREFIX_INDEXES_SQL = """
SELECT a.indrelid::regclass::text, ia.relname, ib.relname
FROM pg_index a
JOIN pg_index b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
JOIN pg_class ia ON ia.oid = a.indexrelid
JOIN pg_class ib ON ib.oid = b.indexrelid
JOIN pg_am ama ON ama.oid = ia.relam
JOIN pg_am amb ON amb.oid = ib.relam
WHERE ama.amname = 'btree' AND amb.amname = 'btree'
  AND a.indrelid::regclass::text = ANY(%s)
  AND NOT a.indisunique
  AND a.indpred IS NULL AND b.indpred IS NULL
  AND a.indexprs IS NULL AND b.indexprs IS NULL
  AND a.indnkeyatts <= b.indnkeyatts
  AND (a.indkey::int2[])[0:a.indnkeyatts - 1]
      = (b.indkey::int2[])[0:a.indnkeyatts - 1]
  AND (a.indclass::oid[])[0:a.indnkeyatts - 1]
      = (b.indclass::oid[])[0:a.indnkeyatts - 1]
  AND (a.indoption::int2[])[0:a.indnkeyatts - 1]
      = (b.indoption::int2[])[0:a.indnkeyatts - 1]
ORDER BY 1, 2, 3
"""


def _our_tables():
    """The tables of our apps' own models (not Django's many-to-many tables)."""
    return [
        model._meta.db_table
        for label in OUR_APPS
        for model in apps.get_app_config(label).get_models()
        if not model._meta.auto_created
    ]


def _rows(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql, [_our_tables()])
        return cursor.fetchall()


def test_every_foreign_key_leads_an_index():
    assert set(_rows(KEYS_WITHOUT_INDEX_SQL)) == UNINDEXED_KEYS


def test_no_index_is_the_leading_part_of_another():
    assert _rows(PREFIX_INDEXES_SQL) == []


def test_the_dropped_key_indexes_are_gone_and_their_keys_still_lead_an_index():
    # The audit table: one row per page view, read by patient or user and time.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'core_auditevent'"
        )
        definitions = {row[0].split(" USING ")[1] for row in cursor.fetchall()}
    assert "btree (patient_id)" not in definitions
    assert "btree (user_id)" not in definitions
    assert "btree (patient_id, at DESC)" in definitions
    assert "btree (user_id, at DESC)" in definitions
