"""Start a consensus cluster of ``prsm-ref node`` processes on loopback (bench and tests).

Each node runs in its own process group; :meth:`LocalCluster.stop` (also on errors and
Ctrl-C through the context manager) kills every group it started and removes the temp dir.
Readiness is a protocol probe: ``GET /status`` answers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from reference_system.consensus.config import ClusterFiles, generate_cluster
from reference_system.ports import free_ports


class LocalCluster:
    """n node processes with durable logs under one temp dir."""

    def __init__(self, n: int = 4, byzantine: dict[int, list[str]] | None = None,
                 **settings: Any) -> None:
        self.n = n
        self.byzantine = byzantine or {}
        self.root = Path(tempfile.mkdtemp(prefix="prsm-pbft-"))
        ports = free_ports(2 * n)
        self.files: ClusterFiles = generate_cluster(
            n, self.root, [(ports[2 * i], ports[2 * i + 1]) for i in range(n)], **settings)
        self.config = json.loads(self.files.config.read_text())
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 20.0) -> None:
        """Start every node and wait until each answers ``/status``."""
        for i in range(self.n):
            self.start_node(i)
        for i in range(self.n):
            self.wait_ready(i, timeout)

    def start_node(self, i: int, wipe: bool = False) -> None:
        """(Re)start node ``i``; ``wipe`` deletes its durable log first."""
        data = self.root / f"data-{i}"
        if wipe:
            shutil.rmtree(data, ignore_errors=True)
        cmd = [sys.executable, "-m", "reference_system.cli", "node",
               "--config", str(self.files.config), "--id", str(i), "--data-dir", str(data)]
        for spec in self.byzantine.get(i, []):
            cmd += ["--byzantine", spec]
        out = (self.root / f"node-{i}.log").open("ab")
        self.procs[i] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        out.close()

    def http_url(self, i: int) -> str:
        """Base URL of node ``i``'s introspection server."""
        return f"http://{self.config['nodes'][str(i)]['http']}"

    def get(self, i: int, path: str, timeout: float = 2.0) -> Any:
        """GET a JSON document from node ``i``."""
        with urllib.request.urlopen(self.http_url(i) + path, timeout=timeout) as response:
            return json.loads(response.read())

    def status(self, i: int) -> dict[str, Any] | None:
        """Node ``i``'s ``/status``, or None if it does not answer."""
        try:
            return self.get(i, "/status", timeout=1.0)
        except OSError:
            return None

    def wait_ready(self, i: int, timeout: float) -> None:
        """Poll ``/status`` until it answers; fail with the log tail if the process died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[i].poll() is not None:
                raise RuntimeError(f"node {i} exited {self.procs[i].returncode}: "
                                   f"{self.log_tail(i)}")
            if self.status(i) is not None:
                return
            time.sleep(0.02)
        raise TimeoutError(f"node {i} not ready in {timeout} s: {self.log_tail(i)}")

    def log_tail(self, i: int, lines: int = 20) -> str:
        """The last lines of node ``i``'s output."""
        path = self.root / f"node-{i}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) \
            if path.exists() else ""

    def kill(self, i: int, sig: int = signal.SIGKILL) -> None:
        """Signal node ``i``'s process group and reap it."""
        proc = self.procs.get(i)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        proc.wait(timeout=10)

    def stop(self) -> None:
        """Kill every node started here and remove the temp dir."""
        for i in list(self.procs):
            self.kill(i, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)
