from allauth.account.adapter import DefaultAccountAdapter


class ClinicAccountAdapter(DefaultAccountAdapter):
    """Accounts are created by administrators or by invitation, never by sign-up."""

    def is_open_for_signup(self, request):
        return False
