"""The invitation email. It names no patient: it says only that the clinic set up
sponsor access, and where to set a password."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from patients.models import PART2_NOTICE


def invitation_link(token):
    return settings.SITE_URL + reverse("sponsor:accept", args=[token])


def send_invitation_email(*, invitation, token):
    context = {
        "name": invitation.sponsor.full_name,
        "link": invitation_link(token),
        "expires_at": invitation.expires_at,
        "clinic_name": settings.CLINIC_NAME,
        "clinic_phone": settings.CLINIC_PHONE,
        "notice": PART2_NOTICE,
    }
    subject = " ".join(
        render_to_string("email/sponsor_invitation_subject.txt", context).split()
    )
    text = render_to_string("email/sponsor_invitation_message.txt", context)
    html = render_to_string("email/sponsor_invitation_message.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[invitation.email],
    )
    message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)
