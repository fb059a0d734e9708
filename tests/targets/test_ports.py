"""Free ports: distinct within one call and bindable."""

from __future__ import annotations

import socket

from reference_system.ports import free_ports


def test_ports_are_distinct_and_bindable():
    chosen = free_ports(40)
    assert len(set(chosen)) == 40
    for port in chosen:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
