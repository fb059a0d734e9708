"""The API drains before it stops: /health says so first, then uvicorn shuts down."""

from __future__ import annotations

import signal
import time
from types import SimpleNamespace

import uvicorn

from reference_system.api.serve import DrainingServer


def _server(drain_s: float) -> tuple[DrainingServer, SimpleNamespace]:
    state = SimpleNamespace()
    return DrainingServer(uvicorn.Config(app=None), state, drain_s), state


def test_first_signal_drains_then_exits():
    server, state = _server(0.2)
    server.handle_exit(signal.SIGTERM, None)
    assert state.draining and not server.should_exit  # still serving, health says draining
    deadline = time.monotonic() + 5
    while not server.should_exit and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.should_exit


def test_a_second_signal_or_no_drain_exits_at_once():
    server, state = _server(30)
    server.handle_exit(signal.SIGTERM, None)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit
    server, state = _server(0)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit and not state.draining
