"""The webhook spool on a real folder: order kept across restarts, a crash between the write
and the rename loses nothing that was answered, caps, permissions, unreadable records."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reminders.adapters.spool import (
    SET_ASIDE,
    TEMPORARY_KEPT_SECONDS,
    FileSpool,
    SpoolFull,
    decode,
    encode,
)
from reminders.ports import SpoolError, WebhookKind, WebhookRecord

RECEIVED_AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def inbound(sid: str, body: str = "STOP", *, at: datetime = RECEIVED_AT) -> WebhookRecord:
    params = {"MessageSid": sid, "From": "+14155550123", "Body": body}
    return WebhookRecord(WebhookKind.INBOUND, at, params)


def sids(spool: FileSpool) -> list[str]:
    return [entry.record.message_sid for entry in spool.pending()]


def record_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file())


def test_records_come_back_in_the_order_they_were_kept(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "spool")
    for sid in ("SM3", "SM1", "SM2"):
        spool.append(inbound(sid))

    assert sids(spool) == ["SM3", "SM1", "SM2"]
    assert spool.waiting() == 3


def test_a_record_comes_back_as_it_was_kept(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "spool")
    record = WebhookRecord(
        WebhookKind.STATUS,
        RECEIVED_AT + timedelta(microseconds=7),
        {"MessageSid": "SM1", "MessageStatus": "undelivered", "ErrorCode": "30003"},
    )
    spool.append(record)

    [entry] = spool.pending()

    assert entry.record == record


def test_order_is_kept_across_a_restart_and_new_records_go_last(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    first = FileSpool(folder)
    first.append(inbound("SM1"))
    first.append(inbound("SM2"))

    again = FileSpool(folder)
    again.append(inbound("SM3"))

    assert again.waiting() == 3
    assert sids(again) == ["SM1", "SM2", "SM3"]


def test_order_does_not_depend_on_the_clock(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "spool")
    spool.append(inbound("SM1", at=RECEIVED_AT))
    spool.append(inbound("SM2", at=RECEIVED_AT - timedelta(hours=1)))  # the clock stepped back

    assert sids(spool) == ["SM1", "SM2"]


def test_a_removed_record_is_gone_after_a_restart(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    spool = FileSpool(folder)
    spool.append(inbound("SM1"))
    spool.append(inbound("SM2"))
    [first, _second] = spool.pending()

    spool.remove(first)
    spool.remove(first)  # twice: no error

    assert spool.waiting() == 1
    assert sids(FileSpool(folder)) == ["SM2"]


def test_a_crash_between_the_write_and_the_rename_keeps_every_record_answered_before(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "spool"
    FileSpool(folder).append(inbound("SM1"))
    # A real process that dies (os._exit: no clean-up) once the record is written and
    # fsync'ed under its temporary name, before the rename that publishes it.
    crash = (
        "import os, sys\n"
        "from datetime import UTC, datetime\n"
        "from pathlib import Path\n"
        "from reminders.adapters.spool import FileSpool\n"
        "from reminders.ports import WebhookKind, WebhookRecord\n"
        "spool = FileSpool(Path(sys.argv[1]))\n"
        "os.replace = lambda *_: os._exit(9)\n"
        "record = WebhookRecord(WebhookKind.INBOUND, datetime.now(UTC),"
        " {'MessageSid': 'SM2', 'From': '+14155550123', 'Body': 'DONE'})\n"
        "spool.append(record)\n"
    )
    died = subprocess.run(
        [sys.executable, "-c", crash, str(folder)], cwd=ROOT, timeout=60, check=False
    )
    [leftover] = [p for p in folder.iterdir() if p.name.startswith(".tmp-")]

    after_crash = FileSpool(folder)

    assert died.returncode == 9
    assert b"DONE" in leftover.read_bytes()  # written in full, never published
    assert sids(after_crash) == ["SM1"]
    assert after_crash.waiting() == 1


def test_a_crash_leftover_is_deleted_by_a_later_start_but_a_fresh_one_is_left(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "spool"
    FileSpool(folder)
    old = folder / ".tmp-000000000001-dead"
    fresh = folder / ".tmp-000000000002-busy"  # another process writing right now
    old.write_bytes(b'{"format":1')
    fresh.write_bytes(b'{"format":1')
    long_ago = time.time() - TEMPORARY_KEPT_SECONDS - 5
    os.utime(old, (long_ago, long_ago))

    FileSpool(folder)

    assert not old.exists()
    assert fresh.exists()


def test_a_full_spool_refuses_a_record_and_keeps_the_others(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "spool", max_records=2)
    spool.append(inbound("SM1"))
    spool.append(inbound("SM2"))

    with pytest.raises(SpoolFull, match="at most 2 records"):
        spool.append(inbound("SM3"))

    assert sids(spool) == ["SM1", "SM2"]
    assert not [p for p in (tmp_path / "spool").iterdir() if p.name.startswith(".tmp-")]


def test_room_made_by_a_removal_takes_a_record_again(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "spool", max_records=1)
    spool.append(inbound("SM1"))
    [entry] = spool.pending()

    spool.remove(entry)
    spool.append(inbound("SM2"))

    assert sids(spool) == ["SM2"]


def test_the_byte_cap_counts_what_is_on_disk_from_before_the_start(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    size = len(encode(inbound("SM1", "x" * 100)))
    FileSpool(folder).append(inbound("SM1", "x" * 100))
    spool = FileSpool(folder, max_bytes=2 * size)
    spool.append(inbound("SM2", "x" * 100))

    with pytest.raises(SpoolFull, match="bytes"):
        spool.append(inbound("SM3", "x"))


def test_set_aside_records_still_count_against_the_caps(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "spool", max_records=1)
    spool.append(inbound("SM1"))
    [entry] = spool.pending()

    spool.set_aside(entry)

    assert spool.waiting() == 0
    assert record_files(tmp_path / "spool" / SET_ASIDE) == [entry.key]
    with pytest.raises(SpoolFull):
        spool.append(inbound("SM2"))


def test_the_folder_is_private_and_so_is_each_record(tmp_path: Path) -> None:
    folder = tmp_path / "deep" / "spool"
    previous = os.umask(0)
    try:
        spool = FileSpool(folder)
        spool.append(inbound("SM1"))
    finally:
        os.umask(previous)
    [record] = record_files(folder)

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / SET_ASIDE).stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / record).stat().st_mode) == 0o600


def test_an_existing_open_folder_is_made_private(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)

    FileSpool(folder)

    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_folder_that_cannot_be_made_is_refused_at_construction(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    with pytest.raises(SpoolError, match="cannot be used"):
        FileSpool(blocker / "spool")


def test_a_disk_that_fails_refuses_the_record(tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    spool = FileSpool(folder)
    (folder / SET_ASIDE).rmdir()
    folder.rmdir()  # the volume went away under the running process

    with pytest.raises(SpoolError, match="could not be kept"):
        spool.append(inbound("SM1"))

    assert spool.waiting() == 0


def test_an_unreadable_record_is_set_aside_and_does_not_hold_back_the_next(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "spool"
    spool = FileSpool(folder)
    spool.append(inbound("SM1"))
    spool.append(inbound("SM2"))
    first = record_files(folder)[0]
    (folder / first).write_bytes(b'{"format": 1, "kind": "inbou')  # damaged by hand or disk

    assert sids(spool) == ["SM2"]
    assert record_files(folder / SET_ASIDE) == [first]
    assert spool.waiting() == 1


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b'{"format": 2, "kind": "inbound", "received_at": "2026-03-02T15:00:00+00:00",'
        b' "params": {"MessageSid": "SM1"}}',
        b'{"format": 1, "kind": "fax", "received_at": "2026-03-02T15:00:00+00:00",'
        b' "params": {"MessageSid": "SM1"}}',
        b'{"format": 1, "kind": "inbound", "received_at": "2026-03-02T15:00:00",'
        b' "params": {"MessageSid": "SM1"}}',
        b'{"format": 1, "kind": "inbound", "received_at": "2026-03-02T15:00:00+00:00",'
        b' "params": {"Body": "STOP"}}',
        b'{"format": 1, "kind": "inbound", "received_at": "2026-03-02T15:00:00+00:00",'
        b' "params": {"MessageSid": 7}}',
    ],
    ids=["not-json", "format", "kind", "naive-time", "no-sid", "not-text"],
)
def test_decode_refuses_what_encode_never_writes(line: bytes) -> None:
    with pytest.raises(ValueError):
        decode(line)


def test_a_body_with_a_lone_surrogate_or_emoji_is_kept_as_it_came(tmp_path: Path) -> None:
    spool = FileSpool(tmp_path / "spool")
    body = "DONE \N{SPARKLES} \udcff"
    spool.append(inbound("SM1", body))

    [entry] = spool.pending()

    assert entry.record.params["Body"] == body


def test_records_another_process_applied_from_a_shared_folder_stop_counting(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "spool"
    mine = FileSpool(folder)
    mine.append(inbound("SM1"))
    other = FileSpool(folder)  # a second replica given the same folder by mistake
    for entry in list(other.pending()):
        other.remove(entry)

    assert sids(mine) == []
    assert mine.waiting() == 0
