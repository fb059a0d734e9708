"""Load workers on another host, for real: the master and the system under load in one network
namespace, the workers in another, joined by a veth pair. The master binds the veth address
and prints the worker command; the workers run exactly that; results merge across hosts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                 reason="needs root and iproute2 (ip netns)")]
BIN = Path(sys.executable).parent
RATE, DURATION_S, SLOW_MS = 100, 5, 1000


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def namespaces():
    """Two namespaces joined by a veth pair: (master ns, worker ns, master addr, worker addr)."""
    tag = f"{os.getpid() % 100000}"
    master, worker = f"prsm-m{tag}", f"prsm-w{tag}"
    net = f"10.231.{os.getpid() % 250}"
    created = []
    try:
        for ns in (master, worker):
            _ip("netns", "add", ns)
            created.append(ns)
        _ip("link", "add", f"vm{tag}", "type", "veth", "peer", "name", f"vw{tag}")
        _ip("link", "set", f"vm{tag}", "netns", master)
        _ip("link", "set", f"vw{tag}", "netns", worker)
        for ns, dev, addr in ((master, f"vm{tag}", f"{net}.1"), (worker, f"vw{tag}", f"{net}.2")):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield master, worker, f"{net}.1", f"{net}.2"
    finally:
        for ns in created:  # deleting a namespace deletes its end of the veth pair (and both)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)


def _in(ns: str, *argv: str, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", ns, *argv], text=True,
                            start_new_session=True, **popen)  # type: ignore[call-overload]


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
        proc.wait(10)


def test_workers_in_another_namespace_join_the_master_and_results_merge(namespaces, tmp_path):
    master_ns, worker_ns, master_addr, worker_addr = namespaces
    procs: list[subprocess.Popen[str]] = []
    try:
        server = _in(master_ns, sys.executable, "-m", "prsm_validate.load.demo_server",
                     master_addr, "18080", stdout=subprocess.PIPE)
        procs.append(server)
        url = server.stdout.readline().strip()
        assert url == f"http://{master_addr}:18080"
        err = (tmp_path / "master.err").open("w+")
        master = _in(master_ns, str(BIN / "prsm-validate"), "load", url,
                     "--endpoint", "fast=GET:/fast:9", "--endpoint", f"slow=GET:/sleep/{SLOW_MS}:1",
                     "--rate", str(RATE), "--duration", str(DURATION_S), "--remote-workers", "2",
                     "--master-bind", master_addr, "--master-host", master_addr,
                     "--worker-wait", "30", stdout=subprocess.PIPE, stderr=err)
        procs.append(master)
        command = _announced(tmp_path / "master.err", master)
        assert command[:2] == ["prsm-validate", "load-worker"]
        assert command[3].startswith(f"{master_addr}:")
        for _ in range(2):  # exactly the printed command, in the other namespace
            procs.append(_in(worker_ns, str(BIN / command[0]), *command[1:],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        out, _ = master.communicate(timeout=90)
        assert master.returncode == 0, (tmp_path / "master.err").read_text()
        merged = json.loads(out.strip().splitlines()[-1])
        server.terminate()
        seen = json.loads(server.communicate(timeout=10)[0].strip().splitlines()[-1])
    finally:
        _stop(procs)
    print(json.dumps(merged, indent=1))
    assert seen["clients"] == [worker_addr], "every request came from the worker namespace"
    assert len(merged["sources"]) == 2 and all(n > 0 for n in merged["sources"].values())
    assert merged["requests"] == RATE * DURATION_S == sum(merged["sources"].values())
    answered = merged["requests"] - merged["interrupted"] - merged["failures"]
    assert answered <= sum(seen["served"].values()) <= merged["requests"]
    slow = merged["endpoints"]["slow"]
    assert slow["requests"] >= seen["served"][f"/sleep/{SLOW_MS}"] >= slow["requests"] - \
        slow["failures"] - merged["interrupted"]
    # Percentiles of all requests together (merged HDR histograms, not averaged per worker):
    # about a tenth of them waited >= 1 s, so the merged p99 is one of those.
    assert slow["p50"] >= SLOW_MS and merged["p99"] >= SLOW_MS
    assert merged["endpoints"]["fast"]["requests"] + slow["requests"] == merged["requests"]


def _announced(path: Path, master: subprocess.Popen[str]) -> list[str]:
    """The worker command the master printed (waits up to 30 s for it)."""
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"on each worker host run: (.+)$", path.read_text(), re.M)
        if found:
            return found.group(1).split()
        assert master.poll() is None, path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"no worker command printed:\n{path.read_text()}")
