"""A one-line progress bar for load runs: drawn in interactive terminals, silent in CI."""

from __future__ import annotations

import os
import sys
from typing import TextIO

WIDTH = 30


def wanted(stream: TextIO) -> bool:
    """True in an interactive terminal outside CI (``CI`` unset or false)."""
    in_ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return not in_ci and stream.isatty()


class Progress:
    """Redraws ``[#####.....] 3.0/10s 12345 requests`` in place; ``close`` ends the line."""

    def __init__(self, total_s: float, label: str, stream: TextIO | None = None,
                 enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.total_s, self.label = max(total_s, 1e-9), label
        self.enabled = wanted(self.stream) if enabled is None else enabled
        self.drawn = False

    def line(self, elapsed_s: float, requests: int) -> str:
        """The bar for ``elapsed_s`` and ``requests`` so far."""
        done = min(1.0, elapsed_s / self.total_s)
        bar = "#" * round(done * WIDTH) + "." * (WIDTH - round(done * WIDTH))
        return (f"{self.label} [{bar}] {elapsed_s:4.1f}/{self.total_s:g}s "
                f"{requests} requests ({requests / max(elapsed_s, 1e-9):.0f}/s)")

    def update(self, elapsed_s: float, requests: int) -> None:
        """Redraw the bar (nothing when disabled)."""
        if self.enabled:
            self.stream.write("\r" + self.line(elapsed_s, requests))
            self.stream.flush()
            self.drawn = True

    def close(self) -> None:
        """End the bar's line so later output starts on a new one."""
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn = False
