"""`{% pk_url name pk %}`: `{% url name pk %}` for an integer id (or no
argument), without a reverse() per call (core.urlcache)."""

from django import template

from core import urlcache

register = template.Library()


@register.simple_tag
def pk_url(name, pk=None):
    """The URL of `name` for the integer id `pk` (none when omitted)."""
    return urlcache.url(name, pk)
