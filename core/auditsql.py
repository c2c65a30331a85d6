"""Audit rows written by a page's own read statement.

A page that reads in one plain-SQL statement can write its audit row in the same
statement (a data-modifying WITH): one round trip and one commit instead of two
statements, and no ORM insert to compile. The statement runs in autocommit, so
the row is committed, durably, before the page is rendered, as audit() does.

`audit_params` gives the row's values as core.audit.audit() writes them (who,
their role, the request's address and browser, when); the statement supplies
the rest (the record, whose record, the summary) from what it reads, through
AUDIT_INSERT. tests/core/test_auditsql.py holds the two to the same row."""

import json

from django.utils import timezone

from .audit import actor_fields

# INSERT ... SELECT of one audit row: `{model}`, `{object_id}`, `{patient}`,
# `{summary}` are SQL expressions of the statement (bound parameters or columns it
# reads), `{source}` its FROM (no row, no audit row).
AUDIT_INSERT = """
    INSERT INTO core_auditevent
           (at, user_id, role, action, model, object_id, patient_id,
            changed_fields, summary, ip_address, user_agent)
    SELECT %(audit_at)s::timestamptz, %(audit_user)s::bigint, %(audit_role)s::text,
           %(audit_action)s::text, {model}, {object_id}, {patient},
           %(audit_fields)s::jsonb, left({summary}, 200), %(audit_ip)s::inet,
           %(audit_agent)s::text
    FROM {source}
    RETURNING id
"""


def audit_params(*, user, action, changed_fields=()):
    """The parameters of AUDIT_INSERT: the values audit() gives the row's user,
    role, action, changed fields, time, IP address and user agent."""
    actor = actor_fields(user)
    return {
        "audit_at": timezone.now(),
        "audit_user": actor["user"].pk if actor["user"] is not None else None,
        "audit_role": actor["role"],
        "audit_action": getattr(action, "value", action),
        "audit_fields": json.dumps(sorted(changed_fields)),
        "audit_ip": actor.get("ip_address"),
        "audit_agent": actor.get("user_agent", ""),
    }
