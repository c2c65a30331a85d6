"""Mounted at the site root (like sessions.urls): each route names its prefix, so
that the doctor's queue lives at /approvals/ in the same namespace."""

from django.urls import path

from . import views

app_name = "patients"

urlpatterns = [
    path("patients/", views.patient_list, name="list"),
    path("patients/new/", views.patient_create, name="create"),
    path("patients/<int:pk>/", views.patient_detail, name="detail"),
    path("patients/<int:pk>/edit/", views.patient_edit, name="edit"),
    path("patients/<int:pk>/hold/", views.patient_hold, name="hold"),
    path("patients/<int:pk>/resume/", views.patient_resume, name="resume"),
    path("patients/<int:pk>/discharge/", views.patient_discharge, name="discharge"),
    path(
        "patients/<int:pk>/admission/",
        views.admission_request_create,
        name="request_admission",
    ),
    path(
        "patients/requests/<int:pk>/withdraw/",
        views.admission_request_withdraw,
        name="request_withdraw",
    ),
    path(
        "patients/<int:pk>/sponsors/new/", views.sponsor_create, name="sponsor_create"
    ),
    path("patients/sponsors/<int:pk>/edit/", views.sponsor_edit, name="sponsor_edit"),
    path(
        "patients/sponsors/<int:pk>/consents/new/",
        views.consent_create,
        name="consent_create",
    ),
    path(
        "patients/sponsors/<int:pk>/consent-form.pdf",
        views.consent_blank_pdf,
        name="consent_blank_pdf",
    ),
    path(
        "patients/consents/<int:pk>/revoke/",
        views.consent_revoke,
        name="consent_revoke",
    ),
    path(
        "patients/consents/<int:pk>/consent.pdf", views.consent_pdf, name="consent_pdf"
    ),
    path("approvals/", views.approval_queue, name="approvals"),
    path("approvals/<int:pk>/", views.decide, name="decide"),
    path("decisions/<int:pk>/", views.decision_detail, name="decision"),
    path(
        "decisions/<int:pk>/supersede/",
        views.decision_supersede,
        name="decision_supersede",
    ),
    path(
        "decisions/<int:pk>/letter.pdf", views.decision_letter, name="decision_letter"
    ),
]
