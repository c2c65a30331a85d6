from django.conf import settings

from accounts.roles import role_of

from .navigation import nav_for


def clinic(request):
    role = role_of(getattr(request, "user", None))
    return {
        "CLINIC_NAME": settings.CLINIC_NAME,
        "CLINIC_PHONE": settings.CLINIC_PHONE,
        "user_role": role,
        "nav_items": nav_for(role, request),
    }
