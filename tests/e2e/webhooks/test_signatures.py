"""The webhook's gate: only requests Twilio signed over REMINDERS_PUBLIC_URL + path get in
(403 and no change otherwise), and signed requests that carry nothing usable get an empty
TwiML answer, never an error."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from reminders.bootstrap import Container
from reminders.domain.model import User, UserStatus
from tests.e2e.webhook_support import (
    PHONE,
    PUBLIC_URL,
    current,
    enroll_user,
    inbound_count,
    twilio_container,
    webhooks_for,
)
from tests.twilio_webhooks import INBOUND_PATH, STATUS_PATH, FakeTwilioWebhooks

# --- signatures ------------------------------------------------------------------------------


def test_a_wrong_signature_is_refused_and_changes_nothing(
    container: Container, twilio: FakeTwilioWebhooks, pending: User
) -> None:
    params = twilio.inbound_params(PHONE, "YES")

    response = twilio.post(INBOUND_PATH, params, signature="bm90IHRoZSBzaWduYXR1cmU=")

    assert response.status_code == 403
    assert current(container, pending).status is UserStatus.PENDING
    assert inbound_count(container) == 0


def test_a_missing_signature_is_refused_and_changes_nothing(
    container: Container, twilio: FakeTwilioWebhooks, pending: User
) -> None:
    params = twilio.inbound_params(PHONE, "YES")

    response = twilio.post(INBOUND_PATH, params, signature=None)

    assert response.status_code == 403
    assert current(container, pending).status is UserStatus.PENDING
    assert inbound_count(container) == 0


def test_a_signature_over_changed_parameters_is_refused(
    container: Container, twilio: FakeTwilioWebhooks, active: User
) -> None:
    params = twilio.inbound_params(PHONE, "HELP")
    signature = twilio.post(INBOUND_PATH, params).request.headers["X-Twilio-Signature"]

    response = twilio.post(INBOUND_PATH, {**params, "Body": "STOP"}, signature=signature)

    assert response.status_code == 403
    assert current(container, active).status is UserStatus.ACTIVE


def test_a_signature_over_the_internal_url_is_refused(
    twilio: FakeTwilioWebhooks, pending: User
) -> None:
    params = twilio.inbound_params(PHONE, "YES")

    response = twilio.post(INBOUND_PATH, params, signed_url="http://testserver/twilio/inbound")

    assert response.status_code == 403


def test_a_signature_by_another_auth_token_is_refused(
    container: Container, twilio: FakeTwilioWebhooks, pending: User
) -> None:
    forger = FakeTwilioWebhooks(twilio.client, public_url=PUBLIC_URL, auth_token="guessed")

    response = forger.post(INBOUND_PATH, forger.inbound_params(PHONE, "YES"))

    assert response.status_code == 403
    assert current(container, pending).status is UserStatus.PENDING


def test_the_public_url_may_have_a_path_behind_a_proxy(
    make_container: Callable[..., Container],
) -> None:
    public_url = "https://example.com/roller"
    container = twilio_container(make_container, public_url=public_url)
    enroll_user(container)
    with webhooks_for(container, public_url=public_url) as twilio:
        params = twilio.inbound_params(PHONE, "NEXT")

        response = twilio.post(
            INBOUND_PATH, params, signed_url="https://example.com/roller/twilio/inbound"
        )

    assert response.status_code == 200


def test_without_a_twilio_auth_token_every_webhook_is_refused(
    make_container: Callable[..., Container],
) -> None:
    container = make_container(public_url=PUBLIC_URL)  # console backend, no TWILIO_AUTH_TOKEN
    pending = enroll_user(container, confirmed=False)
    with webhooks_for(container, auth_token="anything") as twilio:
        response = twilio.post(INBOUND_PATH, twilio.inbound_params(PHONE, "YES"))

    assert response.status_code == 403
    assert current(container, pending).status is UserStatus.PENDING


# --- what Twilio may send that we cannot use -------------------------------------------------


@pytest.mark.parametrize("missing", ["From", "MessageSid"])
def test_a_signed_message_missing_a_field_gets_an_empty_answer(
    container: Container, twilio: FakeTwilioWebhooks, pending: User, missing: str
) -> None:
    params = twilio.inbound_params(PHONE, "YES")
    del params[missing]

    response = twilio.post(INBOUND_PATH, params)

    assert response.status_code == 200
    assert response.text.endswith("<Response />")
    assert current(container, pending).status is UserStatus.PENDING


@pytest.mark.parametrize("sid", ["SMabc\n", "SMabc\r\n", "\nSMabc", "SM-abc"])
def test_a_signed_message_with_a_message_sid_not_shaped_like_twilios_is_ignored(
    container: Container, twilio: FakeTwilioWebhooks, pending: User, sid: str
) -> None:
    params = {**twilio.inbound_params(PHONE, "YES"), "MessageSid": sid}

    response = twilio.post(INBOUND_PATH, params)

    assert response.status_code == 200
    assert response.text.endswith("<Response />")
    assert inbound_count(container) == 0
    assert current(container, pending).status is UserStatus.PENDING


def test_a_signed_status_callback_with_a_message_sid_ending_in_a_newline_is_ignored(
    twilio: FakeTwilioWebhooks, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="reminders.entrypoints.webhooks"):
        response = twilio.post(
            STATUS_PATH, {**twilio.status_params("SMabc", "delivered"), "MessageSid": "SMabc\n"}
        )

    assert response.status_code == 200
    assert "status callback without a MessageSid or MessageStatus ignored" in caplog.text


@pytest.mark.parametrize("sender", ["whatsapp:+14155550123", "RollerCare", "12345", "+0123"])
def test_a_signed_message_from_something_that_is_not_a_phone_number_gets_an_empty_answer(
    container: Container, twilio: FakeTwilioWebhooks, sender: str
) -> None:
    response = twilio.post(INBOUND_PATH, twilio.inbound_params(sender, "YES"))

    assert response.status_code == 200
    assert response.text.endswith("<Response />")
    assert inbound_count(container) == 0


def test_a_message_without_a_body_gets_the_keyword_list(
    twilio: FakeTwilioWebhooks, active: User
) -> None:
    params = twilio.inbound_params(PHONE, "")
    del params["Body"]

    response = twilio.post(INBOUND_PATH, params)

    assert response.status_code == 200
    assert "Reply DONE, SKIP" in response.text


def test_replies_are_twiml_with_an_xml_content_type(
    twilio: FakeTwilioWebhooks, active: User
) -> None:
    response = twilio.post(INBOUND_PATH, twilio.inbound_params(PHONE, "NEXT"))

    assert response.headers["content-type"] == "application/xml"
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?><Response><Message>')


def test_an_oversized_body_is_refused_unread(twilio: FakeTwilioWebhooks, active: User) -> None:
    response = twilio.post(INBOUND_PATH, twilio.inbound_params(PHONE, "x" * 70_000))

    assert response.status_code == 413


def test_a_file_upload_is_refused(twilio: FakeTwilioWebhooks, active: User) -> None:
    response = twilio.client.post(
        INBOUND_PATH,
        data={"From": PHONE, "Body": "STOP"},
        files={"MediaUrl0": ("x.bin", b"\0" * 10)},
        headers={"X-Twilio-Signature": "c2lnbmF0dXJl"},
    )

    assert response.status_code == 403
