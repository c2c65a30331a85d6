"""core.auditsql: an audit row written by a page's own statement is the row
core.audit.audit() writes."""

import datetime

import pytest
from django.db import connection
from django.forms.models import model_to_dict

from core.audit import _request_meta, audit
from core.auditsql import AUDIT_INSERT, audit_params
from core.models import AuditEvent
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

SQL = "WITH a AS ({insert}) SELECT count(*) FROM a".format(
    insert=AUDIT_INSERT.format(
        model="%(model)s::text",
        object_id="%(object_id)s::text",
        patient="%(patient)s::bigint",
        summary="%(summary)s::text",
        source="(SELECT 1) one",
    )
)


def _row(event):
    values = model_to_dict(event, exclude=["id", "at"])
    return values


@pytest.mark.parametrize(
    "meta",
    [
        None,
        {"ip_address": "203.0.113.9", "user_agent": "Firefox <x> é"},
        {"ip_address": "2001:db8::1", "user_agent": ""},
    ],
)
@pytest.mark.parametrize("who", ["staff", "doctor", "anonymous"])
def test_the_statement_writes_the_row_audit_writes(staff_user, doctor_user, meta, who):
    from django.contrib.auth.models import AnonymousUser

    user = {"staff": staff_user, "doctor": doctor_user}.get(who, AnonymousUser())
    patient = PatientFactory()
    token = _request_meta.set(meta)
    try:
        summary = "Viewed something " + "x" * 300
        want = audit(
            user=user,
            action=AuditEvent.Action.EXPORT,
            obj=patient,
            patient=patient,
            summary=summary,
        )
        params = audit_params(user=user, action=AuditEvent.Action.EXPORT)
        params |= {
            "model": patient._meta.label,
            "object_id": str(patient.pk),
            "patient": patient.pk,
            "summary": summary,
        }
        before = datetime.datetime.now(datetime.UTC)
        with connection.cursor() as cursor:
            cursor.execute(SQL, params)
            assert cursor.fetchone() == (1,)
    finally:
        _request_meta.reset(token)
    got = AuditEvent.objects.exclude(pk=want.pk).get()
    assert _row(got) == _row(want)
    assert got.at >= before - datetime.timedelta(seconds=5)
    assert got.action == "export" and len(got.summary) == 200
