"""Sending text messages through a provider adapter chosen by settings.

SMS_BACKEND = "console": print the message (development, `make run`).
SMS_BACKEND = "http": POST JSON {"to", "from", "body", "reference"} to SMS_HTTP_URL
with "Authorization: Bearer SMS_HTTP_TOKEN" and "Idempotency-Key: <reference>".
"to" is in E.164 (+15552013344), as providers take it, whatever way the clinic
wrote the number.
A 2xx answer is success; 408, 429 and 5xx (and a network error) are temporary;
any other 4xx is permanent.
"""

import json
import logging
import sys
import urllib.error
import urllib.request

from django.conf import settings

log = logging.getLogger(__name__)

MAX_LENGTH = 160
TEMPORARY_STATUSES = {408, 425, 429}


class SmsError(Exception):
    pass


class TemporarySmsError(SmsError):
    """Try again later: the provider was unreachable or busy."""


class PermanentSmsError(SmsError):
    """The provider refused the message (bad number, bad token...)."""


def e164(phone: str) -> str:
    """The number in E.164 (+15552013344): a North American one as the clinic's
    forms write it, (555) 201-3344, or written another way with its area code
    (and a leading 1 or not); an international one as + and its digits.
    PermanentSmsError for anything else (no text message can reach it)."""
    digits = "".join(c for c in phone if c.isdigit())
    if phone.strip().startswith("+"):
        if 8 <= len(digits) <= 15:
            return "+" + digits
    elif len(digits) == 10:
        return "+1" + digits
    elif len(digits) == 11 and digits.startswith("1"):
        return "+" + digits
    raise PermanentSmsError(f"{phone!r} is not a number a text message can reach")


def send_sms(*, to: str, body: str, reference: str) -> str:
    """Send one text message to `to` (see e164); returns the provider's message
    id (or "")."""
    if len(body) > MAX_LENGTH:
        raise PermanentSmsError(f"message is {len(body)} characters (max 160)")
    backend = settings.SMS_BACKEND
    if backend not in ("console", "http"):
        raise PermanentSmsError(f"unknown SMS_BACKEND {backend!r}")
    to = e164(to)
    if backend == "console":
        return _send_console(to=to, body=body, reference=reference)
    return _send_http(to=to, body=body, reference=reference)


def _send_console(*, to, body, reference):
    sys.stdout.write(f"[sms to {to} ref {reference}] {body}\n")
    sys.stdout.flush()
    return reference


def _send_http(*, to, body, reference):
    url = settings.SMS_HTTP_URL
    if not url:
        raise PermanentSmsError("SMS_HTTP_URL is not set")
    payload = json.dumps(
        {"to": to, "from": settings.SMS_FROM, "body": body, "reference": reference}
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - URL comes from settings
        url,
        data=payload,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {settings.SMS_HTTP_TOKEN}",
            "Idempotency-Key": reference,
        },
    )
    try:
        with urllib.request.urlopen(  # noqa: S310
            request, timeout=settings.SMS_HTTP_TIMEOUT
        ) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:200].decode(errors="replace")
        if exc.code in TEMPORARY_STATUSES or exc.code >= 500:
            raise TemporarySmsError(f"provider answered {exc.code}: {detail}") from exc
        raise PermanentSmsError(f"provider refused ({exc.code}): {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise TemporarySmsError(f"provider unreachable: {exc}") from exc
    try:
        return str(json.loads(raw or b"{}").get("id", ""))
    except (ValueError, AttributeError):
        return ""
