"""Widgets shared by the apps' forms."""

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join


class ListSelect(forms.Select):
    """A select of a long flat list (every counselor, room or facilitator of a large
    clinic) written in one pass over its choices: the same markup as Django's
    select, without building a context dict and copying the attrs per option.
    Values and labels are escaped by format_html; no option groups."""

    def render(self, name, value, attrs=None, renderer=None):
        chosen = "" if value is None else str(value)
        options = format_html_join(
            "",
            '\n  <option value="{}"{}>{}</option>',
            (
                (str(key), " selected" if str(key) == chosen else "", label)
                for key, label in self.choices
            ),
        )
        return format_html(
            '<select name="{}"{}>{}\n</select>',
            name,
            flatatt(self.build_attrs(self.attrs, attrs)),
            options,
        )
