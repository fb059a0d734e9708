"""Liveness and recovery: after each fault heals, progress resumes within a bound.

Progress is a time series of ``(time_seconds, counter)`` samples, e.g. a node's last executed
sequence number polled from ``/status`` or the running count of ``ok`` completions in a history.
Recovery time of a fault = first time after its heal at which the counter exceeds its value at
the heal, minus the heal time. A fault whose observation ends before ``heal + bound`` without
progress is "unknown", never a pass; so is one interrupted by the next fault.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from prsm_validate.checker.ops import is_client
from prsm_validate.checker.verdict import Validity, Verdict, merge_validity
from prsm_validate.history import Event

NS = 1e9
Sample = tuple[float, float]


@dataclass(frozen=True)
class FaultWindow:
    """A fault in force from ``start`` until ``end`` (its heal), in seconds."""

    name: str
    start: float
    end: float


@dataclass(frozen=True)
class Recovery:
    """One fault's outcome: recovery time in seconds, or why it is not known / too slow."""

    fault: FaultWindow
    valid: Validity
    recovery_seconds: float | None
    note: str

    def to_json(self) -> dict[str, Any]:
        """JSON form for witnesses and reports."""
        return {"fault": self.fault.name, "start": self.fault.start, "heal": self.fault.end,
                "valid": self.valid, "recovery_seconds": self.recovery_seconds,
                "note": self.note}


def progress_from_history(events: Iterable[Event], f: str | None = None) -> list[Sample]:
    """(seconds, number of ok completions so far) at each ok completion (of ``f`` if given)."""
    samples, count = [], 0
    for event in events:
        if event.type == "ok" and is_client(event) and (f is None or event.f == f):
            count += 1
            samples.append((event.time / NS, float(count)))
    return samples


def faults_from_history(events: Iterable[Event]) -> list[FaultWindow]:
    """Fault windows from the nemesis's ``start``/``heal`` records in a history."""
    open_faults: dict[tuple[str, str], float] = {}
    windows = []
    for event in events:
        if is_client(event) or not isinstance(event.value, dict):
            continue
        key = (event.f, str(event.value.get("target")))
        if event.value.get("phase") == "start":
            open_faults[key] = event.time / NS
        elif event.value.get("phase") == "heal" and key in open_faults:
            windows.append(FaultWindow(f"{key[0]} {key[1]}", open_faults.pop(key),
                                       event.time / NS))
    return windows


def fault_windows(records: Iterable[Any]) -> list[FaultWindow]:
    """Fault windows from nemesis fault records (``kind``, ``target``, ``started``, ``ended``
    in monotonic seconds); a fault never healed gets an infinite end, so it stays unknown."""
    return [FaultWindow(f"{r.kind} {r.target}", r.started,
                        r.ended if r.ended is not None else float("inf")) for r in records]


def check_recovery(progress: Sequence[Sample], faults: Sequence[FaultWindow], bound: float,
                   observed_until: float | None = None) -> Verdict:
    """Each fault: progress within ``bound`` seconds after its heal; recovery times reported."""
    samples = sorted(progress)
    until = observed_until if observed_until is not None else (samples[-1][0] if samples
                                                                else 0.0)
    ordered = sorted(faults, key=lambda w: w.start)
    recoveries = [_recovery(fault, samples, bound, until, _next_start(ordered, i))
                  for i, fault in enumerate(ordered)]
    valid = merge_validity(r.valid for r in recoveries)
    times = [r.recovery_seconds for r in recoveries if r.recovery_seconds is not None]
    figures = {"faults": len(recoveries), "bound_seconds": bound,
               "max_recovery_seconds": max(times, default=None),
               "recoveries": [r.to_json() for r in recoveries]}
    bad = [r.to_json() for r in recoveries if r.valid is not True]
    reason = (f"progress resumed within {bound:g} s after all {len(recoveries)} faults"
              if valid is True else "; ".join(f"{r.fault.name}: {r.note}"
                                              for r in recoveries if r.valid is not True))
    return Verdict("recovery", valid, reason or "no faults", witness=bad or None,
                   figures=figures)


def _next_start(ordered: Sequence[FaultWindow], index: int) -> float | None:
    return ordered[index + 1].start if index + 1 < len(ordered) else None


def _recovery(fault: FaultWindow, samples: Sequence[Sample], bound: float, until: float,
              next_start: float | None) -> Recovery:
    at_heal = max((value for t, value in samples if t <= fault.end), default=float("-inf"))
    resumed = next((t for t, value in samples if t > fault.end and value > at_heal), None)
    if resumed is not None and resumed - fault.end <= bound:
        return Recovery(fault, True, resumed - fault.end, "recovered")
    if next_start is not None and next_start < fault.end + bound:
        # The next fault may be what stalls progress; this fault cannot be blamed or cleared.
        return Recovery(fault, "unknown", None,
                        "the next fault began before progress resumed or the bound passed")
    if resumed is not None:
        return Recovery(fault, False, resumed - fault.end,
                        f"progress resumed only after {resumed - fault.end:.3f} s")
    if until < fault.end + bound:
        return Recovery(fault, "unknown", None, f"observation ended {until - fault.end:.3f} s "
                        f"after the heal, before the {bound:g} s bound")
    return Recovery(fault, False, None, f"no progress within {bound:g} s of the heal")
