"""The navigation bar: each role sees only what it may use.

Each entry is (label, url name, roles). Apps add their pages here."""

from django.urls import NoReverseMatch, reverse

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
    items = []
    path = request.path if request is not None else ""
    for label, name, roles in NAV:
        if role not in roles:
            continue
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        current = path == url or (url != "/" and path.startswith(url))
        items.append({"label": label, "url": url, "current": current})
    return items
