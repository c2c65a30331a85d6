"""The SMS provider adapter against a local HTTP server (the only thing we mock)."""

import pytest

from sessions import sms
from tests.fixtures_services import *  # noqa: F403
from tests.fixtures_services import free_port


def test_http_provider_gets_the_message_with_token_and_idempotency_key(sms_provider):
    message_id = sms.send_sms(to="+15550101234", body="Hello", reference="alert-7")
    assert message_id == "msg-1"
    (request,) = sms_provider.requests
    assert request["json"] == {
        "to": "+15550101234",
        "from": "+15550100000",
        "body": "Hello",
        "reference": "alert-7",
    }
    assert request["headers"]["Authorization"] == "Bearer test-token"
    assert request["headers"]["Idempotency-Key"] == "alert-7"


@pytest.mark.parametrize("status", [429, 500, 503])
def test_busy_or_broken_provider_is_a_temporary_error(sms_provider, status):
    sms_provider.statuses = [status]
    with pytest.raises(sms.TemporarySmsError, match=str(status)):
        sms.send_sms(to="+15550101234", body="Hello", reference="r")


@pytest.mark.parametrize("status", [400, 401, 404])
def test_refusal_is_a_permanent_error(sms_provider, status):
    sms_provider.statuses = [status]
    with pytest.raises(sms.PermanentSmsError, match=str(status)):
        sms.send_sms(to="+15550101234", body="Hello", reference="r")


def test_unreachable_provider_is_a_temporary_error(settings):
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_URL = f"http://127.0.0.1:{free_port()}/messages"
    with pytest.raises(sms.TemporarySmsError, match="unreachable"):
        sms.send_sms(to="+15550101234", body="Hello", reference="r")


def test_a_message_over_160_characters_is_refused_before_sending(sms_provider):
    with pytest.raises(sms.PermanentSmsError, match="161"):
        sms.send_sms(to="+1555", body="x" * 161, reference="r")
    assert sms_provider.requests == []


def test_console_backend_prints_the_message(settings, capsys):
    settings.SMS_BACKEND = "console"
    sms.send_sms(to="+15550101234", body="Hello there", reference="alert-9")
    assert "[sms to +15550101234 ref alert-9] Hello there" in capsys.readouterr().out


def test_unknown_backend_is_a_permanent_error(settings):
    settings.SMS_BACKEND = "carrier-pigeon"
    with pytest.raises(sms.PermanentSmsError, match="carrier-pigeon"):
        sms.send_sms(to="+1555", body="x", reference="r")


@pytest.mark.parametrize(
    "written, sent",
    [
        ("(555) 201-3344", "+15552013344"),
        ("555.201.3344", "+15552013344"),
        ("1-555-201-3344", "+15552013344"),
        ("+1 (555) 201-3344", "+15552013344"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_the_provider_gets_the_number_in_e164_however_it_was_written(
    sms_provider, written, sent
):
    sms.send_sms(to=written, body="Hello", reference="alert-8")
    (request,) = sms_provider.requests
    assert request["json"]["to"] == sent


@pytest.mark.parametrize("written", ["201-3344", "", "+12", "555 201 3344 99"])
def test_a_number_no_text_can_reach_is_refused_before_sending(sms_provider, written):
    with pytest.raises(sms.PermanentSmsError, match="not a number"):
        sms.send_sms(to=written, body="Hello", reference="r")
    assert sms_provider.requests == []
