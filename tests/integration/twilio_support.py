"""What the tests of TwilioSmsSender against the fake Twilio server share."""

from __future__ import annotations

from reminders.adapters.twilio_sms import TwilioSmsSender
from tests.fake_twilio import TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, TEST_FROM_NUMBER, FakeTwilio


def make_sender(fake: FakeTwilio, **overrides: object) -> TwilioSmsSender:
    """A sender that reaches `fake` with the test account; `overrides` replace or add options."""
    options: dict[str, object] = {
        "account_sid": TEST_ACCOUNT_SID,
        "auth_token": TEST_AUTH_TOKEN,
        "from_number": TEST_FROM_NUMBER,
        "api_url": fake.url,
        "timeout_seconds": 5,
    }
    options.update(overrides)
    return TwilioSmsSender(**options)  # type: ignore[arg-type]
