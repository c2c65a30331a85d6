"""Searches kept in the session under a short random key.

A search that may name a patient (a name, a record number, a phone, a sponsor's
name) is POSTed and kept here; the page's URLs then carry only `?s=<key>`, never
the terms (no patient data in URLs, logs or browser history). Each kind of search
keeps its newest KEPT under its own session entry."""

import secrets

KEPT = 20
KEY_LENGTH = 20  # the longest key read back from a URL


def store(request, bucket, data):
    """Keep `data` (a dict of the search's fields) and return its key."""
    searches = dict(request.session.get(bucket, {}))
    key = secrets.token_urlsafe(6)
    searches[key] = data
    # dicts keep insertion order: drop the oldest beyond the limit.
    for old in list(searches)[:-KEPT]:
        del searches[old]
    request.session[bucket] = searches
    return key


def load(request, bucket, key):
    """The search kept under `key`, or None when unknown or expired."""
    return request.session.get(bucket, {}).get((key or "")[:KEY_LENGTH])


def take(request, bucket, posted=None):
    """The search of this request, as (key, data, expired): a POST keeps `posted`
    (the form's data) under a new key; a GET with `?s=<key>` reads the one kept
    (expired when it is gone); any other request has none (None, None, False)."""
    if request.method == "POST":
        return store(request, bucket, posted), posted, False
    key = request.GET.get("s")
    if not key:
        return None, None, False
    data = load(request, bucket, key)
    if data is None:
        return None, None, True
    return key, data, False
