"""Attendance markup repeated many times a page, written in Python (as
core/forms_renderer.py does for selects): each row of a roster has a status
select or a set of one-tap buttons, and the hours table has a cell a day for
twelve weeks; the template engine spent more on these loops than on the rest of
their pages. The markup is the templates', escaped by format_html."""

from django import template
from django.utils.html import format_html, format_html_join

register = template.Library()


@register.simple_tag
def status_options(choices, selected):
    """The <option>s of a status select, `selected` marked."""
    return format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (value, " selected" if value == selected else "", label)
            for value, label in choices
        ),
    )


@register.simple_tag
def status_buttons(buttons, pid):
    """The one-tap buttons of an unmarked row (one submit button per status)."""
    return format_html_join(
        "\n            ",
        '<button type="submit" name="status" value="{}" id="mark-{}-{}">{}</button>',
        ((value, pid, value, label) for value, label in buttons),
    )


@register.simple_tag
def day_cells(days):
    """The hours table's cells for a week's days (muted when nothing attended)."""
    return format_html_join(
        "",
        "{}",
        (
            (
                format_html("<td>{}</td>", day["cell"])
                if day["minutes"]
                else format_html('<td><span class="muted">{}</span></td>', day["cell"]),
            )
            for day in days
        ),
    )
