"""Plain-SQL reads whose plan PostgreSQL keeps for the connection.

The pages' big statements (a dashboard, a patient's page, a week of sessions) are
written in SQL because building them with the ORM took longer than running them.
PostgreSQL then still parsed, analysed and planned each one on every request, which
for a statement of many subqueries costs as much again as executing it.

``prepared_cursor()`` runs a statement through a server-side binding cursor: the
parameters travel apart from the text (``%(name)s`` becomes ``$1``...), so the text
is the same on every request, and psycopg prepares it after
``OPTIONS["prepare_threshold"]`` runs on a connection (settings: 5). From then on
the connection executes the kept plan. The ORM's own queries keep Django's
client-side binding cursor and are never prepared.

Prepared statements belong to one database connection: behind a pooler in
transaction mode (PgBouncer before 1.21) set ``prepare_threshold`` to None, which
turns preparing off and leaves every statement working as before.

Statements go through Django's cursor wrapper, so they are logged and counted like
any other query (the benchmark's query counts, the tests' assertNumQueries)."""

from contextlib import contextmanager

from django.db import connection
from django.db.backends.postgresql.base import ServerBindingCursor


@contextmanager
def prepared_cursor():
    """A cursor for one plain-SQL read with bound parameters (``%(name)s``). Use it
    for statements whose text does not change between requests; the values change
    through the parameters only."""
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = ServerBindingCursor(connection.connection)
    cursor = connection._prepare_cursor(raw)
    try:
        yield cursor
    finally:
        cursor.close()
