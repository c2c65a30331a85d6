"""Roles are Django Groups. Each view checks roles explicitly (see require_role)."""

from functools import wraps

from django.core.exceptions import PermissionDenied

ADMIN = "Administrator"
STAFF = "Clinic staff"
DOCTOR = "Doctor"
SPONSOR = "Sponsor"
ALL_ROLES = (ADMIN, STAFF, DOCTOR, SPONSOR)

# Who works inside the clinic (everyone but sponsors).
CLINICAL = (ADMIN, STAFF, DOCTOR)
FRONT_DESK = (ADMIN, STAFF)

# Model permissions each role's Group carries, for the Django admin and for
# `user.has_perm`. Views still check roles explicitly.
ROLE_PERMISSIONS = {
    ADMIN: None,  # every permission
    STAFF: [
        "patients.view_patient",
        "patients.add_patient",
        "patients.change_patient",
        "patients.view_sponsor",
        "patients.add_sponsor",
        "patients.change_sponsor",
        "patients.view_consent",
        "patients.add_consent",
        "patients.view_admissionrequest",
        "patients.add_admissionrequest",
        "patients.view_doctordecision",
        "therapy_sessions.view_therapysession",
        "therapy_sessions.add_therapysession",
        "therapy_sessions.change_therapysession",
        "therapy_sessions.view_attendance",
        "therapy_sessions.add_attendance",
        "therapy_sessions.change_attendance",
        "therapy_sessions.view_alert",
    ],
    DOCTOR: [
        "patients.view_patient",
        "patients.view_sponsor",
        "patients.view_consent",
        "patients.view_admissionrequest",
        "patients.view_doctordecision",
        "patients.add_doctordecision",
        "therapy_sessions.view_therapysession",
        "therapy_sessions.view_attendance",
    ],
    SPONSOR: [],
}


def role_of(user):
    """The user's role name, or None. Uses prefetched groups when present."""
    if not getattr(user, "is_authenticated", False):
        return None
    cached = getattr(user, "_role_cache", None)
    if cached is not None:
        return cached or None
    names = {group.name for group in user.groups.all()}
    role = next((r for r in ALL_ROLES if r in names), None)
    if role is None and user.is_superuser:
        role = ADMIN
    user._role_cache = role or ""
    return role


def has_role(user, *roles):
    return role_of(user) in roles


def require_role(*roles):
    """View decorator: 403 unless the logged-in user has one of `roles`."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        wrapper.allowed_roles = roles
        return wrapper

    return decorator


def sync_roles(sender=None, **kwargs):
    """Create the four role groups and give them their permissions (post_migrate)."""
    from django.contrib.auth.models import Group, Permission

    using = kwargs.get("using", "default")
    for name, perms in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        if perms is None:
            wanted = Permission.objects.using(using).all()
        else:
            wanted = []
            for perm in perms:
                app_label, codename = perm.split(".")
                wanted.extend(
                    Permission.objects.using(using).filter(
                        content_type__app_label=app_label, codename=codename
                    )
                )
        group.permissions.set(wanted)
