"""The form renderer: Django's own, with the commonest widgets written in Python.

Django renders every widget, and every <option> of a select, through the template
engine. A filter bar with a few hundred options (facilitators, patients, topics) then
costs more than the rest of the page. Selects and plain inputs are built here with
the same markup as Django's templates (``django/forms/widgets/select.html``,
``select_option.html``, ``input.html``, ``attrs.html``), escaped by ``format_html``;
every other template goes through the engine as before."""

from django.forms.renderers import DjangoTemplates
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


def _join(parts):
    """Concatenate already-escaped pieces (each a SafeString) into one."""
    return format_html_join("", "{}", ((part,) for part in parts))


def _attrs(attrs):
    """``attrs.html``: False drops the attribute, True writes it bare."""
    parts = []
    for name, value in attrs.items():
        if value is False or value is None:
            continue
        if value is True:
            parts.append(format_html(" {}", name))
        else:
            parts.append(format_html(' {}="{}"', name, str(value)))
    return _join(parts)


def _option(option):
    return format_html(
        '<option value="{}"{}>{}</option>',
        str(option["value"]),
        _attrs(option["attrs"]),
        option["label"],
    )


def _select(widget):
    out = [format_html('<select name="{}"{}>', widget["name"], _safe_attrs(widget))]
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            out.append(format_html('\n  <optgroup label="{}">', group_name))
        for option in group_choices:
            out.append(format_html("\n  {}", _option(option)))
        if group_name:
            out.append(SafeString("\n  </optgroup>"))
    out.append(SafeString("\n</select>"))
    return _join(out)


def _input(widget):
    value = widget["value"]
    return format_html(
        '<input type="{}" name="{}"{}{}>',
        widget["type"],
        widget["name"],
        format_html(' value="{}"', str(value)) if value is not None else "",
        _safe_attrs(widget),
    )


def _safe_attrs(widget):
    return _attrs(widget["attrs"])


FAST = {
    "django/forms/widgets/select.html": _select,
    "django/forms/widgets/input.html": _input,
    "django/forms/widgets/text.html": _input,
    "django/forms/widgets/email.html": _input,
    "django/forms/widgets/number.html": _input,
    "django/forms/widgets/date.html": _input,
    "django/forms/widgets/time.html": _input,
    "django/forms/widgets/datetime.html": _input,
    "django/forms/widgets/search.html": _input,
    "django/forms/widgets/tel.html": _input,
    "django/forms/widgets/url.html": _input,
    "django/forms/widgets/password.html": _input,
    "django/forms/widgets/hidden.html": _input,
}


class Renderer(DjangoTemplates):
    """Django's renderer; selects and inputs without the template engine."""

    def render(self, template_name, context, request=None):
        fast = FAST.get(template_name)
        if fast is not None and "widget" in context:
            return fast(context["widget"])
        return super().render(template_name, context, request=request)
