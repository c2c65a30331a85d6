import io

from django.core.management import call_command

from portal.models import SponsorInvitation


def test_seed_demo_leaves_one_open_portal_invitation_and_prints_its_link(client):
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)
    [invitation] = SponsorInvitation.objects.filter(state="open")
    assert SponsorInvitation.objects.count() == 1
    link = out.getvalue().split("/sponsor/invitation/")[-1].split()[0]
    response = client.get(f"/sponsor/invitation/{link}")
    assert response.status_code == 200
    assert invitation.sponsor.full_name in response.content.decode()
