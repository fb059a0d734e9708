"""Free TCP ports for servers that start a moment later.

Two races make "bind to port 0, close, hand the number on" fail on a busy machine:
- the kernel takes its port-0 choices from the ephemeral range, which every *outgoing*
  connection also draws from: a client connecting elsewhere can take the port between the
  choice and the server's bind (seen: ``address already in use`` for a node while other
  systems ran load on the same machine);
- two processes choosing at the same time (pytest-xdist workers, parallel runs) can draw the
  same port from a shared range.

So ports are drawn at random from below the ephemeral range (no outgoing connection uses
them), each is checked free by binding it, and every choice is recorded in a registry shared
by all processes of this machine (``$TMPDIR/prsm-ports.json`` under an ``flock``): a port stays
reserved for ``HOLD_S`` seconds or until the process that chose it is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import random
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HOLD_S = 900.0
FALLBACK_EPHEMERAL_LOW = 32768
LOWEST = 15000
REGISTRY = Path(tempfile.gettempdir()) / "prsm-ports.json"


def port_range() -> tuple[int, int]:
    """Ports to draw from: [LOWEST, start of the kernel's ephemeral range)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = FALLBACK_EPHEMERAL_LOW
    return (LOWEST, low - 1) if low - LOWEST > 2000 else (1024, low - 1)


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports, free now and reserved against every other chooser here."""
    first, last = port_range()
    rng = random.SystemRandom()
    with _registry() as reserved:
        chosen: list[int] = []
        for _ in range(50 * count + 100):
            if len(chosen) == count:
                break
            port = rng.randint(first, last)
            if port not in reserved and port not in chosen and _bindable(host, port):
                chosen.append(port)
        if len(chosen) < count:
            raise OSError(f"no {count} free ports found in {first}-{last} on {host}")
        now = time.time()
        for port in chosen:
            reserved[port] = (os.getpid(), now)
    return chosen


def _bindable(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def _registry() -> Iterator[dict[int, tuple[int, float]]]:
    """The live reservations (expired or orphaned ones dropped), saved on exit."""
    with open(REGISTRY.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            reserved = _live(_load())
            yield reserved
            tmp = REGISTRY.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps({str(p): list(v) for p, v in reserved.items()}))
            os.replace(tmp, REGISTRY)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _load() -> dict[int, tuple[int, float]]:
    try:
        data = json.loads(REGISTRY.read_text())
        return {int(p): (int(v[0]), float(v[1])) for p, v in data.items()}
    except (OSError, ValueError, TypeError, IndexError, AttributeError):
        return {}  # missing or damaged: start afresh (ports are also checked by binding)


def _live(reserved: dict[int, tuple[int, float]]) -> dict[int, tuple[int, float]]:
    now = time.time()
    return {p: (pid, t) for p, (pid, t) in reserved.items()
            if now - t < HOLD_S and _alive(pid)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
