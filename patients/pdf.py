"""PDF documents rendered with WeasyPrint from templates/pdf/.

`render_pdf` is generic: other apps' letters extend templates/pdf/base_letter.html
and call it with their own template and context."""

import threading

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


_fonts = threading.local()


def font_config():
    """WeasyPrint's font configuration, built once per thread and reused: building
    it (a fontconfig setup and a Pango font map) took a good part of a short
    letter's time. The letters declare no @font-face, so nothing accumulates in
    it; Pango font maps are not shared between threads, hence one per thread."""
    config = getattr(_fonts, "config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _fonts.config = FontConfiguration()
    return config


LETTER_CSS = settings.BASE_DIR / "templates" / "pdf" / "letter.css"
_stylesheets = {}


def letter_stylesheet():
    """templates/pdf/letter.css parsed once per process (again when the file
    changes). A parsed stylesheet is only read while a document is laid out, as
    WeasyPrint's own user-agent stylesheets are."""
    import weasyprint

    mtime = LETTER_CSS.stat().st_mtime_ns
    cached = _stylesheets.get(LETTER_CSS)
    if cached is None or cached[0] != mtime:
        cached = _stylesheets[LETTER_CSS] = (
            mtime,
            weasyprint.CSS(filename=str(LETTER_CSS)),
        )
    return cached[1]


def html_to_pdf(html, base_url=None):
    """A letter's PDF from its HTML (a template extending pdf/base_letter.html)."""
    import weasyprint

    return weasyprint.HTML(
        string=html, base_url=base_url or str(settings.BASE_DIR)
    ).write_pdf(stylesheets=[letter_stylesheet()], font_config=font_config())


def render_pdf(template_name, context, base_url=None):
    html = render_to_string(template_name, letter_context(**context))
    return html_to_pdf(html, base_url=base_url)


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
