"""Model instances from rows read as JSON.

A page that reads several sections in one SQL statement gets each row as
`to_jsonb` writes it (Django hands json and jsonb back as text; the caller
decodes it). `instance` turns such a row back into the model instance the ORM
would have built, so that templates and model methods work on it unchanged."""

import datetime
import functools
import json

from django.db import connection


def parse_datetime(value):
    return datetime.datetime.fromisoformat(value)


_CONVERT = {
    "DateField": datetime.date.fromisoformat,
    "DateTimeField": parse_datetime,
    "TimeField": datetime.time.fromisoformat,
}


@functools.cache
def _columns(model):
    """(column, converter or None) of each concrete field, in field order."""
    return [
        (f.column, _CONVERT.get(f.get_internal_type()))
        for f in model._meta.concrete_fields
    ]


def instance(model, data):
    """A model instance from a row as `to_jsonb` writes it (None for None), as if
    the ORM had read it: dates and times parsed, marked as loaded from the
    database."""
    if data is None:
        return None
    values = []
    for column, convert in _columns(model):
        value = data.get(column)
        values.append(convert(value) if value is not None and convert else value)
    return model.from_db(connection.alias, None, values)


def fetch_row(sql, params):
    """The first row of `sql` (None when there is none), every column decoded
    from JSON (the columns of a statement that reads its parts as json or
    jsonb; Django reads those as text, its JSONField decoding them itself)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return tuple(json.loads(value) if value is not None else None for value in row)
