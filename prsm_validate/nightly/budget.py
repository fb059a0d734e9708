"""The night's time budget: when chaos must stop, and a hard stop that cannot be missed.

The run is planned to end its chaos ``reserve_s`` before the budget; the last checks of the
last trial may take 40 % of the reserve (every wait inside the run is capped by
:meth:`Budget.cap` to end then), and the last half is for healing, the report and teardown.
Should anything still be running when that half begins, a SIGALRM raises
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
    def for_total(cls, total_s: float, since_process_start: bool = False) -> Budget:
        """A budget whose reserve is an eighth of it, between 25 s and 120 s; counted from
        when this process started (its interpreter start-up and imports are spent too), or
        from now."""
        budget = cls(total_s, min(120.0, max(25.0, total_s / 8)))
        if since_process_start:
            import psutil

            spent = max(0.0, time.time() - psutil.Process().create_time())
            budget.started -= spent
        return budget

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
        """``seconds``, shortened so a wait ends 60 % of the reserve before the deadline."""
        return max(floor, min(seconds, self.left() - self.reserve_s * 0.6))

    def arm(self) -> Callable[[], None]:
        """Start the hard-deadline alarm; returns the function that disarms it."""
        def expired(_signum: int, _frame: FrameType | None) -> None:
            raise BudgetExhausted(f"budget of {self.total_s:g}s exhausted")

        previous = signal.signal(signal.SIGALRM, expired)
        # The alarm leaves half the reserve to heal, write the report and tear down.
        signal.setitimer(signal.ITIMER_REAL, max(0.1, self.left() - self.reserve_s / 2))

        def disarm() -> None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

        return disarm
