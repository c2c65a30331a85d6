from django.shortcuts import render

from accounts.roles import ALL_ROLES, require_role


@require_role(*ALL_ROLES)
def floor(request):
    """The floor: the base layout for a logged-in user, with nothing in it."""
    return render(request, "base.html")
