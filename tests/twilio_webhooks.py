"""Playing Twilio against our webhooks: signed form posts, as Twilio sends them.

Works with FastAPI's TestClient (e2e) and with a plain httpx.Client on a running service
(system tests): both are httpx clients.
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ElementTree
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

INBOUND_PATH = "/twilio/inbound"
STATUS_PATH = "/twilio/status"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
SERVICE_NUMBER = "+15005550006"

_sids = itertools.count(1)
_UNSIGNED: Any = object()


def new_sid(prefix: str = "SM") -> str:
    """A message SID shaped like Twilio's (SM + 32 hex digits), unique in this run."""
    return f"{prefix}{next(_sids):032x}"


def sign(token: str, url: str, params: dict[str, str]) -> str:
    return str(RequestValidator(token).compute_signature(url, params))


def reply_of(response: httpx.Response) -> str | None:
    """The text of the TwiML <Message>, or None for an empty <Response/>."""
    root = ElementTree.fromstring(response.text)
    assert root.tag == "Response", response.text
    messages = root.findall("Message")
    assert len(messages) <= 1, response.text
    return messages[0].text if messages else None


class FakeTwilioWebhooks:
    """Sends what Twilio would send to our webhooks, signed with `auth_token` over
    `public_url` + path (the URL configured in Twilio's console)."""

    def __init__(self, client: httpx.Client, *, public_url: str, auth_token: str) -> None:
        self.client = client
        self.public_url = public_url.rstrip("/")
        self.auth_token = auth_token

    def post(
        self,
        path: str,
        params: dict[str, str],
        *,
        signature: str | None = _UNSIGNED,
        signed_url: str | None = None,
    ) -> httpx.Response:
        """POST the form. By default it is signed correctly; `signature=None` sends no
        signature header, a string sends that one, `signed_url` signs over another URL."""
        headers = {}
        if signature is _UNSIGNED:
            signature = sign(self.auth_token, signed_url or self.public_url + path, params)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self.client.post(path, data=params, headers=headers)

    def inbound_params(
        self,
        phone: str,
        body: str,
        *,
        sid: str | None = None,
        opt_out_type: str | None = None,
    ) -> dict[str, str]:
        sid = sid or new_sid()
        params = {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": body,
            "To": SERVICE_NUMBER,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": phone,
            "ApiVersion": "2010-04-01",
        }
        if opt_out_type is not None:
            params["OptOutType"] = opt_out_type
        return params

    def text(
        self,
        phone: str,
        body: str,
        *,
        sid: str | None = None,
        opt_out_type: str | None = None,
    ) -> str | None:
        """The user at `phone` texts `body`; returns our reply (None: no reply)."""
        params = self.inbound_params(phone, body, sid=sid, opt_out_type=opt_out_type)
        response = self.post(INBOUND_PATH, params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/xml")
        return reply_of(response)

    def status_params(
        self, sid: str, status: str, *, error_code: int | None = None, to: str = ""
    ) -> dict[str, str]:
        params = {
            "SmsSid": sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "To": to,
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": SERVICE_NUMBER,
            "ApiVersion": "2010-04-01",
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        return params

    def status(self, sid: str, status: str, *, error_code: int | None = None) -> httpx.Response:
        """Twilio reports `status` for the message `sid`."""
        return self.post(STATUS_PATH, self.status_params(sid, status, error_code=error_code))
