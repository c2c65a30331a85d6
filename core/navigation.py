"""The navigation bar: each role sees only what it may use.

Each entry is (label, url name, roles). Apps add their pages here."""

from django.urls import reverse

from accounts.roles import ADMIN, DOCTOR, SPONSOR, STAFF

NAV = [
    ("Dashboard", "core:home", (ADMIN, STAFF, DOCTOR)),
    ("My patients", "sponsor:home", (SPONSOR,)),
    ("Alert preferences", "sponsor:preferences", (SPONSOR,)),
    ("Patients", "patients:list", (ADMIN, STAFF, DOCTOR)),
    ("Approvals", "patients:approvals", (DOCTOR,)),
    ("Schedule", "therapy_sessions:calendar", (ADMIN, STAFF, DOCTOR)),
    ("Today", "therapy_sessions:agenda", (ADMIN, STAFF)),
    ("Compliance", "therapy_sessions:compliance", (ADMIN, STAFF, DOCTOR)),
    ("Alerts", "therapy_sessions:alerts", (ADMIN, STAFF)),
    ("Audit", "core:audit", (ADMIN,)),
    ("Settings", "core:settings", (ADMIN,)),
    ("Admin", "admin:index", (ADMIN,)),
]


def nav_for(role, request=None):
    if role is None:
        return []
    items = [
        {"label": label, "url": reverse(name), "current": False}
        for label, name, roles in NAV
        if role in roles
    ]
    # The current page is the entry with the longest address the path starts
    # with, so that /sessions/today/ marks "Today", not "Schedule" as well.
    path = request.path if request is not None else ""
    matches = [
        item
        for item in items
        if path == item["url"] or (item["url"] != "/" and path.startswith(item["url"]))
    ]
    if matches:
        max(matches, key=lambda item: len(item["url"]))["current"] = True
    return items
