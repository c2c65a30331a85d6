"""The demo clinic's people, rooms and program lists. Safe to run again."""

import os

from django.contrib.auth.models import Group

from accounts import roles
from accounts.models import User
from core.models import ClinicSettings
from patients.models import Track
from sessions.models import Room, Topic

DEFAULT_PASSWORD = "demo-pass-2026"
# Every demo clinic account (admin, staff, doctors) has an authenticator app with
# this fixed base32 secret, so that scripted and manual demo logins keep working:
# add it to an authenticator app, or run `manage.py demo_totp_code`.
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPIOPDEMOCLINIC234"

# (email, full name, credentials, role)
PEOPLE = [
    ("admin@demo.test", "Morgan Ellis", "", roles.ADMIN),
    ("staff@demo.test", "Dana Whitfield", "CADC", roles.STAFF),
    ("l.okafor@demo.test", "Lena Okafor", "LCSW", roles.STAFF),
    ("r.castillo@demo.test", "Ruben Castillo", "LPC", roles.STAFF),
    ("frontdesk@demo.test", "Priya Natarajan", "", roles.STAFF),
    ("doctor@demo.test", "Samuel Hart", "MD", roles.DOCTOR),
    ("a.lindqvist@demo.test", "Anna Lindqvist", "MD", roles.DOCTOR),
    ("sponsor@demo.test", "Carol Bennett", "", roles.SPONSOR),
    ("m.reyes@demo.test", "Miguel Reyes", "", roles.SPONSOR),
    ("officer.grant@demo.test", "Officer Tom Grant", "", roles.SPONSOR),
]

ROOMS = [
    ("Harbor Room", 14),
    ("Lighthouse Room", 10),
    ("Counseling Office 1", 3),
    ("Counseling Office 2", 3),
    ("Family Room", 6),
]
TRACKS = [
    ("Morning IOP", "Mon, Wed, Fri 9:00-12:00"),
    ("Evening IOP", "Mon, Tue, Thu 18:00-21:00"),
]
TOPICS = [
    "Coping with cravings",
    "Relapse prevention",
    "Managing withdrawal",
    "Coping skills",
    "Family dynamics",
    "Mindfulness and stress",
    "Building a sober network",
    "Shame and self-compassion",
]


def password():
    return os.environ.get("DEMO_PASSWORD") or DEFAULT_PASSWORD


def seed_people(stdout=None):
    pw = password()
    users = {}
    for email, name, credentials, role in PEOPLE:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email, password=pw, full_name=name, credentials=credentials
            )
        else:
            # Keep the demo logins working with the current demo password.
            user.set_password(pw)
            user.save(update_fields=["password"])
        user.groups.set([Group.objects.get(name=role)])
        if role == roles.ADMIN and not (user.is_staff and user.is_superuser):
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        if role != roles.SPONSOR:
            enrol_demo_mfa(user)
        users[email] = user
    return users


def enrol_demo_mfa(user):
    """Give a demo account the fixed TOTP secret (and recovery codes)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP
    from allauth.mfa.utils import decrypt

    totp = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    if totp is not None and decrypt(totp.data["secret"]) != DEMO_TOTP_SECRET:
        totp.delete()
        totp = None
    if totp is None:
        TOTP.activate(user, DEMO_TOTP_SECRET)
    RecoveryCodes.activate(user)


def seed_program():
    ClinicSettings.load()
    rooms = {}
    for name, capacity in ROOMS:
        rooms[name], _ = Room.objects.get_or_create(
            name=name, defaults={"capacity": capacity}
        )
    tracks = {}
    for name, description in TRACKS:
        tracks[name], _ = Track.objects.get_or_create(
            name=name, defaults={"description": description}
        )
    topics = {}
    for name in TOPICS:
        topics[name], _ = Topic.objects.get_or_create(name=name)
    return {"rooms": rooms, "tracks": tracks, "topics": topics}
