from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from core.views import healthz

admin.site.site_header = "IOP clinic administration"
# The admin's own login form would skip two-factor authentication: send it to
# allauth's login (password, then the one-time code) instead.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("", include("core.urls")),
    path("", include("patients.urls")),  # /patients/... and /approvals/
    path("sponsor/", include("portal.urls")),
    path("", include("sessions.urls")),
]
