"""core.htmlrows writes values and dates as the template engine does."""

import datetime

import pytest
from django.template import engines
from django.utils import dateformat, timezone, translation
from django.utils.safestring import mark_safe

from core import htmlrows

PATTERNS = [
    "D M j, H:i",
    "M j",
    "H:i",
    "M j, Y g:i A",
    "M j, H:i",
    "M j g:i A",
    "M j, Y",
]


def _template(source, **context):
    return engines["django"].from_string(source).render(context)


@pytest.mark.parametrize(
    "value",
    ['<b>O\'Neil & "Co"</b>', mark_safe("<i>ok</i>"), 3, 2.5, 0.0, None, True, 12345],
)
def test_esc_writes_what_a_template_variable_writes(value):
    assert htmlrows.esc(value) == _template("{{ v }}", v=value)


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize(
    "moment",
    [
        datetime.datetime(2026, 3, 8, 6, 59, tzinfo=datetime.UTC),  # DST begins
        datetime.datetime(2026, 11, 1, 5, 30, tzinfo=datetime.UTC),  # DST ends
        datetime.datetime(2026, 12, 31, 17, 0, tzinfo=datetime.UTC),  # noon local
        datetime.datetime(2027, 1, 1, 5, 0, tzinfo=datetime.UTC),  # midnight local
    ],
)
def test_date_writes_what_the_date_filter_writes(pattern, moment):
    expected = _template("{{ v|date:p }}", v=moment, p=pattern)
    assert htmlrows.date(moment, pattern) == expected
    if "H" not in pattern and "g" not in pattern:
        day = timezone.localtime(moment).date()
        assert htmlrows.date(day, pattern) == _template(
            "{{ v|date:p }}", v=day, p=pattern
        )


def test_date_of_nothing_is_empty_and_unknown_formats_are_refused():
    assert htmlrows.date(None, "M j") == ""
    with pytest.raises(ValueError):
        htmlrows.date(timezone.now(), "N j")


def test_format_escapes_its_arguments_but_not_safe_ones():
    assert (
        htmlrows.format("<p>{}{x}</p>", "<a>", x=mark_safe("<b>"))
        == "<p>&lt;a&gt;<b></p>"
    )


def test_esc_groups_thousands_when_the_settings_say_so(settings):
    settings.USE_THOUSAND_SEPARATOR = True
    assert htmlrows.esc(12345) == _template("{{ v }}", v=12345) == "12,345"


@pytest.mark.parametrize("language", ["en", "de"])
def test_month_names_are_what_dateformat_writes_for_m(language):
    with translation.override(language):
        names = htmlrows.month_names()
        for month in range(1, 13):
            day = datetime.date(2026, month, 5)
            assert f"{names[month]} {day.day}" == dateformat.format(day, "M j")
