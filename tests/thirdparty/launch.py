"""Start the third-party Spark app (API + two workers) and write a targets file for it.

The entry declares the app's own vocabulary (status names, string priorities, FastAPI error
bodies, its task types and model), the one reference feature it has (``task_workers``) and
``control: {kind: command}`` for its workers (kill the process group, restart detached).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from prsm_validate.targets import probes
from prsm_validate.targets.processes import ManagedProcess, Reaper, wait_ready
from reference_system.ports import free_ports

APP = Path(__file__).with_name("spark.py")
WORKERS = ("worker-0", "worker-1")
USER_ENV, PASSWORD_ENV = "SPARK_TEST_USER", "SPARK_TEST_PASSWORD"
SECOND_USER_ENV, SECOND_PASSWORD_ENV = "SPARK_TEST_USER_B", "SPARK_TEST_PASSWORD_B"


@dataclass
class Spark:
    """A running app: where it is, its targets file, the environment its credentials need."""

    api_url: str
    folder: Path
    targets_file: Path
    env: dict[str, str]


def targets_entry(api_url: str, folder: Path) -> dict[str, object]:
    """The targets-file entry of the app."""
    python = sys.executable

    def commands(name: str) -> dict[str, str]:
        return {"kill": f"{python} {APP} kill --dir {folder} --name {name}",
                "restart": f"{python} {APP} worker --dir {folder} --name {name} --detach"}

    return {
        "kind": "remote", "api_url": api_url, "profile": "prime-spark",
        "credentials": {"username_env": USER_ENV, "password_env": PASSWORD_ENV},
        "second_user": {"username_env": SECOND_USER_ENV, "password_env": SECOND_PASSWORD_ENV},
        "protected": False, "allow_chaos": True, "features": ["task_workers"],
        "vocabulary": {
            "task_status": {"queued": "pending", "running": "in_progress", "done": "succeeded",
                            "failed": "errored", "cancelled": "revoked"},
            "priority": {"low": "low", "high": "high"}, "error_body": "detail",
            "task_types": {"quick": {"type": "noop", "payload": {}},
                           "long": {"type": "wait", "payload": {"duration_s": "{seconds}"}}},
            "health_ok": "healthy", "llm_model": "spark-mini"},
        "control": {"kind": "command", "timeout_s": 10,
                    "components": {name: commands(name) for name in WORKERS}},
    }


@contextlib.contextmanager
def running_spark(defects: str = "") -> Iterator[Spark]:
    """The app on a free loopback port, with ``SPARK_DEFECTS=defects``; removed afterwards
    (the workers stop when the folder's ``alive`` flag goes; the reaper covers a crash)."""
    folder = Path(tempfile.mkdtemp(prefix="spark-"))
    reaper = Reaper()
    reaper.watch_path(folder)
    password, second = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    env = {"SPARK_SECRET": secrets.token_urlsafe(32), "SPARK_USERS": json.dumps(
        {"ann": password, "bob": second}), "SPARK_DEFECTS": defects}
    (port,) = free_ports(1)
    api = ManagedProcess("spark-api", [sys.executable, str(APP), "api", "--dir", str(folder),
                                       "--port", str(port)], folder / "api.log", env,
                         reaper=reaper)
    try:
        (folder / "alive").touch()
        api.start()
        url = f"http://127.0.0.1:{port}"
        wait_ready(api, lambda: probes.http_ok(f"{url}/health"), 30)
        for name in WORKERS:
            _start_worker(folder, name, env)
        targets = folder / "targets.yaml"
        targets.write_text(yaml.safe_dump({"targets": {"spark": targets_entry(url, folder)}}))
        yield Spark(url, folder, targets, {**env, USER_ENV: "ann", PASSWORD_ENV: password,
                                           SECOND_USER_ENV: "bob", SECOND_PASSWORD_ENV: second})
    finally:
        (folder / "alive").unlink(missing_ok=True)
        api.stop()
        _stop_workers(folder)
        shutil.rmtree(folder, ignore_errors=True)
        reaper.close()


def _start_worker(folder: Path, name: str, env: dict[str, str]) -> None:
    import os
    import subprocess

    subprocess.run([sys.executable, str(APP), "worker", "--dir", str(folder), "--name", name,
                    "--detach"], check=True, env={**os.environ, **env}, timeout=30)


def _stop_workers(folder: Path) -> None:
    import os
    import signal

    for pid_file in folder.glob("worker-*.pid"):
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.killpg(int(pid_file.read_text()), signal.SIGKILL)
