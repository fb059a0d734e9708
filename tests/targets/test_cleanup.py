"""After SIGINT or SIGKILL of a running pytest, nothing of the local target survives:
no child process, no listening port, no temporary directory."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import psutil
import pytest

pytestmark = pytest.mark.slow

SCENARIO = """
import json, os, time
from urllib.parse import urlparse

def test_hold_the_system(prsm_deployment):
    info = prsm_deployment.describe()
    info["root"] = str(getattr(prsm_deployment.control, "root", ""))
    info["label"] = getattr(prsm_deployment.control, "label", "")
    info["reaper"] = prsm_deployment.control.reaper_pid
    path = os.environ["PRSM_CLEANUP_INFO"]
    with open(path + ".tmp", "w") as out:
        json.dump(info, out)
    os.replace(path + ".tmp", path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.1)
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _ports(info: dict) -> list[int]:
    urls = [info["api_url"], info["redis_url"], info["nats_url"], info["postgres_dsn"]]
    return [urlparse(u).port for u in urls]


def _wait_until(check, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _start_inner(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], dict]:
    (tmp_path / "test_hold.py").write_text(SCENARIO)
    info_path = tmp_path / "info.json"
    env = {**os.environ, "PRSM_CLEANUP_INFO": str(info_path)}
    output = (tmp_path / "inner.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_hold.py",
         f"--prsm-report={tmp_path / 'reports'}", *extra],
        cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT)
    output.close()
    # Stop waiting as soon as the inner pytest is ready or has died.
    _wait_until(lambda: info_path.exists() or proc.poll() is not None, 240)
    if not info_path.exists():
        proc.kill()
        proc.wait(10)
        tail = (tmp_path / "inner.log").read_text(errors="replace")[-3000:]
        pytest.fail(f"the inner pytest never reported a ready system; its output:\n{tail}",
                    pytrace=False)
    return proc, json.loads(info_path.read_text())


def _wait_for_exit(proc: subprocess.Popen[bytes], tmp_path: Path, timeout_s: float = 120) -> None:
    """Wait for the inner pytest to end. After SIGINT it stops every service gracefully,
    which takes a few seconds on a quiet machine and can take over 30 on a busy one: the
    bound is for a hang, not for speed. A hang fails with the inner run's output."""
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
        tail = (tmp_path / "inner.log").read_text(errors="replace")[-3000:]
        pytest.fail(f"the inner pytest did not exit {timeout_s:g}s after the signal; its "
                    f"output:\n{tail}", pytrace=False)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_nothing_survives_the_signal(tmp_path, sig):
    proc, info = _start_inner(tmp_path)
    pids = list(info["pids"].values())
    assert all(_alive(p) for p in pids) and Path(info["root"]).exists()
    assert all(_port_open(p) for p in _ports(info))
    proc.send_signal(sig)
    _wait_for_exit(proc, tmp_path)
    assert _wait_until(lambda: not any(_alive(p) for p in pids), 20), (
        f"still alive: {[p for p in pids if _alive(p)]}")
    assert _wait_until(lambda: not Path(info["root"]).exists(), 10), info["root"]
    assert _wait_until(lambda: not any(_port_open(p) for p in _ports(info)), 10)
    assert _wait_until(lambda: not _alive(info["reaper"]), 10), "the reaper did not exit"


def _labelled(label: str) -> list[str]:
    found = []
    for listing in (["ps", "-aq"], ["network", "ls", "-q"], ["volume", "ls", "-q"]):
        found += subprocess.run(["docker", *listing, "--filter", f"label={label}"],
                                capture_output=True, text=True).stdout.split()
    return found


@pytest.mark.skipif(shutil.which("docker") is None or subprocess.run(
    ["docker", "info"], capture_output=True).returncode != 0,
    reason="no Docker engine on this machine")
def test_nothing_labelled_survives_sigkill_of_pytest_on_the_docker_target(tmp_path):
    from prsm_validate.targets.docker_image import ensure_image

    ensure_image()  # built first (minutes on a new machine): the inner run's wait is for start
    proc, info = _start_inner(tmp_path, "--prsm-target=docker")
    assert len(_labelled(info["label"])) >= 7  # six containers and the network
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert _wait_until(lambda: not _labelled(info["label"]), 60), _labelled(info["label"])
