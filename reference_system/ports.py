"""Free TCP ports for servers that start a moment later (the kernel's choice: ``bind`` to port 0).

The ports are held together while chosen, so one call never returns a port twice. Choosing
from a fixed range at random instead was tried: two pytest-xdist workers then drew the same
port within one run, where the kernel's choice did not in any run seen.
"""

from __future__ import annotations

import socket


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct ports that were free a moment ago (held together while chosen)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()
