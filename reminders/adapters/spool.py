"""A durable spool on the local disk for provider webhooks that arrive while the database
cannot take them; they are applied, oldest first, once it can (docs/operations.md, "Database
outages: the webhook spool").

One file per record, holding one JSON line. A record is written under a temporary name,
flushed and fsync'ed, renamed to its final name, and the folder is fsync'ed, all before the
webhook answers. After a crash a record is therefore either whole under its final name or
only a temporary file, which a later start deletes: that webhook never got its answer, so
the provider's own retry or fallback applies to it. Final names begin with a sequence number
(then the time received and the MessageSid, for people reading the folder), so the folder in
name order is the order of arrival. A removal lost in a crash only means that a record is
applied twice, which changes nothing: the use cases are idempotent by MessageSid.

Records hold phone numbers and message bodies: the folder is made 0700 and each file 0600.
A record that cannot be read or applied is moved to the `set-aside` folder inside it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeGuard

from reminders.ports import SpoolEntry, SpoolError, WebhookKind, WebhookRecord

logger = logging.getLogger(__name__)

MAX_RECORDS = 10_000
MAX_BYTES = 32 * 1024 * 1024  # a record is a few hundred bytes; a request is at most 64 KiB
SET_ASIDE = "set-aside"
TEMPORARY_KEPT_SECONDS = 60  # a temporary file older than this is a crash's leftover
FORMAT = 1

_NAME = re.compile(r"^(\d{12})-\d{8}T\d{12}Z-[A-Za-z0-9]{1,64}\.json$")
_TEMPORARY = ".tmp-"
_NOT_SID = re.compile(r"[^A-Za-z0-9]")


class SpoolFull(SpoolError):
    """The spool holds as many records or bytes as it may."""


def encode(record: WebhookRecord) -> bytes:
    """One JSON line (ASCII: a lone surrogate in a body cannot break the encoding)."""
    document = {
        "format": FORMAT,
        "kind": record.kind.value,
        "received_at": record.received_at.astimezone(UTC).isoformat(),
        "params": dict(record.params),
    }
    return (json.dumps(document, separators=(",", ":")) + "\n").encode("ascii")


def decode(data: bytes) -> WebhookRecord:
    """The record of one line written by `encode`. Raises ValueError when it is not one."""
    try:
        document: Any = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a JSON line ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"not a spool record of format {FORMAT}")
    params = document.get("params")
    if not _is_text_mapping(params) or not params.get("MessageSid"):
        raise ValueError("params must map text to text and hold a MessageSid")
    received_at = datetime.fromisoformat(str(document.get("received_at")))
    if received_at.tzinfo is None:
        raise ValueError("received_at has no UTC offset")
    kind = WebhookKind(str(document.get("kind")))
    return WebhookRecord(kind, received_at.astimezone(UTC), dict(params))


def _is_text_mapping(value: object) -> TypeGuard[Mapping[str, str]]:
    return isinstance(value, Mapping) and all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    )


def _private_directory(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # also when it was there already, made by someone else's umask


def _sync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _write_synced(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())


class FileSpool:
    """A Spool in a folder of this process's own; safe to use from several threads.

    Refuses a record (SpoolFull) when the records kept, set-aside ones included, would exceed
    `max_records` or `max_bytes`. The folder is created, its permissions set, temporary files
    left by a crash deleted and a test record written at construction; raises SpoolError when
    any of that fails, so a spool that could not keep anything stops the start instead of
    failing during an outage."""

    def __init__(
        self, directory: Path, *, max_records: int = MAX_RECORDS, max_bytes: int = MAX_BYTES
    ) -> None:
        self.directory = directory
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._aside = directory / SET_ASIDE
        self._lock = threading.Lock()
        try:
            _private_directory(directory)
            _private_directory(self._aside)
            self._clear_temporaries()
            probe = directory / f"{_TEMPORARY}probe-{secrets.token_hex(4)}"
            _write_synced(probe, b"\n")
            probe.unlink()
            names = self._names()
            self._sizes = _sizes(directory, names)
            aside = _sizes(self._aside, [path.name for path in self._aside.iterdir()])
            self._aside_count = len(aside)
            self._aside_bytes = sum(aside.values())
        except OSError as exc:
            raise SpoolError(f"{directory} cannot be used: {exc.strerror or exc}") from exc
        self._next = max((int(_sequence(name)) for name in names), default=0) + 1
        self._reserved_count = 0
        self._reserved_bytes = 0
        if names or aside:
            logger.info(
                "webhook spool opened with records kept before this start",
                extra={"waiting": len(names), "set_aside": len(aside)},
            )

    def append(self, record: WebhookRecord) -> None:
        data = encode(record)
        with self._lock:
            kept = len(self._sizes) + self._aside_count + self._reserved_count
            used = sum(self._sizes.values()) + self._aside_bytes + self._reserved_bytes
            if kept + 1 > self.max_records or used + len(data) > self.max_bytes:
                raise SpoolFull(
                    f"the spool is full ({kept} records, {used} bytes; at most"
                    f" {self.max_records} records and {self.max_bytes} bytes)"
                )
            sequence = self._next
            self._next += 1
            self._reserved_count += 1
            self._reserved_bytes += len(data)
        stamp = record.received_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        sid = _NOT_SID.sub("", record.message_sid)[:64] or "none"
        name = f"{sequence:012d}-{stamp}-{sid}.json"
        temporary = self.directory / f"{_TEMPORARY}{sequence:012d}-{secrets.token_hex(4)}"
        published = False
        try:
            _write_synced(temporary, data)
            os.replace(temporary, self.directory / name)
            published = True
            _sync_directory(self.directory)
        except OSError as exc:
            if not published:
                temporary.unlink(missing_ok=True)
            raise SpoolError(f"the record could not be kept: {exc.strerror or exc}") from exc
        finally:
            with self._lock:
                self._reserved_count -= 1
                self._reserved_bytes -= len(data)
                if published:
                    self._sizes[name] = len(data)

    def pending(self) -> Iterator[SpoolEntry]:
        for name in self._listing():
            try:
                data = (self.directory / name).read_bytes()
            except FileNotFoundError:
                continue  # removed meanwhile
            except OSError as exc:
                raise SpoolError(f"a record could not be read: {exc.strerror or exc}") from exc
            try:
                record = decode(data)
            except ValueError as exc:
                logger.error(
                    "unreadable spooled webhook set aside",
                    extra={"spool_key": name, "reason": str(exc)},
                )
                self._move_aside(name)
                continue
            yield SpoolEntry(name, record)

    def remove(self, entry: SpoolEntry) -> None:
        try:
            (self.directory / entry.key).unlink(missing_ok=True)
        except OSError as exc:
            raise SpoolError(f"a record could not be removed: {exc.strerror or exc}") from exc
        with self._lock:
            self._sizes.pop(entry.key, None)

    def set_aside(self, entry: SpoolEntry) -> None:
        self._move_aside(entry.key)

    def waiting(self) -> int:
        with self._lock:
            return len(self._sizes)

    def _move_aside(self, name: str) -> None:
        try:
            os.replace(self.directory / name, self._aside / name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise SpoolError(f"a record could not be set aside: {exc.strerror or exc}") from exc
        with self._lock:
            size = self._sizes.pop(name, None)
            if size is not None:
                self._aside_count += 1
                self._aside_bytes += size

    def _clear_temporaries(self) -> None:
        # Only old ones: another process on the same folder (the command-line tool opens it
        # too) may be writing a record right now, and a write takes milliseconds.
        horizon = time.time() - TEMPORARY_KEPT_SECONDS
        for path in self.directory.iterdir():
            if not path.name.startswith(_TEMPORARY):
                continue
            with contextlib.suppress(FileNotFoundError):  # renamed meanwhile
                if path.stat().st_mtime < horizon:
                    path.unlink(missing_ok=True)

    def _names(self) -> list[str]:
        return sorted(path.name for path in self.directory.iterdir() if _NAME.match(path.name))

    def _listing(self) -> list[str]:
        """The records in the folder, in order, with this process's counts brought in line
        with it (a folder shared by mistake with another process must not leave records
        counted here that the other one has applied)."""
        with self._lock:
            published = set(self._sizes)
        try:
            names = self._names()
        except OSError as exc:
            raise SpoolError(f"the spool could not be listed: {exc.strerror or exc}") from exc
        present = set(names)
        with self._lock:
            for gone in published - present:
                self._sizes.pop(gone, None)
            self._sizes.update(_sizes(self.directory, sorted(present - set(self._sizes))))
        return names


def _sizes(folder: Path, names: list[str]) -> dict[str, int]:
    """The size of each named file still there (another process may remove one meanwhile)."""
    sizes = {}
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            sizes[name] = (folder / name).stat().st_size
    return sizes


def _sequence(name: str) -> str:
    match = _NAME.match(name)
    assert match is not None
    return match.group(1)
