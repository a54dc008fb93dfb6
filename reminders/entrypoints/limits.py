"""What a request may cost before anything is parsed: who may send a body, and how large.

An ASGI middleware in front of the whole app. For each request it
1. answers at once, without reading the body, when the route's gate refuses the headers (a
   missing or wrong admin token: 401; a webhook without a Twilio signature: 403);
2. answers 413 when the declared Content-Length is over the route's limit, and otherwise
   reads the body itself, counting the bytes actually received, chunked uploads included,
   and answers 413 as soon as they pass the limit;
3. hands the app the body it read, so that JSON and form parsing only ever see a body that
   fits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reminders.domain.model import parse_whole_number
from reminders.entrypoints.errors import error_body

DEFAULT_MAX_BODY_BYTES = 64 * 1024  # admin JSON and Twilio webhooks are a few hundred bytes


@dataclass(frozen=True, slots=True)
class Refusal:
    """An answer given without reading the body."""

    status: int
    message: str
    headers: tuple[tuple[str, str], ...] = ()


Gate = Callable[[Headers, str], Refusal | None]
"""Looks at the headers (and path) of a request; a Refusal stops it before its body is read."""


@dataclass(frozen=True, slots=True)
class Route:
    """Requests whose path starts with `prefix`: the gate to pass and the largest body."""

    prefix: str
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    gate: Gate | None = None


class _TooLarge(Exception):
    pass


class RequestLimits:
    """ASGI middleware: the first route whose prefix matches decides; paths that match none
    get the default size limit and no gate."""

    def __init__(self, app: ASGIApp, routes: Sequence[Route]) -> None:
        self._app = app
        self._routes = sorted(routes, key=lambda r: len(r.prefix), reverse=True)

    def _route(self, path: str) -> Route:
        for route in self._routes:
            if path.startswith(route.prefix):
                return route
        return Route("")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        path = scope["path"]
        route = self._route(path)
        headers = Headers(scope=scope)
        if route.gate is not None:
            refusal = route.gate(headers, path)
            if refusal is not None:
                await _answer(send, refusal)
                return
        limit = route.max_body_bytes
        declared = headers.get("content-length")
        if declared is not None:
            length = parse_whole_number(declared.strip(), max_digits=19)
            if length is None:
                await _answer(send, Refusal(400, "Content-Length is not a whole number of bytes"))
                return
            if length > limit:
                await _answer(send, _too_large(limit))
                return
        try:
            body = await _read_body(receive, limit)
        except _TooLarge:
            await _answer(send, _too_large(limit))
            return
        await self._app(scope, _replay(body, receive), send)


def _too_large(limit: int) -> Refusal:
    return Refusal(
        413, f"the request body is larger than {limit} bytes, the most this endpoint accepts"
    )


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: http.disconnect when the client leaves

    return replay


async def _answer(send: Send, refusal: Refusal) -> None:
    content = json.dumps(error_body(refusal.message)).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(content)).encode()),
        # The body was not read: the connection cannot carry another request.
        (b"connection", b"close"),
    ]
    headers += [(name.lower().encode(), value.encode()) for name, value in refusal.headers]
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
