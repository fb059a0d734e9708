"""Child processes of a target: own process group, log file, signals, readiness probes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from prsm_validate.errors import HarnessError


class StartupError(HarnessError, RuntimeError):
    """A component did not become ready; the message names it and shows its last log lines."""


class Reaper:
    """Handle on the watchdog process that cleans up if the harness dies."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "prsm_validate.targets.reaper"],
            stdin=subprocess.PIPE, start_new_session=True, text=True,
        )

    def _say(self, line: str) -> None:
        assert self._proc.stdin is not None
        if self._proc.stdin.closed:
            return  # closed: it has swept already (a second stop of a target is harmless)
        self._proc.stdin.write(line + "\n")
        self._proc.stdin.flush()

    def watch_group(self, pgid: int) -> None:
        """Stop this process group if the harness dies."""
        self._say(f"group {pgid}")

    def forget_group(self, pgid: int) -> None:
        """The group has ended normally; never signal its id again (ids are reused)."""
        self._say(f"forget {pgid}")

    def watch_docker_label(self, label: str) -> None:
        """Remove everything Docker holds with this label if the harness dies."""
        self._say(f"docker-label {label}")

    def watch_path(self, path: Path) -> None:
        """Remove this path if the harness dies."""
        self._say(f"path {path}")

    def close(self, timeout_s: float = 10.0) -> None:
        """Let the reaper finish its sweep and exit."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()

    @property
    def pid(self) -> int:
        """The reaper's process id."""
        return self._proc.pid


@dataclass
class ManagedProcess:
    """One component process, started in its own process group with output to a log file."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    reaper: Reaper | None = None
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        """Spawn the process (again, for a restart)."""
        self._log = self.log_path.open("ab")
        env = {**os.environ, **self.env}
        self.popen = subprocess.Popen(
            list(self.argv), stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, user=self.user, close_fds=True,
        )
        if self.reaper is not None:
            self.reaper.watch_group(self.popen.pid)

    @property
    def pid(self) -> int | None:
        """Process id, or None before start."""
        return self.popen.pid if self.popen else None

    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the process group and to every descendant.

        Descendants matter: PostgreSQL backends call setsid(), leaving the postmaster's group.
        """
        if self.popen is None or not self.alive():
            return
        descendants = _descendants(self.popen.pid)
        os.killpg(self.popen.pid, sig)
        for pid in descendants:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def kill(self) -> None:
        """SIGKILL the process group and reap it."""
        self.signal(signal.SIGKILL)
        self._reap()

    def pause(self) -> None:
        """SIGSTOP the process group."""
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT the process group."""
        self.signal(signal.SIGCONT)

    def stop(self, grace_s: float = 5.0) -> None:
        """Graceful stop: SIGCONT + SIGTERM, wait for the process, SIGKILL what remains."""
        if self.popen is None:
            return
        if self.alive():
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(grace_s)
        # Whatever is left of the group (a hung leader, orphaned children) is killed.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        if self.popen is None:
            return
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            return
        if self.reaper is not None:
            self.reaper.forget_group(self.popen.pid)
        if self._log is not None:
            self._log.close()

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the process's output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def wait_ready(proc: ManagedProcess, probe: Callable[[], bool], timeout_s: float,
               interval_s: float = 0.01) -> float:
    """Poll ``probe`` until it is true; return seconds waited.

    Raises :class:`StartupError` naming the component when the process dies or the timeout
    passes, with the last lines of its log.
    """
    started = time.monotonic()
    while True:
        if not proc.alive():
            code = proc.popen.returncode if proc.popen else None
            raise StartupError(f"{proc.name} exited with status {code} before it was ready; "
                               f"last output ({proc.log_path}):\n{proc.log_tail()}")
        if _safe(probe):
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise StartupError(f"{proc.name} not ready after {timeout_s:g}s; "
                               f"last output ({proc.log_path}):\n{proc.log_tail()}")
        time.sleep(interval_s)
        interval_s = min(interval_s * 1.5, 0.1)


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _safe(probe: Callable[[], bool]) -> bool:
    try:
        return bool(probe())
    except Exception:  # any failure of a probe (refused, "starting up"...) means not ready
        return False
