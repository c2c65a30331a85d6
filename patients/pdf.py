"""PDF documents rendered with WeasyPrint from templates/pdf/.

`render_pdf` is generic: other apps' letters extend templates/pdf/base_letter.html
and call it with their own template and context."""

from django.conf import settings
from django.template.loader import render_to_string

from core.timeutil import clinic_now

from .models import PART2_NOTICE


def letter_context(**extra):
    return {
        "CLINIC_NAME": settings.CLINIC_NAME,
        "CLINIC_ADDRESS": settings.CLINIC_ADDRESS,
        "CLINIC_PHONE": settings.CLINIC_PHONE,
        "PART2_NOTICE": PART2_NOTICE,
        "printed_at": clinic_now(),
        **extra,
    }


def render_pdf(template_name, context, base_url=None):
    import weasyprint

    html = render_to_string(template_name, letter_context(**context))
    return weasyprint.HTML(
        string=html, base_url=base_url or str(settings.BASE_DIR)
    ).write_pdf()


def decision_letter(*, decision, disclosure=None):
    return render_pdf(
        "pdf/approval_letter.html",
        {
            "decision": decision,
            "patient": decision.patient,
            "req": decision.request,
            "disclosure": disclosure,
            "for_sponsor": disclosure is not None,
        },
    )


def consent_form(*, consent, disclosure=None):
    return render_pdf(
        "pdf/consent_form.html",
        {
            "consent": consent,
            "patient": consent.patient,
            "sponsor": consent.sponsor,
            "blank": consent.pk is None,
            "disclosure": disclosure,
        },
    )
