"""The night's time budget: when chaos must stop, and a hard stop that cannot be missed.

The run is planned to end its chaos ``reserve_s`` before the budget (healing, the last
checks, the report and teardown fit in the reserve). Every wait inside the run is capped by
:meth:`Budget.cap`; should anything still be running at the hard deadline, a SIGALRM raises
:class:`BudgetExhausted` in the main thread wherever it is (also inside a sleep or a socket
read), which unwinds through the same heal-report-teardown path as any failure.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

UNITS = {"s": 1, "m": 60, "h": 3600}


class BudgetExhausted(BaseException):
    """The hard deadline passed; raised by the alarm in the main thread.

    A BaseException, so no ``except Exception`` in a workload or checker swallows it."""


def parse_duration(text: str) -> float:
    """``"30m"``, ``"90s"``, ``"2h"``, ``"1h30m"`` or a bare number of seconds."""
    if re.fullmatch(r"\d+(\.\d+)?", text.strip()):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smh])", text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower():
        raise ValueError(f"budget {text!r}: give a duration such as 30m, 90s, 2h or 1h30m")
    return sum(float(n) * UNITS[u] for n, u in parts)


@dataclass
class Budget:
    """The run's deadlines on the monotonic clock."""

    total_s: float
    reserve_s: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @classmethod
    def for_total(cls, total_s: float) -> Budget:
        """A budget whose reserve is a tenth of it, between 20 s and 90 s."""
        return cls(total_s, min(90.0, max(20.0, total_s / 10)))

    @property
    def elapsed(self) -> float:
        """Seconds since the run began."""
        return self.clock() - self.started

    def chaos_left(self) -> float:
        """Seconds until chaos must stop (never negative)."""
        return max(0.0, self.total_s - self.reserve_s - self.elapsed)

    def left(self) -> float:
        """Seconds until the hard deadline (never negative)."""
        return max(0.0, self.total_s - self.elapsed)

    def chaos_over(self) -> bool:
        """True once no more chaos may start."""
        return self.chaos_left() <= 0

    def cap(self, seconds: float, floor: float = 0.5) -> float:
        """``seconds``, shortened so a wait ends before the hard deadline's reserve half."""
        return max(floor, min(seconds, self.left() - self.reserve_s / 2))

    def arm(self) -> Callable[[], None]:
        """Start the hard-deadline alarm; returns the function that disarms it."""
        def expired(_signum: int, _frame: FrameType | None) -> None:
            raise BudgetExhausted(f"budget of {self.total_s:g}s exhausted")

        previous = signal.signal(signal.SIGALRM, expired)
        # The alarm leaves a quarter of the reserve to write the report and tear down.
        signal.setitimer(signal.ITIMER_REAL, max(0.1, self.left() - self.reserve_s / 4))

        def disarm() -> None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

        return disarm
