"""The benchmark's URL configuration: the whole site plus the floor page.

Used only while `manage.py bench` runs (override_settings(ROOT_URLCONF=...)), so
the floor page is not part of the application."""

from django.urls import include, path

from .views import floor

urlpatterns = [
    path("__bench__/floor/", floor, name="bench_floor"),
    path("", include("iop.urls")),
]
