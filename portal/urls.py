from django.urls import path

from . import views

app_name = "sponsor"

urlpatterns = [
    path("", views.home, name="home"),
    path("patients/<int:patient_id>/", views.patient, name="patient"),
    path("patients/<int:patient_id>/letter/", views.letter, name="letter"),
    path("preferences/", views.preferences, name="preferences"),
    path("invitation/<str:token>/", views.accept, name="accept"),
    path("invitations/new/<int:sponsor_id>/", views.invite, name="invite"),
    path("invitations/<int:pk>/resend/", views.invite_resend, name="invite_resend"),
    path(
        "invitations/<int:pk>/withdraw/",
        views.invite_withdraw,
        name="invite_withdraw",
    ),
]
