"""Values written into HTML rows built in Python (template tags that replace a
template loop) exactly as the template engine writes them, for less.

`{{ value }}` escapes text (html.escape, as django.utils.html.escape does, but
without the lazy-string wrapper around each call) and localizes numbers;
`{{ value|date:"..." }}` formats in the current time zone with the month and
day names translated as Django's dateformat does, looked up once per language
instead of once per value. Only the format characters the rows use are
supported; anything else raises, so that a new format is not silently wrong."""

import functools
import html
import re

from django.conf import settings
from django.utils import timezone, translation
from django.utils.dates import MONTHS_3, WEEKDAYS_ABBR
from django.utils.formats import localize
from django.utils.safestring import SafeData, SafeString
from django.utils.translation import gettext

from core import urlcache


@functools.lru_cache(maxsize=32)
def _language_names(language):
    with translation.override(language):
        return {
            "months": {m: str(MONTHS_3[m]).title() for m in range(1, 13)},
            "weekdays": {d: str(WEEKDAYS_ABBR[d]) for d in range(7)},
            "am_pm": (str(gettext("AM")), str(gettext("PM"))),
            # Numbers print as str() does unless the language says otherwise.
            "plain_numbers": localize(12345) == "12345" and localize(1.5) == "1.5",
        }


def _names():
    return _language_names(translation.get_language())


def month_names():
    """{month number: its name as `|date:"M"` writes it} in the current
    language, not escaped (as dateformat.format gives it)."""
    return _names()["months"]


def esc(value):
    """What `{{ value }}` writes: safe strings as they are, numbers localized,
    anything else as text, escaped."""
    if type(value) is str:  # the common case first (SafeString is a subclass)
        return html.escape(value)
    if isinstance(value, SafeData) or hasattr(value, "__html__"):
        return value.__html__()
    if isinstance(value, str):
        return html.escape(value)
    if type(value) is int and not settings.USE_THOUSAND_SEPARATOR:
        return str(value)  # what localize() gives an int without grouping
    if type(value) is float and _names()["plain_numbers"]:
        return str(value)
    return html.escape(str(localize(value)))


_FORMAT_CHARS = re.compile(r"([DMjYHigA])")


@functools.lru_cache(maxsize=64)
def _pieces(pattern):
    pieces = tuple(
        (bool(i % 2), piece)
        for i, piece in enumerate(_FORMAT_CHARS.split(pattern))
        if piece
    )
    for is_char, piece in pieces:
        if not is_char and any(c.isalpha() or c == "\\" for c in piece):
            raise ValueError(f"date format {pattern!r}: only D M j Y H i g A here")
    return pieces


def _char(char, value, names):
    if char == "D":
        return names["weekdays"][value.weekday()]
    if char == "M":
        return names["months"][value.month]
    if char == "j":
        return str(value.day)
    if char == "Y":
        return f"{value.year:04d}"
    if char == "H":
        return f"{value.hour:02d}"
    if char == "i":
        return f"{value.minute:02d}"
    if char == "g":
        return str(value.hour % 12 or 12)
    if char == "A":
        return names["am_pm"][value.hour >= 12]
    raise ValueError(char)  # pragma: no cover - the regex allows no other


def date(value, pattern):
    """`{{ value|date:pattern }}` ("" for None), escaped (a SafeString): an aware
    datetime in the current time zone. `pattern` may use D M j Y H i g A and literal
    punctuation and spaces."""
    return dates()(value, pattern)


def dates():
    """`date` with the current time zone and language looked up once, for a
    table's worth of dates."""
    tz = timezone.get_current_timezone()
    names = _names()

    def format_date(value, pattern):
        if value is None:
            return ""
        if hasattr(value, "hour") and value.utcoffset() is not None:
            value = value.astimezone(tz)
        return SafeString(
            html.escape(
                "".join(
                    _char(piece, value, names) if is_char else piece
                    for is_char, piece in _pieces(pattern)
                )
            )
        )

    return format_date


class RowFormats:
    """What rows built in Python need of Django's url and date machinery, looked
    up once per table instead of once per cell: detail URLs (core.urlcache.Links)
    and dates as the `date` filter writes them (`dates`)."""

    def __init__(self):
        self.url = urlcache.Links()
        self.date = dates()

    def day(self, d):
        """`d|date:"M j, Y"`."""
        return self.date(d, "M j, Y")

    def day_time(self, dt):
        """`dt|date:"M j, g:i A"`, in the current time zone."""
        return self.date(dt, "M j, g:i A")


def format(template, *args, **kwargs):  # noqa: A001 - as format_html
    """format_html without its per-call overhead: every argument as esc()
    writes it."""
    return SafeString(
        template.format(
            *(esc(a) for a in args), **{k: esc(v) for k, v in kwargs.items()}
        )
    )


def join(parts):
    """Pieces already escaped (SafeStrings, or markup) concatenated into one."""
    return SafeString("".join(parts))


def csrf_input(context):
    """What {% csrf_token %} writes (the context's one token for the page)."""
    token = context.get("csrf_token")
    if not token or token == "NOTPROVIDED":
        return ""
    return format('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token)
