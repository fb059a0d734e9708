"""``prsm-validate up``: run the local reference system in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

NAME = "up"
HELP = ("Start the local reference system in the foreground, print its endpoints when ready, "
        "tear everything down on SIGINT/SIGTERM.")


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``up``."""
    parser.add_argument("--nodes", type=int, default=4,
                        help="PBFT cluster size (3f+1, at least 4; used once the cluster is on)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object describing every endpoint instead of text")
    parser.add_argument("--env-file", type=Path, default=None,
                        help="also write PRSM_USERNAME, PRSM_PASSWORD and PRSM_API_URL to this "
                        "file (mode 0600) for `set -a; . FILE` (default: env in the data dir)")


def _private(path: Path, text: str) -> Path:
    """Write ``text`` to a file only its owner can read."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return path


def _write_credentials(root: Path, username: str, password: str) -> Path:
    return _private(root / "credentials.json",
                    json.dumps({"username": username, "password": password}))


def _write_env(path: Path, username: str, password: str, api_url: str) -> Path:
    """The variables the plain locustfile (and other tools) read, shell-quoted."""
    import shlex

    return _private(path, "".join(f"{k}={shlex.quote(v)}\n" for k, v in (
        ("PRSM_USERNAME", username), ("PRSM_PASSWORD", password), ("PRSM_API_URL", api_url))))


def run(args: argparse.Namespace) -> int:
    """Start, describe, wait for a signal, stop."""
    from prsm_validate.targets.local import LocalOptions, LocalTarget
    from prsm_validate.targets.processes import StartupError

    if args.nodes < 4:
        print(f"prsm-validate up: --nodes={args.nodes}: PBFT needs at least 4", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    target = LocalTarget(LocalOptions(nodes=args.nodes))
    try:
        deployment = target.start()
    except StartupError as exc:
        print(f"prsm-validate up: {exc}", file=sys.stderr)
        return 1
    try:
        assert deployment.credentials is not None and target.root is not None
        info = deployment.describe()
        info["ready_s"] = round(target.ready_s or 0.0, 3)
        # The password goes to a private file, never to the terminal.
        creds = deployment.credentials
        info["credentials_file"] = str(_write_credentials(target.root, creds.username,
                                                          creds.password))
        info["env_file"] = str(_write_env(args.env_file or target.root / "env", creds.username,
                                          creds.password, deployment.api_url))
        _print(info, args.json)
        stop.wait()
    finally:
        target.stop()
    return 0


def _print(info: dict[str, object], as_json: bool) -> None:
    if as_json:
        print(json.dumps(info), flush=True)
        return
    print(f"reference system ready in {info['ready_s']}s (Ctrl-C to stop)")
    for key in ("api_url", "postgres_dsn", "redis_url", "nats_url", "credentials_file",
                "log_dir"):
        print(f"  {key:17} {info[key]}")
    for node in info.get("nodes") or []:  # type: ignore[attr-defined]
        print(f"  {node['id']:17} {node['url']}/status")
    services = info.get("services") or {}
    if isinstance(services, dict):
        for key, what in (("gateway", "load-balanced API"), ("fault_proxy", "Toxiproxy API")):
            if services.get(key):
                print(f"  {key:17} {services[key]} ({what})")
    print(f"  {'pids':17} {info['pids']}")
    print("Locust's own UI on this system (the password stays in the 0600 env file):")
    print(f"  set -a; . {info['env_file']}; set +a")
    print(f"  locust -f scenarios/load/locustfile.py --host {info['api_url']}", flush=True)
