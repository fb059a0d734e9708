"""Images for the docker target, built locally (no registry can be reached on our machines).

1. Base image ``prsm-base:bookworm``: when absent, built from Debian packages with debootstrap;
   the mirror is read from this machine's apt configuration at run time (never written in the
   repo), and Python 3.11 is included so the image build needs no network.
2. Reference image ``prsm-ref:<content hash>``: the repo's wheels (built and downloaded on the
   host) installed offline on the base. The tag is a hash of everything that goes in, so a
   second run with unchanged sources does not rebuild.

Every build step runs in its own process group: its output is streamed as progress lines (each
build step, and a heartbeat every 10 s), and the group is stopped when the harness stops
(an exception, Ctrl-C, or the reaper when pytest is killed).
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from prsm_validate.errors import HarnessError

BASE_IMAGE = "prsm-base:bookworm"
IMAGE_REPO = "prsm-ref"
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates", "procps")
# Requirements whose markers hold for the image's Python (Debian's 3.11.2) but maybe not for
# the host's: redis needs async-timeout below 3.11.3.
IMAGE_ONLY_REQUIREMENTS = ("async-timeout>=4.0.3",)
REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "reference_system" / "deploy" / "Dockerfile"


HEARTBEAT_S = 10.0
# Phase lines only (not one line per package or file): build steps, debootstrap's stages.
STEP = re.compile(r"^(Step \d+/\d+ :|I: (Retrieving (In)?Release|Retrieving Packages|"
                  r"Installing core|Unpacking the base|Configuring the base|Base system))")
Progress = Callable[[str], None]
WatchGroup = Callable[[int], None]


class ImageError(HarnessError, RuntimeError):
    """An image could not be built; the message says which step and why."""


class BuildSteps:
    """How build steps report progress and register their process groups."""

    def __init__(self, progress: Progress | None = None, watch: WatchGroup | None = None,
                 forget: WatchGroup | None = None) -> None:
        self.progress = progress or (lambda line: print(line, file=sys.stderr, flush=True))
        self.watch = watch or (lambda pgid: None)  # e.g. the reaper's watch_group
        self.forget = forget or (lambda pgid: None)  # the group ended: its id may be reused

    def run(self, argv: list[str], what: str, stdin: object = None) -> None:
        """Run one step in its own process group, streaming progress; raise on failure."""
        proc = subprocess.Popen(argv, stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.watch(proc.pid)
        tail: deque[str] = deque(maxlen=15)
        steps: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_read, args=(proc, tail, steps), daemon=True).start()
        started = time.monotonic()
        self.progress(f"docker image: {what} ...")
        try:
            self._follow(what, started, tail, steps)
            proc.wait()
        except BaseException:
            _stop_group(proc)
            raise
        finally:
            self.forget(proc.pid)
        if proc.returncode != 0:
            raise ImageError(f"{what} failed ({proc.returncode}):\n" + "\n".join(tail))
        self.progress(f"docker image: {what} done in {time.monotonic() - started:.0f}s")

    def _follow(self, what: str, started: float, tail: deque[str],
                steps: queue.Queue[str | None]) -> None:
        """Show each step line as it comes and a heartbeat every ``HEARTBEAT_S``, until the
        step's output ends (in this thread: an interrupt lands here)."""
        beat = started
        while True:
            try:
                line = steps.get(timeout=0.2)
            except queue.Empty:
                line = ""
            if line is None:
                return
            if line:
                self.progress(f"docker image: {what}: {line[:120]}")
            if time.monotonic() - beat >= HEARTBEAT_S:
                beat = time.monotonic()
                last = tail[-1][:100] if tail else "no output yet"
                self.progress(f"docker image: {what}: {beat - started:.0f}s so far ({last})")


def _read(proc: subprocess.Popen[str], tail: deque[str], steps: queue.Queue[str | None]
          ) -> None:
    """Keep the output's tail; pass step lines on; None at the end of the output."""
    assert proc.stdout is not None
    for raw in proc.stdout:
        line = raw.rstrip()
        tail.append(line)
        if STEP.match(line):
            steps.put(line)
    steps.put(None)


def _stop_group(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the step's group, then SIGKILL what is left after 5 s."""
    for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def image_exists(tag: str) -> bool:
    """True when the local engine has ``tag``."""
    return subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 or one-line sources)."""
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for path in sources:
        if not path.is_file() or "disabled" in path.name:
            continue
        text = path.read_text(errors="replace")
        match = (re.search(r"^URIs:\s*(\S+/debian)/?\s*$", text, re.M)
                 or re.search(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+/debian)/?\s", text, re.M))
        if match:
            return match.group(1)
    raise ImageError("no Debian mirror found in /etc/apt/sources.list(.d): configure apt first")


def ensure_base_image(steps: BuildSteps | None = None) -> str:
    """Build ``prsm-base:bookworm`` with debootstrap unless the engine already has it."""
    if image_exists(BASE_IMAGE):
        return BASE_IMAGE
    if shutil.which("debootstrap") is None:
        raise ImageError("debootstrap is needed to build the base image: apt-get install "
                         "debootstrap (or load an image tagged prsm-base:bookworm)")
    steps = steps or BuildSteps()
    with tempfile.TemporaryDirectory(prefix="prsm-rootfs-") as rootfs:
        steps.run(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
                   SUITE, rootfs, apt_mirror()], "debootstrap of the Debian base")
        tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
        try:
            steps.run(["docker", "import", "-", BASE_IMAGE], f"docker import {BASE_IMAGE}",
                      stdin=tar.stdout)
        finally:
            tar.kill()
            tar.wait()
    return BASE_IMAGE


def source_hash() -> str:
    """Hash of every file that goes into the reference image."""
    digest = hashlib.sha256()
    files = [REPO / "pyproject.toml", DOCKERFILE]
    for package in ("prsm_validate", "reference_system"):
        files += sorted(p for p in (REPO / package).rglob("*")
                        if p.is_file() and "__pycache__" not in p.parts)
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def ensure_image(steps: BuildSteps | None = None) -> str:
    """The reference image for the current sources, built if needed; returns its tag."""
    tag = f"{IMAGE_REPO}:{source_hash()}"
    if image_exists(tag):
        return tag
    steps = steps or BuildSteps()
    ensure_base_image(steps)
    with tempfile.TemporaryDirectory(prefix="prsm-build-") as context:
        wheels = Path(context) / "wheels"
        # Wheels come from the host (PyPI through the machine's own pip configuration): the
        # image build itself needs no network.
        steps.run([sys.executable, "-m", "pip", "wheel", "-q", "-w", str(wheels), str(REPO),
                   *IMAGE_ONLY_REQUIREMENTS], "pip wheel of the project and its dependencies")
        shutil.copy(DOCKERFILE, Path(context) / "Dockerfile")
        steps.run(["docker", "build", "--network=none", "--label",
                   "prsm.image=reference", "-t", tag, context], f"docker build of {tag}")
    return tag


if __name__ == "__main__":
    print(ensure_image())
