import csv
import datetime as dt
import io

import pytest
import time_machine
from django.db import connection, transaction
from django.db.utils import DatabaseError

from core.audit import audit
from core.models import AuditEvent, ClinicSettings
from patients.models import Disclosure
from tests.factories import ConsentFactory, PatientFactory


def _event(user, patient=None, action=AuditEvent.Action.VIEW, summary="looked"):
    return audit(
        user=user, action=action, obj=patient, patient=patient, summary=summary
    )


@pytest.mark.parametrize(
    "sql", ["UPDATE core_auditevent SET summary = 'x'", "DELETE FROM core_auditevent"]
)
def test_raw_sql_cannot_change_or_delete_audit_rows(staff_user, sql):
    _event(staff_user)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AuditEvent.objects.get().summary == "looked"


def test_orm_update_and_delete_are_refused_too(staff_user):
    event = _event(staff_user)
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(summary="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        event.delete()
    assert AuditEvent.objects.count() == 1


@pytest.mark.parametrize(
    "role, status", [("admin", 200), ("staff", 403), ("doctor", 403), ("sponsor", 403)]
)
def test_only_administrators_open_the_audit_trail(client_for, users, role, status):
    assert client_for(users[role]).get("/audit/").status_code == status


def test_audit_search_by_patient_user_and_dates(client_for, users):
    alice = PatientFactory(first_name="Alice", last_name="Marsh")
    bob = PatientFactory(first_name="Bob", last_name="Quill")
    with time_machine.travel(dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC)):
        _event(users["staff"], alice, summary="old alice")
    with time_machine.travel(dt.datetime(2026, 2, 5, 15, tzinfo=dt.UTC)):
        _event(users["staff"], alice, summary="new alice")
        _event(users["doctor"], bob, summary="new bob")
    client = client_for(users["admin"])
    html = client.post("/audit/", {"patient": "marsh"}).content.decode()
    assert "old alice" in html and "new alice" in html and "new bob" not in html
    html = client.post("/audit/", {"patient": bob.record_number}).content.decode()
    assert "new bob" in html and "alice" not in html
    html = client.post("/audit/", {"user": users["doctor"].pk}).content.decode()
    assert "new bob" in html and "alice" not in html
    html = client.post(
        "/audit/", {"date_from": "2026-02-01", "date_to": "2026-02-28"}
    ).content.decode()
    assert "new alice" in html and "old alice" not in html
    bad = client.post("/audit/", {"date_from": "2026-03-01", "date_to": "2026-02-01"})
    assert bad.status_code == 200
    assert b"before the start date" in bad.content


def test_audit_search_keeps_patient_names_out_of_urls(client_for, users):
    html = client_for(users["admin"]).get("/audit/").content.decode()
    assert 'method="post" action="/audit/"' in html


def _fill(n, user):
    patient = PatientFactory()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(user=user, role="Clinic staff", action="view", patient=patient)
            for _ in range(n)
        ]
    )


@pytest.mark.parametrize("rows", [3, 120])
def test_audit_page_costs_a_fixed_number_of_queries(
    client_for, users, rows, django_assert_num_queries
):
    _fill(rows, users["staff"])
    client = client_for(users["admin"])
    client.get("/audit/")  # warm the session and the role cache
    # session, user, groups (role), count, page rows, users for the select
    with django_assert_num_queries(6):
        response = client.post("/audit/", {"page": 2 if rows > 50 else 1})
    assert response.status_code == 200


def test_audit_paginates_by_50(client_for, users):
    _fill(120, users["staff"])
    client = client_for(users["admin"])
    page3 = client.post("/audit/", {"page": 3})
    assert page3.context["page"].number == 3
    assert len(page3.context["page"].object_list) == 20
    assert client.post("/audit/", {"page": 99}).context["page"].number == 3


def test_audit_csv_export_is_itself_audited(client_for, users):
    patient = PatientFactory(first_name="=HYPERLINK(1)")
    _event(users["staff"], patient, summary="=cmd|' /C calc'!A0")
    client = client_for(users["admin"])
    response = client.post("/audit/", {"export": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "when"
    assert rows[1][8] == "'=cmd|' /C calc'!A0"  # formula defused
    assert rows[1][6] == patient.record_number
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).count() == 1


# --- Accounting of disclosures -------------------------------------------------


def _disclosure(patient, at, recipient="Carol Bennett", consent=None):
    return Disclosure.objects.create(
        patient=patient,
        consent=consent,
        recipient=recipient,
        what="Missed session on a date",
        channel=Disclosure.Channel.EMAIL,
        at=at,
    )


@pytest.mark.parametrize(
    "role, status", [("admin", 200), ("staff", 200), ("doctor", 403), ("sponsor", 403)]
)
def test_disclosure_accounting_is_for_staff_and_administrators(
    client_for, users, role, status
):
    patient = PatientFactory()
    client = client_for(users[role])
    assert client.get(f"/patients/{patient.pk}/disclosures/").status_code == status
    assert client.get(f"/patients/{patient.pk}/disclosures.pdf").status_code == status


def test_disclosures_of_the_last_3_years_only(client_for, users):
    consent = ConsentFactory()
    patient = consent.patient
    now = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    _disclosure(patient, now - dt.timedelta(days=10), "Recent Recipient", consent)
    _disclosure(patient, now - dt.timedelta(days=3 * 365 - 5), "Old But In")
    _disclosure(patient, now - dt.timedelta(days=3 * 365 + 5), "Too Old")
    _disclosure(PatientFactory(), now, "Other Patient's Recipient")
    with time_machine.travel(now):
        response = client_for(users["staff"]).get(
            f"/patients/{patient.pk}/disclosures/"
        )
    html = response.content.decode()
    assert "Recent Recipient" in html and "Old But In" in html
    assert "Too Old" not in html and "Other Patient" not in html
    assert "42 CFR part 2" in html
    assert (
        AuditEvent.objects.filter(
            patient=patient, action=AuditEvent.Action.VIEW
        ).count()
        == 1
    )


@pytest.mark.parametrize("count", [1, 30])
def test_disclosure_page_costs_a_fixed_number_of_queries(
    client_for, users, count, django_assert_num_queries
):
    consent = ConsentFactory()
    for i in range(count):
        _disclosure(
            consent.patient,
            dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=i),
            consent=consent,
        )
    client = client_for(users["staff"])
    client.get("/account/")
    # session, user, groups, patient, disclosures, audit insert (+savepoints)
    with (
        time_machine.travel(dt.datetime(2026, 6, 1, tzinfo=dt.UTC)),
        django_assert_num_queries(8),
    ):
        client.get(f"/patients/{consent.patient.pk}/disclosures/")


def test_disclosure_pdf_lists_them_for_the_patient(client_for, users):
    from pypdf import PdfReader

    consent = ConsentFactory()
    _disclosure(
        consent.patient,
        dt.datetime(2026, 5, 1, tzinfo=dt.UTC),
        "Carol Bennett",
        consent,
    )
    with time_machine.travel(dt.datetime(2026, 6, 1, tzinfo=dt.UTC)):
        response = client_for(users["admin"]).get(
            f"/patients/{consent.patient.pk}/disclosures.pdf"
        )
    assert response["Content-Type"] == "application/pdf"
    text = " ".join(
        p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages
    )
    assert "Accounting of disclosures" in text
    assert "Carol Bennett" in text
    assert consent.patient.record_number in text
    assert "42 CFR part 2" in text
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.EXPORT, patient=consent.patient
    ).exists()


def test_unknown_patient_is_a_404(client_for, users):
    assert (
        client_for(users["staff"]).get("/patients/999999/disclosures/").status_code
        == 404
    )


# --- Program settings ------------------------------------------------------------


def _settings_data(**over):
    data = {
        "daily_target_minutes": 180,
        "weekly_target_minutes_adult": 540,
        "weekly_target_minutes_minor": 360,
        "alert_grace_minutes": 30,
        "absence_rule_count": 3,
        "absence_rule_days": 30,
        "consecutive_noshow_rule": 2,
        "correction_window_days": 7,
        "sms_quiet_start": "21:00",
        "sms_quiet_end": "08:00",
        "alert_max_attempts": 6,
    }
    data.update(over)
    return data


@pytest.mark.parametrize(
    "role, status", [("admin", 200), ("staff", 403), ("doctor", 403), ("sponsor", 403)]
)
def test_only_administrators_edit_program_settings(client_for, users, role, status):
    client = client_for(users[role])
    assert client.get("/settings/").status_code == status
    response = client.post("/settings/", _settings_data(alert_grace_minutes=45))
    assert ClinicSettings.load().alert_grace_minutes == (45 if role == "admin" else 30)
    assert response.status_code == (302 if role == "admin" else 403)


def test_settings_change_is_audited_with_the_changed_fields(client_for, users):
    client_for(users["admin"]).post(
        "/settings/", _settings_data(alert_grace_minutes=45, absence_rule_count=4)
    )
    event = AuditEvent.objects.get(model="core.ClinicSettings")
    assert event.changed_fields == ["absence_rule_count", "alert_grace_minutes"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("absence_rule_count", 0, "from 1 to 100"),
        ("daily_target_minutes", 2000, "from 30 to 1440"),
        ("daily_target_minutes", 600, "cannot be more than"),
        ("sms_quiet_end", "21:00", "different end time"),
        ("alert_grace_minutes", -5, "greater than or equal to 0"),
        ("correction_window_days", "seven", "whole number"),
    ],
)
def test_settings_refuse_bad_values_with_a_message(
    client_for, users, field, value, message
):
    over = {field: value}
    if message == "cannot be more than":
        over["weekly_target_minutes_adult"] = 500
    response = client_for(users["admin"]).post("/settings/", _settings_data(**over))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert ClinicSettings.load().daily_target_minutes == 180
