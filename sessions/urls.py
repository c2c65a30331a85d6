"""therapy_sessions URLs. Mounted at the site root: each route names its prefix."""

from django.urls import path

from sessions.views import alerts, attendance, flags, scheduling

app_name = "therapy_sessions"

urlpatterns = [
    # Attendance (issue 5)
    path("sessions/<int:pk>/attendance/", attendance.roster, name="roster"),
    path(
        "sessions/<int:pk>/attendance/all-present/",
        attendance.roster_all_present,
        name="roster_all_present",
    ),
    path("sessions/<int:pk>/signin.pdf", attendance.signin_sheet, name="signin_sheet"),
    path(
        "attendance/unmarked/",
        attendance.unmarked_sessions,
        name="unmarked_sessions",
    ),
    path("compliance/", attendance.compliance, name="compliance"),
    path(
        "attendance/export/",
        attendance.attendance_export,
        name="attendance_export",
    ),
    path("patients/<int:pk>/hours/", attendance.patient_hours, name="patient_hours"),
    path(
        "patients/<int:pk>/attendance.pdf",
        attendance.attendance_letter,
        name="attendance_letter",
    ),
    path("patients/<int:pk>/flag-review/", flags.flag_review, name="flag_review"),
]

# Scheduling (issue 4)
urlpatterns += [
    path("sessions/", scheduling.calendar, name="calendar"),
    path("sessions/today/", scheduling.agenda, name="agenda"),
    path("sessions/new/", scheduling.session_create, name="create"),
    path("sessions/series/new/", scheduling.series_create, name="series_create"),
    path("sessions/series/<int:pk>/", scheduling.series_detail, name="series"),
    path(
        "sessions/series/<int:pk>/reschedule/",
        scheduling.series_reschedule,
        name="series_reschedule",
    ),
    path("sessions/topics/", scheduling.topics, name="topics"),
    path("sessions/rooms/", scheduling.rooms, name="rooms"),
    path("sessions/feed/", scheduling.my_feed, name="my_feed"),
    path("sessions/feed/<str:token>.ics", scheduling.feed, name="feed"),
    path(
        "sessions/feed/patient/<int:patient_pk>/",
        scheduling.patient_feed_regenerate,
        name="patient_feed_regenerate",
    ),
    path("sessions/<int:pk>/", scheduling.detail, name="detail"),
    path("sessions/<int:pk>/edit/", scheduling.session_edit, name="edit"),
    path("sessions/<int:pk>/cancel/", scheduling.session_cancel, name="cancel"),
    path(
        "sessions/<int:pk>/participants/add/",
        scheduling.participant_add,
        name="participant_add",
    ),
    path(
        "sessions/<int:pk>/participants/<int:patient_pk>/remove/",
        scheduling.participant_remove,
        name="participant_remove",
    ),
    path(
        "sessions/<int:pk>/family/add/",
        scheduling.family_member_add,
        name="family_member_add",
    ),
    path(
        "sessions/<int:pk>/family/<int:member_pk>/remove/",
        scheduling.family_member_remove,
        name="family_member_remove",
    ),
]

# Alerts (issue 6)
urlpatterns += [
    path("alerts/", alerts.alerts, name="alerts"),
    path("alerts/<int:pk>/retry/", alerts.alert_retry, name="alert_retry"),
]
