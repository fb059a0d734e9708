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


def _env_file(path: Path) -> dict[str, str]:
    import shlex

    return dict(shlex.split(line)[0].split("=", 1) for line in path.read_text().splitlines())


@pytest.mark.slow
def test_plain_locust_runs_against_up_with_the_lines_it_prints(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "prsm_validate.cli", "up"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines: list[str] = []
        while not lines or not lines[-1].lstrip().startswith("locust -f"):
            line = proc.stdout.readline()
            assert line, "up exited before printing the locust line: " + proc.stderr.read()
            lines.append(line)
        text = "".join(lines)
        assert "set -a; . " in text and "locust -f scenarios/load/locustfile.py --host" in text
        env_file = Path(text.split("set -a; . ")[1].split(";")[0])
        assert oct(env_file.stat().st_mode & 0o777) == "0o600"
        env = _env_file(env_file)
        assert env["PRSM_PASSWORD"] not in text  # printed nowhere
        host = text.split("--host ")[1].split()[0]
        repo = Path(__file__).resolve().parents[1]
        locust = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(repo / "scenarios/load/locustfile.py"),
             "--headless", "-u", "2", "-r", "2", "-t", "4s", "--host", host, "--csv",
             str(tmp_path / "run"), "--only-summary"], env={**os.environ, **env},
            capture_output=True, text=True, timeout=120)
        assert locust.returncode == 0, locust.stderr[-2000:]
        stats = (tmp_path / "run_stats.csv").read_text().splitlines()
        total = next(line for line in stats if ",Aggregated," in line).split(",")
        assert int(total[2]) > 0 and int(total[3]) == 0, "requests made, none failed"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_credentials_prints_an_export_line_or_one_error_line(tmp_path):
    good = tmp_path / "credentials.json"
    good.write_text(json.dumps({"username": "alice", "password": "p w'd"}))
    out = subprocess.run([sys.executable, "-m", "prsm_validate.cli", "credentials", str(good)],
                         capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.strip() == "export PRSM_USERNAME=alice PRSM_PASSWORD='p w'\"'\"'d'"
    bad = subprocess.run([sys.executable, "-m", "prsm_validate.cli", "credentials",
                          str(tmp_path / "nope.json")], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "Traceback" not in bad.stderr
