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


def loaded(model, **values):
    """An instance as the ORM loads one with only(*values): a field the query
    did not read is deferred (read on access), never a default value; marked as
    loaded from the database.

    A page builds dozens of these; Model.__init__ (a setattr per field through
    its descriptor, and the init signals) costs several times filling the
    instance's attributes directly, which is what it amounts to. Models with init
    signal receivers go through from_db as the ORM's own reads do."""
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        names = [f.attname for f in model._meta.concrete_fields if f.attname in values]
        return model.from_db(DEFAULT_DB_ALIAS, names, [values[n] for n in names])
    obj = model.__new__(model)
    obj.__dict__.update(values)
    state = obj._state = ModelState()
    state.adding = False
    state.db = DEFAULT_DB_ALIAS  # the pages read from the default connection
    return obj


def relate(obj, name, value):
    """`obj.<name> = value` for a foreign key whose id the row read already
    holds: the related instance goes into the instance's relation cache, where
    the field's descriptor would put it, without the descriptor's checks (dozens
    a page)."""
    obj._state.fields_cache[name] = value


def instance(model, data):
    """A model instance from a row as `to_jsonb` writes it (None for None), as if
    the ORM had read it whole: dates and times parsed (see loaded)."""
    if data is None:
        return None
    values = {}
    for column, attname, convert in _columns(model):
        value = data.get(column)
        values[attname] = convert(value) if value is not None and convert else value
    return loaded(model, **values)


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
