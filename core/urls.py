from django.urls import path

from . import views

app_name = "core"

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/staff/", views.staff_dashboard, name="staff_dashboard"),
    path("dashboard/doctor/", views.doctor_dashboard, name="doctor_dashboard"),
    path("dashboard/admin/", views.admin_dashboard, name="admin_dashboard"),
    path("audit/", views.audit_log, name="audit"),
    path("settings/", views.program_settings, name="settings"),
    path("patients/<int:pk>/disclosures/", views.disclosures, name="disclosures"),
    path(
        "patients/<int:pk>/disclosures.pdf",
        views.disclosures_pdf,
        name="disclosures_pdf",
    ),
]
