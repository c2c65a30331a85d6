"""Widgets shared by the apps' forms."""

import html

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe


def _escaped(value):
    """conditional_escape(value) as a plain str, without the lazy-text wrapper
    Django's escape() goes through on every call (a select of 200 options made
    400 such calls): a safe string as it is, anything else escaped by
    html.escape, as django.utils.html.escape does."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


class ListSelect(forms.Select):
    """A select of a long flat list (every counselor, room or facilitator of a large
    clinic) written in one pass over its choices: the same markup as Django's
    select, without building a context dict and copying the attrs per option.
    Values and labels are escaped as conditional_escape does; no option groups."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = "" if value is None else str(value)
        options = "".join(
            f'\n  <option value="{_escaped(key)}"'
            f"{' selected' if key == chosen else ''}>{_escaped(label)}</option>"
            for key, label in ((str(key), label) for key, label in self.choices)
        )
        return format_html(
            '<select name="{}"{}>{}\n</select>',
            name,
            flatatt(self.build_attrs(self.attrs, attrs)),
            mark_safe(options),  # noqa: S308 (every key and label escaped above)
        )
