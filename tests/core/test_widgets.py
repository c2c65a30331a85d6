"""core.widgets.ListSelect escapes as format_html does."""

from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from core.widgets import ListSelect

CHOICES = [
    ("", "Any counselor"),
    (7, 'Pat "PJ" O\'Neil & <b>Co</b>'),
    ("x&y", "Plain"),
    (8, mark_safe("<em>kept</em>")),
    (9, gettext_lazy("Any doctor")),
]


def _with_format_html(widget, name, value, attrs):
    """ListSelect as first written: every option through format_html."""
    chosen = "" if value is None else str(value)
    options = format_html_join(
        "",
        '\n  <option value="{}"{}>{}</option>',
        (
            (str(key), " selected" if str(key) == chosen else "", label)
            for key, label in widget.choices
        ),
    )
    return format_html(
        '<select name="{}"{}>{}\n</select>',
        name,
        flatatt(widget.build_attrs(widget.attrs, attrs)),
        options,
    )


def test_list_select_escapes_values_and_labels_as_format_html():
    widget = ListSelect(choices=CHOICES)
    for value in (None, "", "7", 8, "x&y", "missing"):
        attrs = {"id": "id_counselor", "class": "wide"}
        ours = widget.render("counselor", value, attrs)
        assert ours == _with_format_html(widget, "counselor", value, attrs)
    assert "&quot;PJ&quot; O&#x27;Neil &amp; &lt;b&gt;" in ours
    assert "<em>kept</em>" in ours and 'value="x&amp;y"' in ours
