"""Serving the API: uvicorn, draining before it stops.

On SIGTERM or SIGINT the API first drains: for ``drain_s`` seconds ``GET /health`` answers
503 ``{"status": "draining"}`` with ``X-Draining: true`` while every request is still served,
so a load balancer probing it (a Kubernetes readiness probe, the local target's gateway) stops
sending it new connections; then uvicorn's graceful shutdown runs. Without the drain, a
connection the balancer opened just before the listening socket closed is reset unanswered
(seen by the rolling-deploy drill). A second signal during the drain stops at once.
"""

from __future__ import annotations

import threading
from types import FrameType
from typing import Any

import uvicorn


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain period before its graceful shutdown."""

    def __init__(self, config: uvicorn.Config, state: Any, drain_s: float) -> None:
        super().__init__(config)
        self.state = state
        self.drain_s = drain_s
        state.draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: drain, then exit; a second one (or no drain period): exit now."""
        if self.drain_s <= 0 or self.state.draining:
            super().handle_exit(sig, frame)
            return
        self.state.draining = True
        timer = threading.Timer(self.drain_s, super().handle_exit, (sig, frame))
        timer.daemon = True
        timer.start()
