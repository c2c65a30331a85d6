"""Writes of the core app: program settings."""

from django.db import transaction

from .audit import audit
from .models import AuditEvent, ClinicSettings, RenderedDocument


def clinic_settings_update(*, user, form):
    """Save the program settings from a valid ClinicSettingsForm, with an audit row
    naming the fields that changed."""
    with transaction.atomic():
        ClinicSettings.objects.select_for_update().filter(pk=1).first()
        changed = list(form.changed_data)
        settings_row = form.save()
        if changed:
            audit(
                user=user,
                action=AuditEvent.Action.UPDATE,
                obj=settings_row,
                changed_fields=changed,
                summary="Program settings changed",
            )
    return settings_row


def audit_export_record(*, user, row_count):
    """The CSV export of the audit trail is itself audited."""
    with transaction.atomic():
        audit(
            user=user,
            action=AuditEvent.Action.EXPORT,
            summary=f"Audit trail exported as CSV ({row_count} rows)",
        )


def disclosures_export_record(*, user, patient, row_count):
    """Printing a patient's accounting of disclosures is a view of their record."""
    with transaction.atomic():
        audit(
            user=user,
            action=AuditEvent.Action.EXPORT,
            obj=patient,
            patient=patient,
            summary=f"Accounting of disclosures printed ({row_count} entries)",
        )


def disclosures_view_record(*, user, patient):
    with transaction.atomic():
        audit(
            user=user,
            action=AuditEvent.Action.VIEW,
            obj=patient,
            patient=patient,
            summary="Accounting of disclosures viewed",
        )


def rendered_document_keep(*, digest, patient, body, now, keep_since):
    """Keep a rendered PDF under its digest (a second render of the same document
    at the same moment keeps the first) and drop those made before `keep_since`:
    they carry an earlier issue date, so nothing can ask for them again."""
    with transaction.atomic():
        RenderedDocument.objects.filter(created_at__lt=keep_since).delete()
        RenderedDocument.objects.bulk_create(
            [
                RenderedDocument(
                    digest=digest, patient=patient, body=body, created_at=now
                )
            ],
            ignore_conflicts=True,
        )
