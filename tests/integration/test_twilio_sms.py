"""TwilioSmsSender through the real twilio client against the fake Twilio server."""

from __future__ import annotations

import json
import logging
import ssl
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import certifi
import pytest
import trustme

from reminders.adapters.twilio_sms import TwilioSmsSender, ca_bundle, proxy_for, rewrite_url
from reminders.domain.errors import InvalidInput, SmsSendError
from reminders.domain.model import PhoneNumber
from reminders.domain.outcomes import INVALID_NUMBER_CODES, OPTED_OUT_CODES
from tests.fake_twilio import (
    TEST_ACCOUNT_SID,
    TEST_AUTH_TOKEN,
    TEST_FROM_NUMBER,
    TEST_MESSAGING_SERVICE_SID,
    FakeTwilio,
    Fault,
    running_fake_twilio,
)
from tests.forward_proxy import running_forward_proxy
from tests.integration import twilio_support

REPO_ROOT = Path(__file__).resolve().parents[2]
STATUS_CALLBACK_URL = "https://reminders.example.com/twilio/status"
TO = PhoneNumber("+14155550123")
MESSAGES_PATH = f"/2010-04-01/Accounts/{TEST_ACCOUNT_SID}/Messages.json"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with running_fake_twilio() as server:
        yield server


def make_sender(fake: FakeTwilio, **overrides: object) -> TwilioSmsSender:
    """A sender that reaches `fake` and asks for status callbacks unless told otherwise."""
    return twilio_support.make_sender(
        fake, **{"status_callback_url": STATUS_CALLBACK_URL, **overrides}
    )


@pytest.fixture
def twilio_sender(fake: FakeTwilio) -> Iterator[TwilioSmsSender]:
    with make_sender(fake) as sms_sender:
        yield sms_sender


def send_error(sender: TwilioSmsSender, to: PhoneNumber = TO) -> SmsSendError:
    with pytest.raises(SmsSendError) as caught:
        sender.send(to, "Roll tonight at 20:00")
    return caught.value


def test_send_posts_to_body_from_and_status_callback(
    fake: FakeTwilio, twilio_sender: TwilioSmsSender
) -> None:
    sent = twilio_sender.send(TO, "Roll tonight at 20:00")

    [request] = fake.messages()
    assert request.params == {
        "To": "+14155550123",
        "Body": "Roll tonight at 20:00",
        "From": TEST_FROM_NUMBER,
        "StatusCallback": STATUS_CALLBACK_URL,
    }
    assert sent.provider_sid == request.sid
    assert sent.provider_sid.startswith("SM") and len(sent.provider_sid) == 34
    assert sent.status == "queued"


def test_send_authenticates_with_account_sid_and_token(
    fake: FakeTwilio, twilio_sender: TwilioSmsSender
) -> None:
    twilio_sender.send(TO, "hello")

    [request] = fake.messages()
    assert request.auth_ok
    assert request.auth_user == TEST_ACCOUNT_SID
    assert request.account_sid == TEST_ACCOUNT_SID


def test_rewrite_keeps_twilio_api_path(fake: FakeTwilio, twilio_sender: TwilioSmsSender) -> None:
    twilio_sender.send(TO, "hello")

    [request] = fake.messages()
    assert request.path == MESSAGES_PATH


def test_rewrite_keeps_path_and_query_under_a_prefix() -> None:
    url = "https://api.ie1.twilio.com/2010-04-01/Accounts/AC1/Messages.json?PageSize=5"

    rewritten = rewrite_url(url, "http://127.0.0.1:4010/mock/")

    assert (
        rewritten == "http://127.0.0.1:4010/mock/2010-04-01/Accounts/AC1/Messages.json?PageSize=5"
    )


def test_region_from_environment_still_reaches_the_configured_server(
    fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")

    with make_sender(fake) as sender:
        sender.send(TO, "hello")

    assert [r.path for r in fake.messages()] == [MESSAGES_PATH]


def test_messaging_service_sends_without_from(fake: FakeTwilio) -> None:
    with make_sender(
        fake, from_number=None, messaging_service_sid=TEST_MESSAGING_SERVICE_SID
    ) as sender:
        sent = sender.send(TO, "hello")

    [request] = fake.messages()
    assert request.params == {
        "To": "+14155550123",
        "Body": "hello",
        "MessagingServiceSid": TEST_MESSAGING_SERVICE_SID,
        "StatusCallback": STATUS_CALLBACK_URL,
    }
    assert sent.status == "accepted"


def test_messaging_service_wins_when_from_is_also_configured(fake: FakeTwilio) -> None:
    with make_sender(fake, messaging_service_sid=TEST_MESSAGING_SERVICE_SID) as sender:
        sender.send(TO, "hello")

    [request] = fake.messages()
    assert "From" not in request.params
    assert request.params["MessagingServiceSid"] == TEST_MESSAGING_SERVICE_SID


def test_status_callback_is_left_out_when_not_configured(fake: FakeTwilio) -> None:
    with make_sender(fake, status_callback_url=None) as sender:
        sender.send(TO, "hello")

    [request] = fake.messages()
    assert "StatusCallback" not in request.params


def test_rate_limit_is_transient(fake: FakeTwilio, twilio_sender: TwilioSmsSender) -> None:
    fake.add_faults(Fault.rate_limited())

    error = send_error(twilio_sender)

    assert (error.code, error.permanent) == (20429, False)


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_is_transient(
    fake: FakeTwilio, twilio_sender: TwilioSmsSender, status: int
) -> None:
    fake.add_faults(Fault.server_error(status))

    error = send_error(twilio_sender)

    assert error.permanent is False


def test_timeout_is_transient(fake: FakeTwilio) -> None:
    fake.add_faults(Fault.delay(30))

    with make_sender(fake, timeout_seconds=0.2) as sender:
        error = send_error(sender)

    assert (error.code, error.permanent) == (None, False)


def test_dropped_connection_is_transient(fake: FakeTwilio, twilio_sender: TwilioSmsSender) -> None:
    fake.add_faults(Fault.dropped_connection())

    error = send_error(twilio_sender)

    assert (error.code, error.permanent) == (None, False)


def test_refused_connection_is_transient(fake: FakeTwilio) -> None:
    url = fake.url
    fake.stop()

    with TwilioSmsSender(
        account_sid=TEST_ACCOUNT_SID,
        auth_token=TEST_AUTH_TOKEN,
        from_number=TEST_FROM_NUMBER,
        api_url=url,
    ) as sender:
        error = send_error(sender)

    assert (error.code, error.permanent) == (None, False)


def test_opted_out_recipient_is_permanent(fake: FakeTwilio, twilio_sender: TwilioSmsSender) -> None:
    fake.add_faults(Fault.error(21610))

    error = send_error(twilio_sender)

    assert (error.code, error.permanent) == (21610, True)
    assert error.code in OPTED_OUT_CODES


@pytest.mark.parametrize("code", sorted(INVALID_NUMBER_CODES))
def test_invalid_number_is_permanent(
    fake: FakeTwilio, twilio_sender: TwilioSmsSender, code: int
) -> None:
    fake.add_faults(Fault.error(code))

    error = send_error(twilio_sender)

    assert (error.code, error.permanent) == (code, True)


@pytest.mark.parametrize("code", [30001, 30003])
def test_transient_delivery_codes_are_retried(
    fake: FakeTwilio, twilio_sender: TwilioSmsSender, code: int
) -> None:
    fake.add_faults(Fault.error(code))

    error = send_error(twilio_sender)

    assert (error.code, error.permanent) == (code, False)


def test_other_client_error_is_permanent(fake: FakeTwilio, twilio_sender: TwilioSmsSender) -> None:
    fake.add_faults(Fault.error(21408))  # "permission to send to this region not enabled"

    error = send_error(twilio_sender)

    assert (error.code, error.permanent) == (21408, True)


def test_wrong_auth_token_is_retried_not_blamed_on_the_recipient(fake: FakeTwilio) -> None:
    with make_sender(fake, auth_token="not-the-token") as sender:
        error = send_error(sender)

    assert (error.code, error.permanent) == (20003, False)


def test_request_twilio_refuses_is_permanent(twilio_sender: TwilioSmsSender) -> None:
    with pytest.raises(SmsSendError) as caught:
        twilio_sender.send(TO, "")

    assert (caught.value.code, caught.value.permanent) == (21602, True)


def test_error_and_logs_never_show_number_or_body(
    fake: FakeTwilio, twilio_sender: TwilioSmsSender, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_faults(Fault.error(21211), Fault.rate_limited())
    caplog.set_level(logging.DEBUG)

    first = send_error(twilio_sender)
    second = send_error(twilio_sender)
    twilio_sender.send(TO, "Roll tonight at 20:00")

    for text in (str(first), str(second), caplog.text):
        assert "+14155550123" not in text
        assert "Roll tonight" not in text
        assert TEST_AUTH_TOKEN not in text
    assert TO.masked() in caplog.text
    assert first.__cause__ is None  # Twilio's own text quotes the number


def test_sequential_sends_reuse_one_connection(
    fake: FakeTwilio, twilio_sender: TwilioSmsSender
) -> None:
    for n in range(5):
        twilio_sender.send(TO, f"hello {n}")

    assert len({r.client_port for r in fake.messages()}) == 1


def test_concurrent_sends_from_several_threads(
    fake: FakeTwilio, twilio_sender: TwilioSmsSender
) -> None:
    threads, per_thread = 8, 25
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker(n: int) -> None:
        start.wait()
        for i in range(per_thread):
            try:
                sid = twilio_sender.send(TO, f"thread {n} message {i}").provider_sid
            except BaseException as exc:  # reported by the assert below
                with lock:
                    errors.append(exc)
            else:
                with lock:
                    results.append(sid)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()

    assert errors == []
    assert len(set(results)) == threads * per_thread
    bodies = {r.params["Body"] for r in fake.messages()}
    assert bodies == {f"thread {n} message {i}" for n in range(threads) for i in range(per_thread)}
    assert {r.sid for r in fake.messages()} == set(results)
    # the shared pool kept every connection: no "pool is full, discarding" churn
    assert len({r.client_port for r in fake.messages()}) <= threads


def test_more_callers_than_kept_connections_all_send(fake: FakeTwilio) -> None:
    with make_sender(fake, max_connections=2) as sender:
        barrier = threading.Barrier(4)

        def send(n: int) -> None:
            barrier.wait()
            sender.send(TO, f"burst {n}")

        workers = [threading.Thread(target=send, args=(n,)) for n in range(4)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()

    assert len(fake.messages()) == 4


def test_a_connection_the_server_closed_while_idle_is_replaced(
    fake: FakeTwilio, twilio_sender: TwilioSmsSender
) -> None:
    twilio_sender.send(TO, "before the server closed it")
    fake.drop_idle_connections()

    twilio_sender.send(TO, "after")

    assert len({r.client_port for r in fake.messages()}) == 2


def clear_proxy_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def test_sends_go_through_the_proxy_the_environment_names(
    fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    clear_proxy_settings(monkeypatch)
    with running_forward_proxy() as (proxy_url, seen):
        monkeypatch.setenv("HTTP_PROXY", proxy_url)
        with make_sender(fake) as sender:
            sender.send(TO, "through the proxy")

    assert seen == [f"POST {fake.url}{MESSAGES_PATH}"]
    assert fake.messages()[0].params["Body"] == "through the proxy"


@pytest.fixture
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_fake(tls_ca: trustme.CA) -> Iterator[FakeTwilio]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("127.0.0.1").configure_cert(context)
    with running_fake_twilio(tls=context) as server:
        yield server


@pytest.fixture
def trusting_the_ca(tls_ca: trustme.CA, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No proxy, and REQUESTS_CA_BUNDLE names a file with the test CA."""
    clear_proxy_settings(monkeypatch)
    bundle = tmp_path / "ca.pem"
    tls_ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))


@pytest.mark.usefixtures("trusting_the_ca")
def test_https_trusts_the_ca_bundle_the_environment_names(tls_fake: FakeTwilio) -> None:
    with make_sender(tls_fake) as sender:
        sent = sender.send(TO, "over TLS")

    assert tls_fake.url.startswith("https://")
    assert [r.sid for r in tls_fake.messages()] == [sent.provider_sid]


@pytest.mark.usefixtures("trusting_the_ca")
def test_https_through_a_proxy_tunnels_with_connect(
    tls_fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_forward_proxy() as (proxy_url, seen):
        monkeypatch.setenv("HTTPS_PROXY", proxy_url)
        with make_sender(tls_fake) as sender:
            sender.send(TO, "tunnelled")

    assert seen == [f"CONNECT 127.0.0.1:{tls_fake.port}"]
    assert tls_fake.messages()[0].params["Body"] == "tunnelled"


def test_an_untrusted_certificate_is_refused_as_transient(
    tls_fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    clear_proxy_settings(monkeypatch)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)  # certifi's bundle does not know it

    with make_sender(tls_fake) as sender, caplog.at_level(logging.WARNING):
        error = send_error(sender)

    assert (error.code, error.permanent) == (None, False)
    assert tls_fake.messages() == []
    assert "curl error 60" in caplog.text  # the peer's certificate did not verify


def test_proxy_comes_from_the_environment_and_respects_no_proxy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clear_proxy_settings(monkeypatch)
    assert proxy_for("https://api.twilio.com") is None

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert proxy_for("https://api.twilio.com") == "http://proxy.internal:3128"
    assert proxy_for("http://127.0.0.1:4010") is None  # no HTTP_PROXY set

    monkeypatch.setenv("NO_PROXY", "api.twilio.com")
    assert proxy_for("https://api.twilio.com") is None


def test_a_bare_host_and_port_proxy_means_http(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_proxy_settings(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "proxy.internal:3128")

    assert proxy_for("https://api.twilio.com") == "http://proxy.internal:3128"


@pytest.mark.parametrize("value", ["::bad", "ftp://user:secret@proxy.internal:21"])
def test_a_bad_proxy_setting_is_named_and_not_repeated(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    clear_proxy_settings(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", value)

    with pytest.raises(InvalidInput) as caught:
        proxy_for("https://api.twilio.com")

    assert caught.value.field == "HTTPS_PROXY"
    assert "http://proxy.internal:3128" in caught.value.message
    assert value not in caught.value.message


def test_ca_bundle_follows_the_stock_client_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert ca_bundle() == certifi.where()

    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/curl.pem")
    assert ca_bundle() == "/etc/ssl/curl.pem"
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corporate.pem")
    assert ca_bundle() == "/etc/ssl/corporate.pem"


def test_constructor_requires_a_sender_identity() -> None:
    with pytest.raises(ValueError, match="from_number or a messaging_service_sid"):
        TwilioSmsSender(account_sid=TEST_ACCOUNT_SID, auth_token=TEST_AUTH_TOKEN)


def test_fake_records_and_takes_faults_over_http(
    fake: FakeTwilio, twilio_sender: TwilioSmsSender
) -> None:
    fault = json.dumps({"faults": [{"status": 400, "code": 21610, "to": "+14155550199"}]})
    request = urllib.request.Request(f"{fake.url}/_fake/faults", data=fault.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200

    twilio_sender.send(TO, "hello")
    error = send_error(twilio_sender, PhoneNumber("+14155550199"))
    with urllib.request.urlopen(f"{fake.url}/_fake/messages?min_count=1", timeout=5) as response:
        messages = json.load(response)["messages"]

    assert error.code == 21610
    assert [m["params"]["To"] for m in messages] == ["+14155550123"]


def test_fake_runs_as_a_module_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_twilio", "--port", "0"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        with urllib.request.urlopen(f"{url}/_fake/health", timeout=5) as response:
            health = json.load(response)
    finally:
        process.terminate()
        returncode = process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

    assert line.startswith("fake twilio listening on http://127.0.0.1:")
    assert health == {"ok": True}
    assert returncode == 0
