"""therapy_sessions URLs. Mounted at the site root: each route names its prefix."""

from django.urls import path  # noqa: F401

app_name = "therapy_sessions"

urlpatterns = []
