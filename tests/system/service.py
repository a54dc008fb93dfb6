"""Real processes for system tests: `run_service.py` and the fake Twilio server.

Each process writes its output to a file, so a chatty process can never block on a full pipe,
and every process started here is listed in STARTED, so that a failing test can show what the
processes said (see tests/system/conftest.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")

STARTED: list[Process] = []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(
    what: str,
    check: Callable[[], T | None],
    *,
    timeout_seconds: float,
    interval_seconds: float = 0.05,
    process: Process | None = None,
) -> T:
    """Call `check` until it returns something other than None; fail after the timeout or
    as soon as `process` has exited."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        result = check()
        if result is not None:
            return result
        if process is not None and process.exited():
            raise AssertionError(f"{process.name} exited while waiting for {what}")
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_seconds} s waiting for {what}")
        time.sleep(interval_seconds)


class Process:
    """A child process whose stdout and stderr go to `log_path`."""

    def __init__(
        self, name: str, args: list[str], *, env: Mapping[str, str], log_path: Path
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.popen = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        STARTED.append(self)

    def exited(self) -> bool:
        return self.popen.poll() is not None

    def output(self, limit: int = 20_000) -> str:
        """The last `limit` characters the process wrote."""
        return self.log_path.read_text(errors="replace")[-limit:]

    def kill(self) -> None:
        """SIGKILL, if it still runs."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
        self._log.close()

    def stop(self, timeout_seconds: float = 10.0) -> int:
        """SIGTERM, then SIGKILL if it has not exited within the timeout. Returns the exit
        status (negative: killed by that signal)."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()
        return int(self.popen.returncode)


def child_env(**values: str) -> dict[str, str]:
    """The test's environment without any REMINDERS_/TWILIO_ setting, plus `values`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("REMINDERS_", "TWILIO_"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    # A spool of its own unless told: processes on one PostgreSQL database would otherwise
    # share ./data/spool in the working directory, and replay each other's records.
    env["REMINDERS_SPOOL_DIR"] = tempfile.mkdtemp(prefix="reminders-spool-")
    env.update(values)
    return env


class FakeTwilioProcess(Process):
    """`python -m tests.fake_twilio` on a free port, read through its HTTP endpoints."""

    def __init__(
        self, log_path: Path, *, port: int | None = None, any_account: bool = False
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        accounts = ["--account-sid", ""] if any_account else []
        super().__init__(
            "fake twilio",
            [sys.executable, "-m", "tests.fake_twilio", "--port", str(self.port), *accounts],
            env=child_env(),
            log_path=log_path,
        )
        self.http = httpx.Client(base_url=self.url, timeout=10)
        wait_for("the fake Twilio server", self._healthy, timeout_seconds=15, process=self)

    def _healthy(self) -> bool | None:
        try:
            return self.http.get("/_fake/health").status_code == 200 or None
        except httpx.TransportError:
            return None

    def messages(self) -> list[dict[str, Any]]:
        """Every message accepted so far, oldest first (RecordedRequest as JSON)."""
        response = self.http.get("/_fake/messages")
        response.raise_for_status()
        return list(response.json()["messages"])

    def counts(self) -> dict[str, int]:
        """Messages created so far by AccountSid; cheap enough to poll often."""
        response = self.http.get("/_fake/counts")
        response.raise_for_status()
        return dict(response.json()["by_account"])

    def kill(self) -> None:
        self.http.close()
        super().kill()

    def add_faults(self, *faults: Mapping[str, Any]) -> None:
        """Script answers, as `tests.fake_twilio.Fault` fields."""
        self.http.post("/_fake/faults", json={"faults": list(faults)}).raise_for_status()

    def stop(self, timeout_seconds: float = 10.0) -> int:
        self.http.close()
        return super().stop(timeout_seconds)


class ServiceProcess(Process):
    """`python run_service.py` with the given settings, ready when /healthz answers."""

    def __init__(self, log_path: Path, settings: Mapping[str, str]) -> None:
        self.port = int(settings["REMINDERS_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            "run_service.py",
            [sys.executable, "run_service.py"],
            env=child_env(**settings),
            log_path=log_path,
        )
        wait_for("the service to answer /healthz", self._healthy, timeout_seconds=30, process=self)

    def _healthy(self) -> bool | None:
        try:
            return httpx.get(self.url + "/healthz", timeout=2).status_code == 200 or None
        except httpx.TransportError:
            return None
