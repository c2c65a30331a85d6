"""The site under another path (tests/core/test_urlcache.py)."""

from django.urls import include, path

urlpatterns = [path("elsewhere/", include("iop.urls"))]
