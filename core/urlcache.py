"""URLs of pages that take one integer id, reversed once per process.

reverse() walks the URL patterns on every call (about 45 µs here); the patient
page wrote some 30 such URLs, a few per table row. A URL with an integer id is
the same text with the id put in, so the pattern is reversed once for a
stand-in id and kept, keyed by everything reverse() depends on: the URL
resolver in use (a new object when the URLconf changes or the URL caches are
cleared, as override_settings(ROOT_URLCONF=...) does) and the script prefix.
Only integer ids are substituted (nothing to quote in them)."""

import functools

from django.urls import get_resolver, get_script_prefix, get_urlconf, reverse

STAND_IN = "2147483647"


@functools.lru_cache(maxsize=512)
def _reversed(resolver, prefix, name, with_id):
    return reverse(name, args=[STAND_IN] if with_id else None)


def parts(name):
    """(before, after): the URL of `name` for one integer id is before + id +
    after. For tables that write many such links, looked up once per table."""
    pattern = _reversed(get_resolver(get_urlconf()), get_script_prefix(), name, True)
    before, _, after = pattern.partition(STAND_IN)
    return before, after


class Links:
    """Links to pages that take one integer id, for a table of them: each URL
    name's parts looked up once per table (see parts) instead of once per row.
    `links(name, pk)` is reverse(name, args=[pk])."""

    def __init__(self):
        self._parts = {}

    def __call__(self, name, pk):
        found = self._parts.get(name)
        if found is None:
            found = self._parts[name] = parts(name)
        return f"{found[0]}{int(pk)}{found[1]}"


def url(name, pk=None):
    """reverse(name, args=[pk]) for an integer `pk` (reverse(name) without)."""
    if pk is None:
        return _reversed(get_resolver(get_urlconf()), get_script_prefix(), name, False)
    before, after = parts(name)
    return f"{before}{int(pk)}{after}"
