"""A watchdog that outlives the harness: when the harness dies, it ends what the harness started.

The harness starts it with a pipe on stdin and writes ``group <pgid>``, ``forget <pgid>``,
``path <dir>`` and ``docker-label <key=value>`` lines. When the pipe closes (normal teardown,
Ctrl-C, SIGKILL of pytest, a crash), the reaper stops every registered process group (SIGCONT,
SIGTERM, then SIGKILL), removes every registered path, and removes every container, network
and volume carrying a registered Docker label. It runs in its own session, so a terminal's
Ctrl-C does not reach it before it has done its job.

Run as ``python -m prsm_validate.targets.reaper``.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time

GRACE_S = 3.0


def _signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to a group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return False


def _group_alive(pgid: int) -> bool:
    return _signal_group(pgid, 0)


def stop_groups(groups: list[int], grace_s: float = GRACE_S) -> None:
    """SIGCONT + SIGTERM every group, wait up to ``grace_s``, then SIGKILL the rest."""
    for pgid in groups:
        _signal_group(pgid, signal.SIGCONT)
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_group_alive(g) for g in groups):
        time.sleep(0.05)
    for pgid in groups:
        _signal_group(pgid, signal.SIGKILL)


def remove_docker_label(label: str) -> None:
    """Force-remove containers, then networks and volumes, labelled ``label``."""
    import subprocess

    for kind, listing in (("container", ["ps", "-aq"]), ("network", ["network", "ls", "-q"]),
                          ("volume", ["volume", "ls", "-q"])):
        found = subprocess.run(["docker", *listing, "--filter", f"label={label}"],
                               capture_output=True, text=True).stdout.split()
        if found:
            remove = ["rm", "-f"] if kind == "container" else [kind, "rm"]
            subprocess.run(["docker", *remove, *found], capture_output=True)


def main() -> int:
    """Read registrations until EOF, then clean up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    groups: list[int] = []
    paths: list[str] = []
    labels: list[str] = []
    for line in sys.stdin:
        verb, _, arg = line.strip().partition(" ")
        if verb == "group":
            groups.append(int(arg))
        elif verb == "forget" and int(arg) in groups:
            groups.remove(int(arg))
        elif verb == "path":
            paths.append(arg)
        elif verb == "docker-label":
            labels.append(arg)
    stop_groups(groups)
    for label in labels:
        remove_docker_label(label)
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
