"""A Twilio-compatible fake of the Messages API on 127.0.0.1, for tests and benchmarks.

In a test:

    with running_fake_twilio() as fake:
        fake.add_faults(Fault.rate_limited(), Fault.error(21610, to="+14155550123"))
        ...  # point TwilioSmsSender(api_url=fake.url, account_sid=TEST_ACCOUNT_SID, ...) at it
        assert fake.messages()[0].params["Body"] == "..."

As a process (system tests, benchmarks): `python -m tests.fake_twilio --port 0` prints
`fake twilio listening on http://127.0.0.1:PORT` once it listens, and then serves:

    POST /2010-04-01/Accounts/{AccountSid}/Messages.json   Twilio's "send a message"
    GET  /2010-04-01/Accounts/{AccountSid}/Messages.json   Twilio's "list messages"
    GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json
    GET  /_fake/messages[?min_count=N&timeout=S]   accepted messages as JSON (waits for N)
    GET  /_fake/counts                             messages created, by AccountSid
    GET  /_fake/requests                           every Messages request, faulted ones too
    DELETE /_fake/messages                         forget everything recorded
    POST /_fake/faults   {"faults": [{"status": 429, "code": 20429, "times": 2}, ...]}
    DELETE /_fake/faults                           drop faults not yet used
    GET  /_fake/health

A fault answers the next matching Messages request(s) instead of the normal answer: an HTTP
status with a Twilio error body, a delay (then the normal answer, or the given status), or a
dropped connection. Faults apply in the order added; `on` says which requests one answers
("send", the default, or "list"), `to` limits one to a number (the To filter of a list),
`account` to an AccountSid, and `times` is how many requests it answers (null: all of them).

The list follows Twilio's documented semantics: newest first by date_created; filters `To`,
`From` and `DateSent` / `DateSent<` / `DateSent>` (on, on or before, on or after: a date
`YYYY-MM-DD` compares days, a time compares seconds; a message Twilio has not sent yet has
no date_sent and never matches them); `PageSize` 1-1000 (default 50); `Page` and the
`PageToken` of `next_page_uri` / `previous_page_uri`, so messages created while a client
pages do not shift the pages it has still to read. Each page is shaped like Twilio's, and
each message as the create call answered it. A parameter out of range is answered 400 with
code 20001. Created messages stay "queued" ("accepted" with a messaging service) until a test
calls `set_status`; `clock` sets the creation times.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import math
import re
import signal
import socket
import ssl
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TEST_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TEST_AUTH_TOKEN = "fake-twilio-auth-token"  # not a secret: only this fake accepts it
TEST_FROM_NUMBER = "+15005550006"
TEST_MESSAGING_SERVICE_SID = "MG" + "fedcba9876543210" * 2

API_VERSION = "2010-04-01"
_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_MESSAGE_PATH = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>SM[0-9a-f]{32})\.json$"
)
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_MAX_WAIT_SECONDS = 30.0
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_PAGE_TOKEN = re.compile(r"^P(?P<direction>[AB])(?P<sid>(SM|MM)[0-9a-f]{32})$")
_SENT_STATUSES = frozenset({"sent", "delivered", "undelivered", "read"})
_LIST_FILTERS = ("To", "From", "DateSent", "DateSent<", "DateSent>")

ERROR_MESSAGES = {
    20001: "Invalid parameter",
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "The 'To' number {to} is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number is not a valid mobile number",
    21635: "'To' number cannot be a landline",
    30001: "Queue overflow",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
}
_DEFAULT_CODE_FOR_STATUS = {400: 21211, 401: 20003, 404: 20404, 429: 20429, 500: 20500}


def twilio_error_body(status: int, code: int | None, message: str | None, to: str = "") -> bytes:
    """The JSON body Twilio sends with an error (`code`, `message`, `more_info`, `status`)."""
    code = code if code is not None else _DEFAULT_CODE_FOR_STATUS.get(status, 20503)
    text = message or ERROR_MESSAGES.get(code, HTTPStatus(status).phrase).format(to=to)
    return json.dumps(
        {
            "code": code,
            "message": text,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }
    ).encode()


@dataclass(frozen=True)
class Fault:
    """One scripted answer to Messages requests instead of the normal 201 (send) or 200 (list)."""

    status: int | None = None  # None: answer normally (after the delay)
    code: int | None = None
    message: str | None = None
    delay_seconds: float = 0.0
    disconnect: bool = False  # close the connection without an answer
    to: str | None = None  # only requests to this number; None: any
    account: str | None = None  # only requests for this AccountSid; None: any
    times: int | None = 1  # how many requests it answers; None: every one
    on: str = "send"  # which requests: "send" (create a message) or "list" (list messages)

    def __post_init__(self) -> None:
        if self.on not in ("send", "list"):
            raise ValueError(f"fault 'on' must be 'send' or 'list', not {self.on!r}")

    @classmethod
    def error(
        cls,
        code: int,
        *,
        status: int = 400,
        to: str | None = None,
        times: int | None = 1,
        on: str = "send",
    ) -> Fault:
        return cls(status=status, code=code, to=to, times=times, on=on)

    @classmethod
    def rate_limited(cls, *, times: int | None = 1, on: str = "send") -> Fault:
        return cls(status=429, code=20429, times=times, on=on)

    @classmethod
    def server_error(cls, status: int = 500, *, times: int | None = 1, on: str = "send") -> Fault:
        return cls(status=status, code=20500 if status == 500 else 20503, times=times, on=on)

    @classmethod
    def delay(
        cls, seconds: float, *, status: int | None = None, times: int | None = 1, on: str = "send"
    ) -> Fault:
        return cls(status=status, delay_seconds=seconds, times=times, on=on)

    @classmethod
    def dropped_connection(cls, *, times: int | None = 1, on: str = "send") -> Fault:
        return cls(disconnect=True, times=times, on=on)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}")
        return cls(**data)

    def matches(self, to: str, account: str, on: str = "send") -> bool:
        return self.on == on and self.to in (None, to) and self.account in (None, account)


@dataclass(frozen=True)
class RecordedRequest:
    """One request to the Messages endpoint, as the fake saw and answered it."""

    method: str
    path: str
    account_sid: str
    auth_user: str | None
    auth_ok: bool
    params: dict[str, str]  # the form of a send, the query of a list
    status: int  # the HTTP status answered; 0 for a dropped connection
    sid: str | None = None  # set when a message was created
    client_port: int = 0  # tells keep-alive connections apart
    headers: dict[str, str] = field(default_factory=dict)


class FakeTwilio:
    """The fake server; `start()`/`stop()` or use it as a context manager."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        account_sid: str | None = TEST_ACCOUNT_SID,
        auth_token: str | None = TEST_AUTH_TOKEN,
        tls: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._tls = tls  # a server context: answer over HTTPS
        self._clock = clock or (lambda: datetime.now(UTC))  # timezone-aware
        self.account_sid = account_sid  # None: any AccountSid in the path is accepted
        self.auth_token = auth_token  # None: any password is accepted
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._messages: dict[str, dict[str, Any]] = {}
        self._times: dict[str, _Times] = {}  # by sid: the exact instants behind the RFC 2822 text
        self._created_by_account: dict[str, int] = {}
        self._faults: list[Fault] = []
        self._connections: set[socket.socket] = set()

    @property
    def url(self) -> str:
        """Base URL to hand to TwilioSmsSender as api_url, e.g. http://127.0.0.1:40123."""
        if self._server is None:
            raise RuntimeError("the fake Twilio server is not running")
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{self._address[0]}:{self.port}"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake Twilio server is not running")
        return int(self._server.server_address[1])

    def start(self) -> FakeTwilio:
        self._stopping.clear()
        server = _Server(self._address, _Handler)
        server.fake = self
        if self._tls is not None:
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-twilio"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: interrupts delays, drops keep-alive connections, joins threads."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        server.shutdown()
        self.drop_idle_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join()

    def drop_idle_connections(self) -> None:
        """Close every keep-alive connection, as a server does with those idle too long."""
        with self._changed:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def add_faults(self, *faults: Fault) -> None:
        with self._changed:
            self._faults.extend(faults)

    def clear_faults(self) -> None:
        with self._changed:
            self._faults.clear()

    def reset(self) -> None:
        """Forget recorded requests, messages and faults."""
        with self._changed:
            self._requests.clear()
            self._messages.clear()
            self._times.clear()
            self._created_by_account.clear()
            self._faults.clear()

    def forget_messages(self) -> None:
        """Forget recorded requests and messages; keep the counts and the faults."""
        with self._changed:
            self._requests.clear()
            self._messages.clear()
            self._times.clear()

    def set_status(self, sid: str, status: str, *, at: datetime | None = None) -> None:
        """Move a message on, as Twilio does: "sent", "delivered", "undelivered" and "read"
        give it a date_sent (`at`, default the clock) if it had none."""
        at = at or self._clock()
        with self._changed:
            message = self._messages[sid]
            message["status"] = status
            message["date_updated"] = format_datetime(at.astimezone(UTC))
            times = self._times[sid]
            if status in _SENT_STATUSES and times.sent_at is None:
                self._times[sid] = _Times(times.created_at, times.order, at.astimezone(UTC))
                message["date_sent"] = format_datetime(at.astimezone(UTC))

    def requests(self) -> list[RecordedRequest]:
        """Every request to the Messages endpoint, in the order they arrived."""
        with self._changed:
            return list(self._requests)

    def messages(self) -> list[RecordedRequest]:
        """The requests that created a message (answered 201)."""
        with self._changed:
            return [r for r in self._requests if r.sid is not None]

    def counts_by_account(self) -> dict[str, int]:
        """How many messages each AccountSid created: cheap to poll, unlike `messages()`."""
        with self._changed:
            return dict(self._created_by_account)

    def wait_for_messages(self, count: int, timeout_seconds: float = 5.0) -> list[RecordedRequest]:
        """Wait until at least `count` messages were created; returns them (maybe fewer)."""
        with self._changed:
            self._changed.wait_for(
                lambda: (
                    self._stopping.is_set()
                    or sum(r.sid is not None for r in self._requests) >= count
                ),
                timeout=timeout_seconds,
            )
            return [r for r in self._requests if r.sid is not None]

    def _take_fault(self, to: str, account: str, on: str = "send") -> Fault | None:
        with self._changed:
            for index, fault in enumerate(self._faults):
                if not fault.matches(to, account, on):
                    continue
                if fault.times is not None:
                    if fault.times <= 1:
                        del self._faults[index]
                    else:
                        self._faults[index] = Fault(**{**asdict(fault), "times": fault.times - 1})
                return fault
            return None

    def _record(self, request: RecordedRequest, message: dict[str, Any] | None = None) -> None:
        with self._changed:
            self._requests.append(request)
            if message is not None:
                created_at = parsedate_to_datetime(message["date_created"])
                self._times[message["sid"]] = _Times(created_at, len(self._times), None)
                self._messages[message["sid"]] = message
                account = request.account_sid
                self._created_by_account[account] = self._created_by_account.get(account, 0) + 1
            self._changed.notify_all()

    def _message(self, sid: str) -> dict[str, Any] | None:
        with self._changed:
            return self._messages.get(sid)

    def _listed(self, account: str, query: ListQuery) -> list[dict[str, Any]]:
        """The account's messages that pass the query's filters, newest first."""
        with self._changed:
            chosen = [
                (self._times[sid], dict(message))
                for sid, message in self._messages.items()
                if message["account_sid"] == account and query.accepts(message, self._times[sid])
            ]
        chosen.sort(key=lambda pair: (pair[0].created_at, pair[0].order), reverse=True)
        return [message for _, message in chosen]


@dataclass(frozen=True)
class _Times:
    created_at: datetime  # as Twilio shows it: whole seconds
    order: int  # creation order, for messages created in the same second
    sent_at: datetime | None


@dataclass(frozen=True)
class ListQuery:
    """The filters and paging of a list request, checked as Twilio checks them."""

    filters: dict[str, str]  # the filters given, by Twilio's parameter name
    date_sent: tuple[str, date | datetime] | None  # ("=", "<" or ">", a day or an instant)
    page_size: int
    page: int
    page_token: tuple[str, str] | None  # ("A": after, or "B": before, a sid)

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> ListQuery | str:
        """The query, or the name of the parameter that is out of range."""
        date_sent: tuple[str, date | datetime] | None = None
        for name, op in (("DateSent", "="), ("DateSent<", "<"), ("DateSent>", ">")):
            if name in params:
                value = _date_or_instant(params[name])
                if value is None:
                    return name
                date_sent = (op, value)
        try:
            page_size = int(params.get("PageSize") or DEFAULT_PAGE_SIZE)
        except ValueError:
            return "PageSize"
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            return "PageSize"
        try:
            page = int(params.get("Page") or 0)
        except ValueError:
            return "Page"
        if page < 0:
            return "Page"
        token = None
        if params.get("PageToken"):
            match = _PAGE_TOKEN.match(params["PageToken"])
            if match is None:
                return "PageToken"
            token = (match["direction"], match["sid"])
        filters = {name: params[name] for name in _LIST_FILTERS if params.get(name)}
        return cls(filters, date_sent, page_size, page, token)

    def accepts(self, message: Mapping[str, Any], times: _Times) -> bool:
        if "To" in self.filters and message["to"] != self.filters["To"]:
            return False
        if "From" in self.filters and message["from"] != self.filters["From"]:
            return False
        if self.date_sent is None:
            return True
        if times.sent_at is None:
            return False  # not sent yet: no DateSent filter finds it
        op, value = self.date_sent
        if isinstance(value, datetime):
            return _compare(op, times.sent_at.replace(microsecond=0), value)
        return _compare(op, times.sent_at.date(), value)

    def uri(self, path: str, page: int, token: str | None) -> str:
        params = [*self.filters.items(), ("PageSize", str(self.page_size)), ("Page", str(page))]
        if token is not None:
            params.append(("PageToken", token))
        return f"{path}?{urlencode(params)}"


def _compare(op: str, left: Any, right: Any) -> bool:
    """`<` and `>` are Twilio's "on or before" and "on or after"."""
    if op == "<":
        return bool(left <= right)
    if op == ">":
        return bool(left >= right)
    return bool(left == right)


def _date_or_instant(value: str) -> date | datetime | None:
    """A GMT day (YYYY-MM-DD) or instant (ISO 8601 or RFC 2822, whole seconds), else None."""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return date.fromisoformat(value)
        instant = datetime.fromisoformat(value)
    except ValueError:
        try:
            instant = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).replace(microsecond=0)


def list_page(path: str, query: ListQuery, messages: list[dict[str, Any]]) -> dict[str, Any] | str:
    """Twilio's answer to a list request over `messages` (filtered, newest first), or the
    name of the parameter that does not fit them (a page token for an unknown message)."""
    start = query.page * query.page_size
    first, stop = start, start + query.page_size
    token = None
    if query.page_token is not None:
        direction, sid = query.page_token
        token = f"P{direction}{sid}"
        sids = [m["sid"] for m in messages]
        if sid not in sids:
            return "PageToken"
        at = sids.index(sid)
        if direction == "A":  # the page after the one that ended with `sid`
            first, stop = at + 1, at + 1 + query.page_size
        else:  # the page before the one that began with `sid`
            first, stop = max(at - query.page_size, 0), at
    items = messages[first:stop]
    more = first + len(items) < len(messages)
    return {
        "end": start + len(items) - 1 if items else start,
        "first_page_uri": query.uri(path, 0, None),
        "messages": items,
        "next_page_uri": (
            query.uri(path, query.page + 1, "PA" + items[-1]["sid"]) if items and more else None
        ),
        "page": query.page,
        "page_size": query.page_size,
        "previous_page_uri": (
            query.uri(path, query.page - 1, "PB" + items[0]["sid"])
            if items and query.page > 0 and first > 0
            else None
        ),
        "start": start,
        "uri": query.uri(path, query.page, token),
    }


class _Server(ThreadingHTTPServer):
    fake: FakeTwilio
    daemon_threads = False  # stop() joins the handler threads, after dropping their connections
    request_queue_size = 128  # a burst of new keep-alive connections must not overflow the backlog


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: benchmarks reuse connections
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        with self.server.fake._changed:
            self.server.fake._connections.add(self.connection)

    def finish(self) -> None:
        with self.server.fake._changed:
            self.server.fake._connections.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # per-request logging to stderr would dominate a throughput benchmark

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self._read_body()
        if match := _MESSAGES_PATH.match(path):
            self._create_message(match["account"], path, body)
        elif path == "/_fake/faults":
            self._add_faults(body)
        else:
            self._not_found()

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        fake = self.server.fake
        if parts.path == "/_fake/messages":
            query = parse_qs(parts.query)
            count = int(query.get("min_count", ["0"])[0])
            wait = min(float(query.get("timeout", ["5"])[0]), _MAX_WAIT_SECONDS)
            recorded = fake.wait_for_messages(count, wait) if count else fake.messages()
            self._json(200, {"messages": [asdict(r) for r in recorded]})
        elif parts.path == "/_fake/counts":
            self._json(200, {"by_account": fake.counts_by_account()})
        elif parts.path == "/_fake/requests":
            self._json(200, {"requests": [asdict(r) for r in fake.requests()]})
        elif parts.path == "/_fake/health":
            self._json(200, {"ok": True})
        elif match := _MESSAGES_PATH.match(parts.path):
            self._list_messages(match["account"], parts.path, parts.query)
        elif match := _MESSAGE_PATH.match(parts.path):
            if self._authorized(match["account"]) is None:
                return
            message = fake._message(match["sid"])
            if message is None or message["account_sid"] != match["account"]:
                self._not_found()
            else:
                self._json(200, message)
        else:
            self._not_found()

    def do_DELETE(self) -> None:
        path = urlsplit(self.path).path
        if path == "/_fake/messages":
            self.server.fake.forget_messages()
            self._reply(204, b"")
        elif path == "/_fake/faults":
            self.server.fake.clear_faults()
            self._reply(204, b"")
        else:
            self._not_found()

    def _create_message(self, account: str, path: str, body: bytes) -> None:
        fake = self.server.fake
        params = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        to = params.get("To", "")
        auth_user = self._authorized(account)
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() in {"content-type", "user-agent", "accept", "x-twilio-client"}
        }

        def record(status: int, message: dict[str, Any] | None = None) -> None:
            fake._record(
                RecordedRequest(
                    method="POST",
                    path=path,
                    account_sid=account,
                    auth_user=auth_user,
                    auth_ok=auth_user is not None,
                    params=params,
                    status=status,
                    sid=message["sid"] if message else None,
                    client_port=int(self.client_address[1]),
                    headers=headers,
                ),
                message,
            )

        if auth_user is None:
            record(401)
            return
        fault = fake._take_fault(to, account, "send")
        if fault is not None and self._answered_by(fault, record, to):
            return
        error = _validation_error(params)
        if error is not None:
            record(400)
            self._reply(400, twilio_error_body(400, error, None, to))
            return
        message = _message_resource(account, params, fake._clock())
        record(201, message)
        self._json(201, message)

    def _list_messages(self, account: str, path: str, query_string: str) -> None:
        fake = self.server.fake
        params = {k: v[0] for k, v in parse_qs(query_string, keep_blank_values=True).items()}
        auth_user = self._authorized(account)

        def record(status: int) -> None:
            fake._record(
                RecordedRequest(
                    method="GET",
                    path=path,
                    account_sid=account,
                    auth_user=auth_user,
                    auth_ok=auth_user is not None,
                    params=params,
                    status=status,
                    client_port=int(self.client_address[1]),
                )
            )

        if auth_user is None:
            record(401)
            return
        fault = fake._take_fault(params.get("To", ""), account, "list")
        if fault is not None and self._answered_by(fault, record, params.get("To", "")):
            return
        query = ListQuery.parse(params)
        page = (
            list_page(path, query, fake._listed(account, query))
            if isinstance(query, ListQuery)
            else query
        )
        if isinstance(page, str):
            record(400)
            message = f"Invalid {page}"
            self._reply(400, twilio_error_body(400, 20001, message))
            return
        record(200)
        self._json(200, page)

    def _answered_by(self, fault: Fault, record: Callable[[int], None], to: str) -> bool:
        """Answer as `fault` says. False when the normal answer is still to come (a delay
        alone); the request is recorded unless the fake is stopping."""
        if fault.delay_seconds and self.server.fake._stopping.wait(fault.delay_seconds):
            self.close_connection = True
            return True
        if fault.disconnect:
            record(0)
            self.close_connection = True
            return True
        if fault.status is not None:
            record(fault.status)
            self._reply(fault.status, twilio_error_body(fault.status, fault.code, None, to))
            return True
        return False

    def _add_faults(self, body: bytes) -> None:
        try:
            data = json.loads(body or b"{}")
            if isinstance(data, list):
                items = data
            elif isinstance(data, dict) and "faults" in data:
                items = data["faults"]
            else:
                items = [data]
            faults = [Fault.from_json(item) for item in items]
        except (ValueError, TypeError, KeyError) as exc:
            self._json(400, {"error": f"bad fault: {exc}"})
            return
        self.server.fake.add_faults(*faults)
        self._json(200, {"added": len(faults)})

    def _authorized(self, account: str) -> str | None:
        """The basic-auth user when the credentials fit the account; else answers 401/404."""
        fake = self.server.fake
        user, password = _basic_auth(self.headers.get("Authorization", ""))
        if user is None or user != account or (fake.auth_token and password != fake.auth_token):
            self._reply(401, twilio_error_body(401, 20003, None), www_authenticate=True)
            return None
        if fake.account_sid and account != fake.account_sid:
            self._not_found()
            return None
        return user

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _not_found(self) -> None:
        self._reply(404, twilio_error_body(404, 20404, None))

    def _json(self, status: int, payload: object) -> None:
        self._reply(status, json.dumps(payload).encode())

    def _reply(self, status: int, body: bytes, *, www_authenticate: bool = False) -> None:
        # One write per answer: with keep-alive, a separate header write is a wasted syscall.
        head = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(body)}",
        ]
        if www_authenticate:
            head.append('WWW-Authenticate: Basic realm="Twilio API"')
        if self.close_connection:
            head.append("Connection: close")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)


def _basic_auth(header: str) -> tuple[str | None, str | None]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    return user, password


def _validation_error(params: Mapping[str, str]) -> int | None:
    if not params.get("To"):
        return 21604
    if not _E164.match(params["To"]):
        return 21211
    if not (params.get("From") or params.get("MessagingServiceSid")):
        return 21603
    if not (params.get("Body") or params.get("MediaUrl") or params.get("ContentSid")):
        return 21602
    return None


def _segments(body: str) -> int:
    per_single, per_part = (160, 153) if body.isascii() else (70, 67)
    return 1 if len(body) <= per_single else math.ceil(len(body) / per_part)


def _message_resource(account: str, params: Mapping[str, str], at: datetime) -> dict[str, Any]:
    sid = "SM" + uuid.uuid4().hex
    now = format_datetime(at.astimezone(UTC))
    uri = f"/{API_VERSION}/Accounts/{account}/Messages/{sid}"
    from_number = params.get("From")
    body = params.get("Body", "")
    return {
        "account_sid": account,
        "api_version": API_VERSION,
        "body": body,
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": from_number,
        "messaging_service_sid": params.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": str(_segments(body)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        # Twilio says "accepted" while a messaging service still has to pick the sender.
        "status": "queued" if from_number else "accepted",
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": params["To"],
        "uri": f"{uri}.json",
    }


@contextlib.contextmanager
def running_fake_twilio(**kwargs: Any) -> Iterator[FakeTwilio]:
    """A started FakeTwilio (arguments as for FakeTwilio), stopped on exit."""
    fake = FakeTwilio(**kwargs)
    with fake:
        yield fake


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--account-sid", default=TEST_ACCOUNT_SID, help="'' accepts any")
    parser.add_argument("--auth-token", default=TEST_AUTH_TOKEN, help="'' accepts any")
    args = parser.parse_args(argv)

    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    fake = FakeTwilio(
        args.host,
        args.port,
        account_sid=args.account_sid or None,
        auth_token=args.auth_token or None,
    )
    with fake:
        print(f"fake twilio listening on {fake.url}", flush=True)
        done.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
