"""Contract test: every request TwilioSmsSender makes passes Twilio's own OpenAPI description.

That is the send (create a message) and the lookup (list messages, read by `find_sent`).

Stoplight Prism (`npm ci` installs it under node_modules/) serves a mock of Twilio's API
v2010 from the description in shared/twilio/ and answers a request that breaks the
description with 422 (401 without basic auth) instead of the example message. `--errors`
also turns an example answer that breaks the description into a 500: the sends run with it,
the lookups without it (see `prism_list_url`).

Prism quirks seen with 5.14.2: it does not check `format: phone-number` (To/From), nor that
From or MessagingServiceSid is present, and it accepts unknown parameters; it does check the
AccountSid and MessagingServiceSid patterns, StatusCallback's `format: uri`, the content type
and basic auth, and on the list the PageSize range (1-1000). It always answers with the
description's first example (sid SMaaaa...; for the list, two messages of 2019 to another
number, so a lookup finds nothing there). Each of the two starts in about 2 s.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reminders.adapters.twilio_sms import TwilioSmsSender
from reminders.domain.errors import SmsLookupError, SmsSendError
from reminders.domain.model import PhoneNumber
from reminders.ports import SentSms

pytestmark = pytest.mark.prism

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OPENAPI = REPO_ROOT.parent / "shared" / "twilio" / "twilio_api_v2010.json"
START_TIMEOUT_SECONDS = 60.0

# Shaped like real SIDs: Prism checks the patterns ^AC[0-9a-fA-F]{32}$ and ^MG[0-9a-fA-F]{32}$.
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
MESSAGING_SERVICE_SID = "MG" + "fedcba9876543210" * 2
AUTH_TOKEN = "contract-test-token"
FROM_NUMBER = "+15005550006"
STATUS_CALLBACK_URL = "http://localhost:8080/twilio/status"
TO = PhoneNumber("+14155550123")
BODY = "RollerCare: roll in 20 min. Peel first. Reply DONE when finished, STOP to opt out."
SINCE = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason}; CI must run the Prism contract test", pytrace=False)
    pytest.skip(reason)


def _openapi_path() -> Path:
    override = os.environ.get("REMINDERS_TWILIO_OPENAPI")
    path = Path(override) if override else DEFAULT_OPENAPI
    if not path.is_file():
        _unavailable(
            f"Twilio's OpenAPI description is not at {path} "
            "(set REMINDERS_TWILIO_OPENAPI to its path)"
        )
    return path


def _prism_executable() -> str:
    local = REPO_ROOT / "node_modules" / ".bin" / "prism"
    if local.is_file():
        return str(local)
    found = shutil.which("prism")
    if found is None:
        _unavailable("Stoplight Prism is not installed: run `npm ci` in the repository root")
    return str(found)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _running_prism(log_dir: Path, *options: str) -> Iterator[str]:
    """Prism serving Twilio's description with `options`, on a free port; its URL."""
    spec, prism = _openapi_path(), _prism_executable()
    port = _free_port()
    log_path = log_dir / "prism.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [prism, "mock", str(spec), "--host", "127.0.0.1", "--port", str(port), *options],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            started = time.monotonic()
            while not _listening(port):
                if process.poll() is not None or time.monotonic() - started > START_TIMEOUT_SECONDS:
                    pytest.fail(
                        f"Prism did not start listening on port {port}:\n"
                        + log_path.read_text(errors="replace")[-3000:],
                        pytrace=False,
                    )
                time.sleep(0.05)  # polling a subprocess until it listens
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def prism_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with _running_prism(tmp_path_factory.mktemp("prism"), "--errors") as url:
        yield url


@pytest.fixture(scope="module")
def prism_list_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prism without `--errors`, for the list: it still answers a request that breaks the
    description with 422, but does not turn its own example answer into a 500. That example
    breaks the description it comes from: `first_page_uri`, `next_page_uri` and `uri` are
    declared `format: uri` but are relative paths, as Twilio sends them."""
    with _running_prism(tmp_path_factory.mktemp("prism-list")) as url:
        yield url


def send_through_prism(prism_url: str, **options: str | None) -> SentSms:
    with TwilioSmsSender(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        api_url=prism_url,
        timeout_seconds=10,
        **options,
    ) as sender:
        return sender.send(TO, BODY)


def assert_accepted(sent: SentSms) -> None:
    assert re.fullmatch(r"SM[0-9a-fA-F]{32}", sent.provider_sid)
    assert sent.status == "queued"


def test_from_number_send_with_status_callback_matches_contract(prism_url: str) -> None:
    sent = send_through_prism(
        prism_url, from_number=FROM_NUMBER, status_callback_url=STATUS_CALLBACK_URL
    )

    assert_accepted(sent)


def test_from_number_send_without_status_callback_matches_contract(prism_url: str) -> None:
    sent = send_through_prism(prism_url, from_number=FROM_NUMBER, status_callback_url=None)

    assert_accepted(sent)


def test_messaging_service_send_with_status_callback_matches_contract(prism_url: str) -> None:
    sent = send_through_prism(
        prism_url,
        messaging_service_sid=MESSAGING_SERVICE_SID,
        status_callback_url=STATUS_CALLBACK_URL,
    )

    assert_accepted(sent)


def test_messaging_service_send_without_status_callback_matches_contract(prism_url: str) -> None:
    sent = send_through_prism(prism_url, messaging_service_sid=MESSAGING_SERVICE_SID)

    assert_accepted(sent)


def test_prism_refuses_a_request_that_breaks_the_contract(prism_url: str) -> None:
    with pytest.raises(SmsSendError) as caught:
        send_through_prism(prism_url, messaging_service_sid="MG-not-a-service-sid")

    assert (caught.value.code, caught.value.permanent) == (422, True)


def find_through_prism(
    prism_url: str, *, since: datetime = SINCE, account_sid: str = ACCOUNT_SID
) -> SentSms | None:
    with TwilioSmsSender(
        account_sid=account_sid,
        auth_token=AUTH_TOKEN,
        from_number=FROM_NUMBER,
        api_url=prism_url,
        timeout_seconds=10,
    ) as sender:
        return sender.find_sent(TO, BODY, since)


def test_lookup_matches_contract(prism_list_url: str) -> None:
    found = find_through_prism(prism_list_url)  # a 422 would raise SmsLookupError

    assert found is None  # Prism's example messages are older than `since`


def test_lookup_follows_next_page_uris_within_the_contract(prism_list_url: str) -> None:
    # With `since` before 2019 every example message is newer and none matches, so the
    # lookup follows the example's next_page_uri up to its page cap: the client's paging
    # requests pass too (a refused page would end in a 422, not in the cap).
    with pytest.raises(SmsLookupError) as caught:
        find_through_prism(prism_list_url, since=datetime(2001, 1, 1, tzinfo=UTC))

    assert caught.value.status is None
    assert "could not be sure" in str(caught.value)


def test_prism_refuses_a_lookup_that_breaks_the_contract(prism_list_url: str) -> None:
    with pytest.raises(SmsLookupError) as caught:
        find_through_prism(prism_list_url, account_sid="AC-not-an-account-sid")

    assert caught.value.status == 422
