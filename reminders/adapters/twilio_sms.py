"""TwilioSmsSender: the SmsSender port on the official twilio client.

Twilio's answers are sorted into permanent errors (never retried: the number is invalid or the
user opted out) and transient ones (rate limits, Twilio outages, timeouts, broken connections),
so that services can decide what to do with the reminder and the user. Lookups of what Twilio
already took read its message list and fail with SmsLookupError whenever the answer is not
certain.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import urllib.request
from base64 import b64encode
from datetime import UTC, datetime
from io import BytesIO
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit

import pycurl
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from reminders.domain.errors import InvalidInput, SmsLookupError, SmsSendError
from reminders.domain.model import PhoneNumber
from reminders.domain.outcomes import INVALID_NUMBER_CODES, OPTED_OUT_CODES
from reminders.ports import SentSms

logger = logging.getLogger(__name__)

TWILIO_API_URL: Final = "https://api.twilio.com"

TRANSIENT_CODES: Final = frozenset({20429, 30001, 30003, 20003})
"""Rate limited, queue overflow, unreachable handset: worth another try later. 20003 (our
credentials refused) is a configuration fault, not the recipient's: retried while fresh, so
fixing the token in time loses nothing."""

_PERMANENT_CODES: Final = OPTED_OUT_CODES | INVALID_NUMBER_CODES

LOOKUP_PAGE_SIZE: Final = 20
LOOKUP_MAX_PAGES: Final = 5
"""One lookup reads at most this many pages of the messages to a number (100 messages): a
user gets a few a day, so that reaches back days, and a lookup takes at most this many
request timeouts."""


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
        parsed = urlsplit(proxy)
        valid = parsed.scheme in ("http", "https") and bool(parsed.hostname)
        parsed.port  # noqa: B018 - raises ValueError when the port is not a number
    except ValueError:
        valid = False
    if not valid:
        name = f"{parts.scheme.upper()}_PROXY"
        raise InvalidInput(name, f"{name} must be a proxy URL such as http://proxy.internal:3128")
    return proxy


class CurlHttpClient(HttpClient):  # type: ignore[misc]  # twilio ships no type hints
    """twilio's HTTP client contract on libcurl (pycurl): keep-alive handles shared by threads.

    The stock client goes through `requests`, and even urllib3 alone spends about three times
    libcurl's CPU on a request: on a service that mostly sends SMS that is most of its CPU
    time. Each request borrows a curl handle (one connection each, kept alive) from a pool
    that keeps up to `maxsize` of them; libcurl drops a connection the server has closed
    before reusing it. The environment's proxy and CA settings are read once, for the one
    host we talk to. With `base_url`, every request goes to that server instead, with only
    scheme and host rewritten (after the twilio client has picked region and edge) so a
    Twilio-compatible fake or Prism sees real Twilio URLs. Redirects are not followed and
    nothing is retried here: retries are the dispatcher's decision.
    """

    def __init__(self, *, base_url: str | None, timeout_seconds: float, maxsize: int) -> None:
        super().__init__(logger, is_async=False, timeout=timeout_seconds)
        self._base_url = base_url
        self._timeout_ms = round(timeout_seconds * 1000)
        self._ca = ca_bundle()
        self._proxy = proxy_for(base_url or TWILIO_API_URL) or ""  # "": no proxy at all
        self._maxsize = maxsize
        self._idle: queue.SimpleQueue[pycurl.Curl] = queue.SimpleQueue()
        self._auth: tuple[tuple[str, str], str] | None = None

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
        lines = [f"{name}: {value}" for name, value in (headers or {}).items()]
        lines.append("Expect:")  # no 100-continue round trip before a larger body
        if auth is not None:
            lines.append(self._authorization(auth))
        received: list[bytes] = []
        answer = BytesIO()
        handle = self._borrow()
        try:
            handle.setopt(pycurl.URL, url)
            handle.setopt(pycurl.HTTPHEADER, lines)
            if timeout is not None:  # else the client's own timeout
                handle.setopt(pycurl.TIMEOUT_MS, round(timeout * 1000))
            if method.upper() == "GET":
                handle.setopt(pycurl.HTTPGET, 1)
            else:
                if method.upper() != "POST":
                    handle.setopt(pycurl.CUSTOMREQUEST, method.upper())
                handle.setopt(pycurl.POSTFIELDS, urlencode(data or {}, doseq=True))
            handle.setopt(pycurl.WRITEFUNCTION, answer.write)
            handle.setopt(pycurl.HEADERFUNCTION, received.append)
            handle.perform()
            status = int(handle.getinfo(pycurl.RESPONSE_CODE))
        finally:
            self._give_back(handle)
        return Response(status, answer.getvalue().decode("utf-8"), _headers(received))

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def _borrow(self) -> pycurl.Curl:
        try:
            handle = self._idle.get_nowait()
            handle.reset()  # every option back to its default; the connection stays
        except queue.Empty:
            handle = pycurl.Curl()
        handle.setopt(pycurl.NOSIGNAL, 1)  # libcurl's signals are unsafe with threads
        handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        handle.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, self._timeout_ms)
        handle.setopt(pycurl.TIMEOUT_MS, self._timeout_ms)
        handle.setopt(pycurl.PROXY, self._proxy)
        if self._ca is not None:
            handle.setopt(pycurl.CAINFO, self._ca)
        return handle

    def _give_back(self, handle: pycurl.Curl) -> None:
        if self._idle.qsize() < self._maxsize:
            self._idle.put(handle)
        else:
            handle.close()

    def _authorization(self, auth: tuple[str, str]) -> str:
        if self._auth is None or self._auth[0] != auth:
            token = b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            self._auth = (auth, f"Authorization: Basic {token}")
        return self._auth[1]


def _refusal(exc: TwilioException) -> tuple[int | None, int | None]:
    """The HTTP status and Twilio error code of a refused request. The create call raises
    TwilioRestException with both; a list page raises a bare TwilioException that carries
    the response, whose body holds the code."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        return (int(exc.status) if exc.status else None, int(exc.code) if exc.code else None)
    response = next((arg for arg in exc.args if isinstance(arg, Response)), None)
    if response is None:
        return None, None
    try:
        payload = json.loads(response.text)
    except ValueError:
        payload = None
    code = payload.get("code") if isinstance(payload, dict) else None
    return response.status_code, code if isinstance(code, int) else None


def _headers(lines: list[bytes]) -> dict[str, str]:
    """The last response's headers from libcurl's header lines (a 100 Continue, say, comes
    with a block of its own before them)."""
    headers: dict[str, str] = {}
    for raw in lines:
        line = raw.decode("iso-8859-1")
        if line.startswith("HTTP/"):
            headers = {}
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip()] = value.strip()
    return headers


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
        api_url: str | None = None,
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
        base = (api_url or TWILIO_API_URL).rstrip("/")
        self._http = CurlHttpClient(
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
        except pycurl.error as exc:  # timeouts, refused or dropped connections, TLS
            reason = f"curl error {exc.args[0]}" if exc.args else "curl error"
            logger.warning("twilio unreachable sending to %s: %s", to.masked(), reason)
            raise SmsSendError(
                f"twilio request failed: {reason}", code=None, permanent=False
            ) from exc
        except (OSError, TwilioException) as exc:
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

    def find_sent(
        self, to: PhoneNumber, body: str, since: datetime, *, excluding: str | None = None
    ) -> SentSms | None:
        """The earliest message Twilio accepted for `to` with exactly `body`, created at or
        after `since` (to the second, as Twilio keeps it), other than the message whose SID is
        `excluding`, or None when it has none.

        Reads the account's messages to `to`, newest first, LOOKUP_PAGE_SIZE at a time, until
        one was created before `since`. Raises SmsLookupError for whatever `send` would call
        transient (429, 5xx, timeouts, broken connections, refused credentials), for any
        other refusal, for an unreadable page, and when LOOKUP_MAX_PAGES pages end before
        `since` with no match; with one, the oldest match read is returned (Twilio took the
        message; an earlier copy may exist). Each page is one request bounded by the
        sender's timeout, so a lookup takes at most LOOKUP_MAX_PAGES timeouts.
        """
        if since.tzinfo is None or since.utcoffset() is None:
            raise ValueError("since must be a timezone-aware datetime")
        # Twilio's date_created has whole seconds: a message created in the same second as
        # `since` shows an earlier time than `since` itself.
        cutoff = since.astimezone(UTC).replace(microsecond=0)
        client = self._borrow()
        try:
            found = self._search(client, to, body, cutoff, excluding)
        except (TwilioRestException, TwilioServiceException) as exc:
            raise self._lookup_refused(to, _refusal(exc)) from None  # exc may quote the number
        except pycurl.error as exc:
            reason = f"curl error {exc.args[0]}" if exc.args else "curl error"
            raise self._lookup_failed(to, reason) from exc
        except TwilioException as exc:
            # A list page Twilio refused arrives as a bare TwilioException with the response.
            status, code = _refusal(exc)
            if status is not None:
                raise self._lookup_refused(to, (status, code)) from None
            raise self._lookup_failed(to, "unreadable answer") from None
        except OSError as exc:
            raise self._lookup_failed(to, type(exc).__name__) from exc
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # not JSON, or not a page of messages: the client's parsing fails in these ways
            reason = f"unreadable answer ({type(exc).__name__})"
            raise self._lookup_failed(to, reason) from None
        finally:
            self._idle.put(client)
        if found is not None:
            logger.debug(
                "twilio had already accepted sms to %s: %s",
                to.masked(),
                found.status,
                extra={"twilio_sid": found.provider_sid},
            )
        return found

    def _search(
        self, client: Any, to: PhoneNumber, body: str, cutoff: datetime, excluding: str | None
    ) -> SentSms | None:
        # No DateSent> filter: Twilio leaves date_sent empty while it still queues a message,
        # so that filter would hide exactly the messages a crash most likely left unrecorded.
        # Twilio lists newest first by date_created, so the To filter and reading until a
        # message older than the cutoff finds them all. No From filter either: with a
        # messaging service `from` stays empty until Twilio picks the sender, and a message
        # sent before a change of sender settings must still be found.
        page = client.messages.page(to=str(to), page_size=LOOKUP_PAGE_SIZE)
        earliest: SentSms | None = None
        pages_read = 1
        while True:
            for message in page:
                created = message.date_created
                if not isinstance(created, datetime):
                    raise ValueError("a message without date_created")
                if created < cutoff:
                    return earliest
                # The To filter is checked again: a server that ignored it must not make
                # another number's message count as this one's. The excluded message is an
                # earlier send already recorded, not the one looked for.
                sid = message.sid
                if message.to == str(to) and message.body == body and sid and sid != excluding:
                    earliest = SentSms(str(sid), twilio_status_word(message.status))
            if page.next_page_url is None:
                return earliest  # every message to this number is newer than the cutoff
            if pages_read == LOOKUP_MAX_PAGES:
                break
            page = page.next_page()
            pages_read += 1
        if earliest is not None:
            return earliest  # not the earliest for sure, but Twilio did take the message
        logger.warning(
            "twilio lookup for %s read %d pages without reaching the cutoff",
            to.masked(),
            LOOKUP_MAX_PAGES,
        )
        raise SmsLookupError(
            f"could not be sure: {LOOKUP_MAX_PAGES} pages of {LOOKUP_PAGE_SIZE} messages "
            "did not reach the time asked about"
        )

    def _lookup_refused(
        self, to: PhoneNumber, refusal: tuple[int | None, int | None]
    ) -> SmsLookupError:
        status, code = refusal
        logger.warning(
            "twilio refused a lookup of sms to %s: HTTP %s, code %s", to.masked(), status, code
        )
        return SmsLookupError(
            f"twilio refused the lookup: HTTP {status}, code {code}", status=status, code=code
        )

    def _lookup_failed(self, to: PhoneNumber, reason: str) -> SmsLookupError:
        logger.warning("twilio lookup of sms to %s failed: %s", to.masked(), reason)
        return SmsLookupError(f"twilio lookup failed: {reason}")

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
