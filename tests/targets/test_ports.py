"""Free ports: distinct, bindable, outside the ephemeral range, never drawn twice at once."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from reference_system.ports import free_ports, port_range


def test_ports_are_distinct_and_bindable():
    chosen = free_ports(40)
    assert len(set(chosen)) == 40
    for port in chosen:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_ports_come_from_below_the_ephemeral_range():
    first, last = port_range()
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    assert last < low and all(first <= p <= last for p in free_ports(20))


def test_concurrent_choosers_never_draw_the_same_port():
    # Each chooser stays alive until all have chosen (a dead chooser's ports are free again).
    script = ("import json, sys; from reference_system.ports import free_ports; "
              "print(json.dumps(free_ports(150)), flush=True); sys.stdin.read()")
    procs = [subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(4)]
    drawn = [json.loads(p.stdout.readline()) for p in procs]
    for proc in procs:
        proc.communicate(timeout=60)
    every = [port for ports in drawn for port in ports]
    assert len(every) == 600 and len(set(every)) == 600


def test_a_damaged_registry_is_started_afresh(monkeypatch, tmp_path):
    from reference_system import ports

    registry = tmp_path / "prsm-ports.json"
    registry.write_text("{not json")
    monkeypatch.setattr(ports, "REGISTRY", registry)
    assert len(set(free_ports(5))) == 5
    assert len(json.loads(registry.read_text())) == 5
