"""The command lines: help lists every command; ``up`` serves, describes, and cleans up."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from prsm_validate.cli import build_parser


def test_help_lists_commands():
    text = build_parser().format_help()
    assert "up" in text


def test_prsm_ref_help_lists_roles():
    from reference_system.cli import build_parser as ref_parser

    text = ref_parser().format_help()
    assert "api" in text and "hash-password" in text


@pytest.mark.slow
def test_up_prints_endpoints_and_tears_down_on_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "prsm_validate.cli", "up", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        info = json.loads(line)
        creds = Path(info["credentials_file"])
        assert oct(creds.stat().st_mode & 0o777) == "0o600"
        password = json.loads(creds.read_text())["password"]
        assert password not in line
        assert {"api_url", "postgres_dsn", "redis_url", "nats_url", "pids"} <= set(info)
        pids = list(info["pids"].values())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(psutil.pid_exists(p) for p in pids):
            time.sleep(0.05)
        assert not [p for p in pids if psutil.pid_exists(p)
                    and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        assert not creds.parent.exists()
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
