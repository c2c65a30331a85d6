from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("", views.account, name="account"),
    path("logout-everywhere/", views.logout_everywhere, name="logout_everywhere"),
    path("keepalive/", views.keepalive, name="keepalive"),
]
