"""PDF documents rendered with WeasyPrint from templates/pdf/.

`render_pdf` is generic: other apps' letters extend templates/pdf/base_letter.html
and call it with their own template and context."""

import functools
import hashlib
import os
import threading

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from core.selectors import rendered_document_body
from core.services import rendered_document_keep
from core.timeutil import clinic_now, clinic_today, day_bounds

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
_letter_css = {}


def _letter_css_entry():
    """[modification time, bytes, parsed stylesheet or None] of
    templates/pdf/letter.css, read again only when the file changes (a stat per
    call instead of a read)."""
    mtime = LETTER_CSS.stat().st_mtime_ns
    entry = _letter_css.get(LETTER_CSS)
    if entry is None or entry[0] != mtime:
        entry = _letter_css[LETTER_CSS] = [mtime, LETTER_CSS.read_bytes(), None]
    return entry


def letter_stylesheet():
    """templates/pdf/letter.css parsed once per process (again when the file
    changes). A parsed stylesheet is only read while a document is laid out, as
    WeasyPrint's own user-agent stylesheets are."""
    import weasyprint

    entry = _letter_css_entry()
    if entry[2] is None:
        entry[2] = weasyprint.CSS(filename=str(LETTER_CSS))
    return entry[2]


def html_to_pdf(html, base_url=None):
    """A letter's PDF from its HTML (a template extending pdf/base_letter.html)."""
    import weasyprint

    return weasyprint.HTML(
        string=html, base_url=base_url or str(settings.BASE_DIR)
    ).write_pdf(stylesheets=[letter_stylesheet()], font_config=font_config())


def render_pdf(template_name, context, base_url=None):
    html = render_to_string(template_name, letter_context(**context))
    return html_to_pdf(html, base_url=base_url)


# Where fontconfig finds fonts and its own configuration on the systems we run on.
FONT_PLACES = (
    "/etc/fonts",
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    os.path.expanduser("~/.fonts"),
    os.path.expanduser("~/.local/share/fonts"),
)


@functools.cache
def _renderer_identity():
    """The versions of WeasyPrint and of its PDF writer, and every font and
    fontconfig file (path, size, modification time), read once per process as the
    font configuration is (font_config)."""
    import pydyf
    import weasyprint

    digest = hashlib.sha256(
        f"weasyprint {weasyprint.__version__} pydyf {pydyf.__version__}\n".encode()
    )
    for place in FONT_PLACES:
        for folder, subfolders, names in os.walk(place):
            subfolders.sort()
            for name in sorted(names):
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except OSError:
                    continue
                digest.update(f"{path} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.digest()


def document_digest(html):
    """The SHA-256 of everything html_to_pdf makes a PDF from: the HTML (every
    value the document shows, its issue date and its template's markup), the
    common stylesheet, the fonts and the renderer. WeasyPrint writes the same
    bytes for the same inputs (no timestamps, no random identifiers)."""
    digest = hashlib.sha256(_renderer_identity())
    digest.update(_letter_css_entry()[1])
    digest.update(html.encode())
    return digest.hexdigest()


def _fetches_files(html):
    """Whether the HTML could load a file (image, stylesheet, font) that its
    digest would not cover."""
    lowered = html.lower()
    return any(
        tag in lowered
        for tag in ("url(", "@import", "<img", "<link", "<object", "<embed", "<svg")
    )


def kept_html(template_name, context):
    """A kept document's HTML and its digest (None when the HTML could load a
    file the digest would not cover: such a document is never kept)."""
    html = render_to_string(template_name, letter_context(**context))
    if _fetches_files(html):
        return html, None
    return html, document_digest(html)


def render_and_keep(html, digest, *, patient):
    """Lay out `html` and keep the PDF under `digest` (when not None)."""
    body = html_to_pdf(html)
    if digest is not None:
        rendered_document_keep(
            digest=digest,
            patient=patient,
            body=body,
            now=timezone.now(),
            keep_since=day_bounds(clinic_today())[0],
        )
    return body


def render_pdf_kept(template_name, context, *, patient):
    """render_pdf, kept for the rest of the day in PostgreSQL under the document's
    digest (core.models.RenderedDocument): the same document asked again, by
    anyone allowed to see it, comes back without being laid out again; any
    changed value (an attendance mark, a name, a setting, the issue date...)
    changes the HTML, so the digest, and the PDF is rendered afresh. One query
    when kept, three when rendered (look up, drop the earlier days', keep)."""
    html, digest = kept_html(template_name, context)
    body = None if digest is None else rendered_document_body(digest=digest)
    if body is None:
        body = render_and_keep(html, digest, patient=patient)
    return body


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
