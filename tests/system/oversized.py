"""Oversized request bodies, sent as an attacker sends them, and the memory they cost.

The bodies are streamed from generators (nothing here holds more than a megabyte of one) over
plain sockets rather than an HTTP client, which insists on honest framing and reads the answer
only once the body is out. Here the answer is read while the body is still going out, and
sending stops as soon as the status line arrives, so an early 413 is seen early.

The four kinds:

- `admin_no_token`: POST /v1/users, no bearer token, a 200 MB JSON body (a long string field);
- `admin_token`: the same with a valid token;
- `webhook_chunked`: POST /twilio/inbound, `Transfer-Encoding: chunked` and no Content-Length,
  150 form fields of 1,000,000 bytes (and a signature header, so the body is worth reading);
- `webhook_lying_length`: the same chunked body under a `Content-Length: 1000` header. Chunked
  framing wins over Content-Length (RFC 9112 6.3), so a check of the header alone lets the
  whole body in.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

MB = 1_000_000
_PIECE = 256 * 1024
FILLER = b"A" * MB


@dataclass(frozen=True)
class OversizedSize:
    json_bytes: int = 200 * MB
    form_fields: int = 150
    form_field_bytes: int = 1_000_000
    concurrency: int = 4
    timeout_seconds: float = 60.0

    def label(self, kind: str) -> str:
        """What a kind of request is, in a few words."""
        json_mb = f"{self.json_bytes / MB:g} MB JSON"
        form = f"{self.form_fields}x{self.form_field_bytes / MB:g} MB"
        return {
            "admin_no_token": f"admin, no token, {json_mb}",
            "admin_token": f"admin, token, {json_mb}",
            "webhook_chunked": f"webhook, chunked, {form}",
            "webhook_lying_length": f"webhook, CL 1000 + chunked, {form}",
        }[kind]


@dataclass(frozen=True)
class Answer:
    """What one oversized request got: a status (None: none came), how long it took, and how
    much of the body went out before the server answered or hung up."""

    status: int | None
    seconds: float
    sent_bytes: int
    note: str = ""  # "timeout", "reset", "closed" when there was no status

    @property
    def label(self) -> str:
        return str(self.status) if self.status is not None else self.note


@dataclass
class KindResult:
    kind: str
    answers: list[Answer] = field(default_factory=list)
    rss_before_mb: float = 0.0
    peak_rss_mb: float = 0.0


@dataclass(frozen=True)
class HostileRequest:
    """The request head (status line and headers) and a generator of the body."""

    head: bytes
    body: Callable[[], Iterator[bytes]]


def _head(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _json_body(phone: str, size: int) -> tuple[int, Callable[[], Iterator[bytes]]]:
    prefix = f'{{"phone": "{phone}", "consent": "confirmed", "timezone": "'.encode()
    suffix = b'"}'
    filler = max(0, size - len(prefix) - len(suffix))

    def body() -> Iterator[bytes]:
        yield prefix
        left = filler
        while left > 0:
            piece = FILLER if left >= len(FILLER) else FILLER[:left]
            left -= len(piece)
            yield piece
        yield suffix

    return len(prefix) + filler + len(suffix), body


def _chunked_form(phone: str, size: OversizedSize) -> Callable[[], Iterator[bytes]]:
    def body() -> Iterator[bytes]:
        first = f"From=%2B{phone.lstrip('+')}&To=%2B15005550006&Body=HELP".encode()
        yield b"%x\r\n%s\r\n" % (len(first), first)
        for i in range(size.form_fields):
            name = f"&f{i}=".encode()
            yield b"%x\r\n%s\r\n" % (len(name), name)
            left = size.form_field_bytes
            while left > 0:
                piece = FILLER if left >= len(FILLER) else FILLER[:left]
                left -= len(piece)
                yield b"%x\r\n" % len(piece)
                yield piece
                yield b"\r\n"
        yield b"0\r\n\r\n"

    return body


def hostile_requests(
    port: int, admin_token: str, phone: str, size: OversizedSize
) -> dict[str, HostileRequest]:
    """The four kinds of oversized request, by name."""
    host = f"Host: 127.0.0.1:{port}"
    length, json_body = _json_body(phone, size.json_bytes)
    admin = ["POST /v1/users HTTP/1.1", host, "Content-Type: application/json"]
    admin.append(f"Content-Length: {length}")
    webhook = [
        "POST /twilio/inbound HTTP/1.1",
        host,
        "Content-Type: application/x-www-form-urlencoded",
        "X-Twilio-Signature: bm90IGEgcmVhbCBzaWduYXR1cmUgYXQgYWxsIQ==",
        "Transfer-Encoding: chunked",
    ]
    form = _chunked_form(phone, size)
    return {
        "admin_no_token": HostileRequest(_head(admin), json_body),
        "admin_token": HostileRequest(
            _head([*admin, f"Authorization: Bearer {admin_token}"]), json_body
        ),
        "webhook_chunked": HostileRequest(_head(webhook), form),
        "webhook_lying_length": HostileRequest(_head([*webhook, "Content-Length: 1000"]), form),
    }


def send(port: int, request: HostileRequest, timeout_seconds: float) -> Answer:
    """Send `request` while reading; stop at the status line, a hang-up or the timeout."""
    started = time.monotonic()
    deadline = started + timeout_seconds
    sent = 0
    received = b""
    pieces = request.body()
    pending = memoryview(request.head)
    sending = True
    note = "timeout"
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=min(10.0, timeout_seconds))
    except OSError as exc:
        return Answer(None, time.monotonic() - started, 0, f"connect: {exc.strerror}")
    with sock:
        sock.setblocking(False)
        while (left := deadline - time.monotonic()) > 0:
            writers = [sock] if sending else []
            readable, writable, _ = select.select([sock], writers, [], min(left, 0.5))
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    note = "reset"
                    break
                if not data:
                    note = "closed"
                    break
                received += data
                if b"\r\n" in received:
                    break
            if writable:
                if not pending:
                    piece = next(pieces, None)
                    if piece is None:
                        sending = False
                        continue
                    pending = memoryview(piece)
                try:
                    count = sock.send(pending[:_PIECE])
                except (BrokenPipeError, ConnectionResetError):
                    sending = False  # the server hung up: its answer may still be readable
                    continue
                sent += count
                pending = pending[count:]
    seconds = time.monotonic() - started
    status_line = received.split(b"\r\n", 1)[0].split()
    if len(status_line) >= 2 and status_line[1].isdigit():
        return Answer(int(status_line[1]), seconds, sent)
    return Answer(None, seconds, sent, note)


class RssSampler:
    """Samples a process's resident set size from /proc every `interval_seconds`; `peak_mb`
    is the highest sample, or the kernel's high-water mark since `start` when the kernel lets
    us reset it (/proc/<pid>/clear_refs), whichever is higher."""

    def __init__(self, pid: int, interval_seconds: float = 0.05) -> None:
        self._status = Path(f"/proc/{pid}/status")
        self._clear_refs = Path(f"/proc/{pid}/clear_refs")
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._hwm_reset = False
        self.start_kb = 0
        self.peak_kb = 0

    def _read(self) -> dict[str, int]:
        try:
            lines = self._status.read_text().splitlines()
        except OSError:
            return {}
        values = {}
        for line in lines:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
        return values

    def start(self) -> None:
        try:
            self._clear_refs.write_text("5")  # resets VmHWM to the current RSS
            self._hwm_reset = True
        except OSError:
            self._hwm_reset = False
        self.start_kb = self.peak_kb = self._read().get("VmRSS", 0)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak_kb = max(self.peak_kb, self._read().get("VmRSS", 0))

    def stop(self) -> float:
        """Stop sampling; returns the peak in MB (10^6 bytes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._hwm_reset:
            self.peak_kb = max(self.peak_kb, self._read().get("VmHWM", 0))
        return self.peak_kb * 1024 / MB


def run_oversized(
    pid: int, port: int, admin_token: str, phone: str, size: OversizedSize
) -> list[KindResult]:
    """Each kind in turn, `size.concurrency` requests at once, with the service's RSS
    sampled while they run."""
    results = []
    requests = hostile_requests(port, admin_token, phone, size)
    with ThreadPoolExecutor(max_workers=size.concurrency) as pool:
        for kind, request in requests.items():
            sampler = RssSampler(pid)
            sampler.start()
            futures = [
                pool.submit(send, port, request, size.timeout_seconds)
                for _ in range(size.concurrency)
            ]
            answers = [future.result() for future in futures]
            peak = sampler.stop()
            results.append(KindResult(kind, answers, sampler.start_kb * 1024 / MB, peak))
    return results


def describe_statuses(answers: list[Answer]) -> str:
    """'413x4', or '200x2 reset x2'."""
    counts = Counter(answer.label for answer in answers)
    return " ".join(f"{label}x{count}" for label, count in sorted(counts.items()))
