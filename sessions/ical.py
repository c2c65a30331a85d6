"""A minimal iCalendar (RFC 5545) writer for the session feeds.

A feed says when, what kind and how (in person / telehealth): no topic, no room,
no link and no other person's name, because calendar apps copy it to servers the
clinic does not control."""

import datetime

from django.conf import settings

from sessions.models import TherapySession


def _escape(text):
    return (
        str(text)
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\n", "\\n")
    )


def _utc(dt):
    return dt.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line):
    """Fold lines longer than 75 octets (RFC 5545 3.1)."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, chunk = [], b""
    for char in line:
        encoded = char.encode()
        if len(chunk) + len(encoded) > (75 if not parts else 74):
            parts.append(chunk.decode())
            chunk = b""
        chunk += encoded
    parts.append(chunk.decode())
    return "\r\n ".join(parts)


def summary_for(session):
    return f"{session.get_kind_display()} session ({session.get_modality_display()})"


def render_feed(*, feed, sessions, now=None):
    now = now or datetime.datetime.now(datetime.UTC)
    host = settings.ALLOWED_HOSTS[0] if settings.ALLOWED_HOSTS else "iop.local"
    host = host.lstrip(".").replace("*", "iop.local") or "iop.local"
    clinic = getattr(settings, "CLINIC_NAME", "Clinic")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//IOP clinic manager//Sessions//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_escape(clinic + ' sessions')}",
    ]
    for session in sessions:
        cancelled = session.status == TherapySession.Status.CANCELLED
        lines += [
            "BEGIN:VEVENT",
            f"UID:session-{session.pk}@{host}",
            f"DTSTAMP:{_utc(now)}",
            f"LAST-MODIFIED:{_utc(session.updated_at)}",
            f"DTSTART:{_utc(session.start)}",
            f"DTEND:{_utc(session.end)}",
            f"SUMMARY:{_escape(summary_for(session))}",
            f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
            "TRANSP:OPAQUE",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
