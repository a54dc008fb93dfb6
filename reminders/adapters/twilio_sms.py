"""TwilioSmsSender: the SmsSender port on the official twilio client.

Twilio's answers are sorted into permanent errors (never retried: the number is invalid or the
user opted out) and transient ones (rate limits, Twilio outages, timeouts, broken connections),
so that services can decide what to do with the reminder and the user.
"""

from __future__ import annotations

import logging
import os
import queue
import urllib.request
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import urllib3
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from reminders.domain.errors import InvalidInput, SmsSendError
from reminders.domain.model import INVALID_NUMBER_CODES, OPTED_OUT_CODES, PhoneNumber
from reminders.ports import SentSms

logger = logging.getLogger(__name__)

TWILIO_API_URL: Final = "https://api.twilio.com"

TRANSIENT_CODES: Final = frozenset({20429, 30001, 30003, 20003})
"""Rate limited, queue overflow, unreachable handset: worth another try later. 20003 (our
credentials refused) is a configuration fault, not the recipient's: retried while fresh, so
fixing the token in time loses nothing."""

_PERMANENT_CODES: Final = OPTED_OUT_CODES | INVALID_NUMBER_CODES


def is_permanent(code: int | None, http_status: int | None) -> bool:
    """Whether a Twilio error must never be retried.

    Known codes decide first; otherwise 429 and 5xx are transient and any other 4xx is
    permanent. Without a status or code (a broken connection) the error is transient.
    """
    if code in _PERMANENT_CODES:
        return True
    if code in TRANSIENT_CODES:
        return False
    if http_status is None:
        return False
    return 400 <= http_status < 500 and http_status not in (401, 429)


def twilio_status_word(status: object) -> str:
    """Twilio's message status as a plain word ("queued", "accepted" ...).

    The client types it as an enum but hands over the raw JSON string; accept both.
    """
    value = getattr(status, "value", status)
    return str(value) if value else "unknown"


def rewrite_url(url: str, base_url: str) -> str:
    """`url` with scheme and host (and a path prefix, if any) taken from `base_url`.

    https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json with http://127.0.0.1:4010
    gives http://127.0.0.1:4010/2010-04-01/Accounts/AC1/Messages.json.
    """
    base = urlsplit(base_url.rstrip("/"))
    parts = urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, ""))


def ca_bundle() -> str | None:
    """The CA file to trust: REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE as the stock client reads
    them, else certifi's bundle when installed, else None (the system's default CAs)."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if value := os.environ.get(name):
            return value
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with twilio's dependencies
        return None
    return str(certifi.where())


def proxy_for(url: str) -> str | None:
    """The proxy the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY) sets for `url`. A bare
    `host:port` means http://host:port, as curl and the stock client read it. Raises
    InvalidInput naming the variable when it is not a proxy URL (its value is not repeated:
    it may hold a password)."""
    parts = urlsplit(url)
    if parts.hostname is None or urllib.request.proxy_bypass(parts.hostname):
        return None
    proxy = urllib.request.getproxies_environment().get(parts.scheme)
    if not proxy:
        return None
    if "://" not in proxy:
        proxy = f"http://{proxy}"
    try:
        parsed = urllib3.util.parse_url(proxy)
    except urllib3.exceptions.LocationParseError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        name = f"{parts.scheme.upper()}_PROXY"
        raise InvalidInput(name, f"{name} must be a proxy URL such as http://proxy.internal:3128")
    return proxy


class Urllib3HttpClient(HttpClient):  # type: ignore[misc]  # twilio ships no type hints
    """twilio's HTTP client contract on a urllib3 connection pool, shared by threads.

    The stock client goes through `requests`, whose per-request work (preparing, merging
    settings, runtime protocol checks) is about half the CPU time of a send; urllib3, which
    `requests` itself runs on, does the same job in half the time. Environment proxy and
    CA settings are read once, for the one host we talk to. With `base_url`, every request
    goes to that server instead, with only scheme and host rewritten (after the twilio
    client has picked region and edge) so a Twilio-compatible fake or Prism sees real
    Twilio URLs. Redirects are not followed and nothing is retried here: retries are the
    dispatcher's decision.
    """

    def __init__(self, *, base_url: str | None, timeout_seconds: float, maxsize: int) -> None:
        super().__init__(logger, is_async=False, timeout=timeout_seconds)
        self._base_url = base_url
        options: dict[str, Any] = {
            "maxsize": maxsize,
            "retries": False,
            "timeout": urllib3.Timeout(connect=timeout_seconds, read=timeout_seconds),
            "ca_certs": ca_bundle(),
        }
        proxy = proxy_for(base_url or TWILIO_API_URL)
        self._pool: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self._base_url is not None:
            url = rewrite_url(url, self._base_url)
        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urlencode(params, doseq=True)}"
        sent_headers = dict(headers or {})
        if auth is not None:
            sent_headers.update(urllib3.make_headers(basic_auth=f"{auth[0]}:{auth[1]}"))
        body = None
        if data is not None:
            body = urlencode(data, doseq=True)
            sent_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        options: dict[str, Any] = {}
        if timeout is not None:  # else the pool's timeout; None would mean "wait forever"
            options["timeout"] = urllib3.Timeout(connect=timeout, read=timeout)
        answer = self._pool.request(
            method.upper(),
            url,
            body=body,
            headers=sent_headers,
            redirect=allow_redirects,
            **options,
        )
        return Response(answer.status, answer.data.decode("utf-8"), answer.headers)

    def close(self) -> None:
        self._pool.clear()


class TwilioSmsSender:
    """Sends SMS through Twilio's Messages API (or a Twilio-compatible server at `api_url`).

    Safe to call from several threads: each call borrows a twilio client from a pool that
    grows to the number of concurrent callers, and they all share one keep-alive connection
    pool that keeps up to `max_connections` idle connections. When both a messaging service
    and a From number are configured, the messaging service is used and picks the sender.
    Call `close()` (or use it as a context manager) to close the pooled connections.
    """

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback_url: str | None = None,
        api_url: str = TWILIO_API_URL,
        timeout_seconds: float = 10,
        max_connections: int = 16,
    ) -> None:
        if not account_sid or not auth_token:
            raise ValueError("TwilioSmsSender needs an account SID and an auth token")
        if not (from_number or messaging_service_sid):
            raise ValueError("TwilioSmsSender needs a from_number or a messaging_service_sid")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, not {timeout_seconds}")
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._sender: dict[str, str] = (
            {"messaging_service_sid": messaging_service_sid}
            if messaging_service_sid
            else {"from_": from_number or ""}
        )
        if status_callback_url:
            self._sender["status_callback"] = status_callback_url
        base = api_url.rstrip("/")
        self._http = Urllib3HttpClient(
            base_url=None if base == TWILIO_API_URL else base,
            timeout_seconds=timeout_seconds,
            maxsize=max_connections,
        )
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def send(self, to: PhoneNumber, body: str) -> SentSms:
        """Send one SMS. Returns Twilio's message SID and status word.

        Raises SmsSendError: permanent for opted-out or invalid numbers and other 4xx answers,
        transient for 429, 5xx, timeouts and connection errors. A timeout after Twilio took
        the request can lead to a second message on retry; that window is Twilio's, not ours.
        """
        client = self._borrow()
        try:
            message = client.messages.create(to=str(to), body=body, **self._sender)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise self._rejected(to, exc) from None  # exc's text may quote the phone number
        except (OSError, urllib3.exceptions.HTTPError, TwilioException) as exc:
            logger.warning("twilio unreachable sending to %s: %s", to.masked(), type(exc).__name__)
            raise SmsSendError(
                f"twilio request failed: {type(exc).__name__}", code=None, permanent=False
            ) from exc
        except ValueError as exc:  # a 2xx answer whose body is not JSON
            logger.warning("twilio answered with an unreadable body sending to %s", to.masked())
            raise SmsSendError(
                "twilio answered with an unreadable body", code=None, permanent=False
            ) from exc
        finally:
            self._idle.put(client)
        sid = message.sid
        if not sid:
            raise SmsSendError("twilio answered without a message SID", code=None, permanent=False)
        status = twilio_status_word(message.status)
        logger.debug(
            "twilio accepted sms to %s: %s", to.masked(), status, extra={"twilio_sid": sid}
        )
        return SentSms(provider_sid=sid, status=status)

    def close(self) -> None:
        """Close every pooled connection. Later sends open new ones."""
        self._http.close()

    def __enter__(self) -> TwilioSmsSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _borrow(self) -> Any:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        return Client(self._account_sid, self._auth_token, http_client=self._http)

    def _rejected(
        self, to: PhoneNumber, exc: TwilioRestException | TwilioServiceException
    ) -> SmsSendError:
        status = int(exc.status) if exc.status else None
        code = int(exc.code) if exc.code else None
        permanent = is_permanent(code, status)
        logger.log(
            logging.INFO if permanent else logging.WARNING,
            "twilio refused sms to %s: HTTP %s, code %s (%s)",
            to.masked(),
            status,
            code,
            "permanent" if permanent else "transient",
        )
        return SmsSendError(
            f"twilio refused the message: HTTP {status}, code {code}",
            code=code,
            permanent=permanent,
        )
