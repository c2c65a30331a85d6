"""A field's choice label, as obj.get_<field>_display() gives it, for less.

get_FOO_display() rebuilds the field's dict of choices on every call (a
make_hashable over every choice); the patient page's Python-built rows ask for
some thirty labels a request. The dict is built once per field here; the label
is coerced to text at each call, so a lazy label follows the active language."""

import functools

from django.utils.encoding import force_str
from django.utils.hashable import make_hashable


@functools.cache
def _labels(model, name):
    return dict(make_hashable(model._meta.get_field(name).flatchoices))


def display(obj, name):
    """What obj.get_<name>_display() returns (the value itself when it is not
    one of the choices)."""
    value = getattr(obj, name)
    try:
        label = _labels(type(obj), name).get(value, value)
    except TypeError:  # an unhashable value (a list): as Django does
        label = _labels(type(obj), name).get(make_hashable(value), value)
    return force_str(label, strings_only=True)
