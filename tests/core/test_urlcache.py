"""core.urlcache: reverse() once per process for URLs with an integer id, and
the same text as reverse() whatever URLconf or script prefix is in use."""

from django.test import override_settings
from django.urls import clear_script_prefix, reverse, set_script_prefix

from core import urlcache

NAMES = ["patients:detail", "patients:consent_pdf", "therapy_sessions:detail"]


def test_urls_are_those_reverse_writes():
    for name in NAMES:
        for pk in (1, 42, 2147483647, 9_000_000_000):
            assert urlcache.url(name, pk) == reverse(name, args=[pk])
    assert urlcache.url("sponsor:home") == reverse("sponsor:home")


def test_a_script_prefix_is_followed():
    set_script_prefix("/clinic/")
    try:
        assert urlcache.url("patients:detail", 7) == "/clinic/patients/7/"
        assert urlcache.url("patients:detail", 7) == reverse(
            "patients:detail", args=[7]
        )
    finally:
        clear_script_prefix()
    assert urlcache.url("patients:detail", 7) == reverse("patients:detail", args=[7])


def test_another_urlconf_is_followed():
    before = urlcache.url("patients:detail", 7)
    with override_settings(ROOT_URLCONF="tests.core.urls_moved"):
        assert urlcache.url("patients:detail", 7) == "/elsewhere/patients/7/"
    assert urlcache.url("patients:detail", 7) == before


def test_the_tag_writes_what_the_url_tag_writes():
    from django.template import engines

    engine = engines["django"]
    for name, arg in (("patients:detail", " 5"), ("therapy_sessions:calendar", "")):
        ours = engine.from_string(f"{{% load pk_urls %}}{{% pk_url '{name}'{arg} %}}")
        theirs = engine.from_string(f"{{% url '{name}'{arg} %}}")
        assert ours.render({}) == theirs.render({})
