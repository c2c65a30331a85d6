"""Model instances from rows read as JSON.

A page that reads several sections in one SQL statement gets each row as
`to_jsonb` writes it (Django hands json and jsonb back as text; the caller
decodes it). `instance` turns such a row back into the model instance the ORM
would have built, so that templates and model methods work on it unchanged."""

import datetime
import functools
import json

from django.db import DEFAULT_DB_ALIAS
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

from core.db import prepared_cursor


def parse_datetime(value):
    return datetime.datetime.fromisoformat(value)


_CONVERT = {
    "DateField": datetime.date.fromisoformat,
    "DateTimeField": parse_datetime,
    "TimeField": datetime.time.fromisoformat,
}


@functools.cache
def _columns(model):
    """(column, attname, converter or None) of each concrete field."""
    return [
        (f.column, f.attname, _CONVERT.get(f.get_internal_type()))
        for f in model._meta.concrete_fields
    ]


def instance(model, data):
    """A model instance from a row as `to_jsonb` writes it (None for None), as if
    the ORM had read it: dates and times parsed, marked as loaded from the
    database.

    A page builds dozens of these; Model.__init__ (a setattr per field through
    its descriptor, and the init signals) costs several times filling the
    instance's attributes directly, which is what it amounts to for a row read
    whole. Models with init signal receivers go through from_db as the ORM's
    own reads do."""
    if data is None:
        return None
    columns = _columns(model)
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        values = []
        for column, _attname, convert in columns:
            value = data.get(column)
            values.append(convert(value) if value is not None and convert else value)
        return model.from_db(DEFAULT_DB_ALIAS, None, values)
    obj = model.__new__(model)
    attrs = obj.__dict__
    for column, attname, convert in columns:
        value = data.get(column)
        attrs[attname] = convert(value) if value is not None and convert else value
    state = obj._state = ModelState()
    state.adding = False
    state.db = DEFAULT_DB_ALIAS  # fetch_row reads from the default connection
    return obj


def fetch_row(sql, params):
    """The first row of `sql` (None when there is none), every column decoded
    from JSON (the columns of a statement that reads its parts as json or
    jsonb; Django reads those as text, its JSONField decoding them itself). The
    statement is prepared on its connection (core.db.prepared_cursor): give it
    a text that does not change, with its values as parameters."""
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return tuple(json.loads(value) if value is not None else None for value in row)
