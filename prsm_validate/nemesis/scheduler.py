"""Carry out a seeded fault :class:`~prsm_validate.generator.schedule.Schedule` on a target.

Each fault of the schedule starts at its offset from the moment :func:`run_schedule` begins
and is healed at its end, through the :class:`~prsm_validate.nemesis.core.Nemesis` (so every
fault is recorded in the test's history and in ``faults.json``). Whatever is in force when the
schedule stops early (an error, Ctrl-C) is healed before the error propagates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prsm_validate.generator.schedule import PRIMARY, Fault, Schedule
from prsm_validate.nemesis.core import ActiveFault, Nemesis

PRIMARY_WAIT_S = 15.0  # an earlier fault may have left a view change under way


def resolve_targets(nemesis: Nemesis, targets: tuple[str, ...]) -> tuple[str, ...]:
    """Node names for a fault's targets: :data:`PRIMARY` becomes the primary of the moment
    (once f+1 replicas agree on one)."""
    return tuple(nemesis.primary(PRIMARY_WAIT_S) if target == PRIMARY else target
                 for target in targets)


def apply_fault(nemesis: Nemesis, fault: Fault) -> list[ActiveFault]:
    """Start one fault now; returns what to heal at its end (nothing for a restart)."""
    kind, params = fault.kind, fault.params
    targets = resolve_targets(nemesis, fault.targets)
    if kind == "restart":
        for target in targets:
            nemesis.restart(target)
        return []
    if kind in ("kill", "pause"):
        start = nemesis.kill if kind == "kill" else nemesis.pause
        return [ActiveFault(nemesis, start(target)) for target in targets]
    if kind == "partition":
        if params.get("shape") == "isolate-primary":
            return [nemesis.partition("isolate-primary", list(fault_nodes(fault)))]
        return [nemesis.partition("explicit", list(params["grudge"]), grudge=params["grudge"])]
    if kind == "cut":
        return [ActiveFault(nemesis, nemesis.cut(*targets))]
    return [_link_fault(nemesis, kind, targets, params)]


def fault_nodes(fault: Fault) -> tuple[str, ...]:
    """The nodes a partition fault's grudge names."""
    return tuple(fault.params.get("grudge") or fault.targets)


def _link_fault(nemesis: Nemesis, kind: str, targets: tuple[str, ...],
                params: dict[str, Any]) -> ActiveFault:
    link = nemesis.link(*targets)
    if kind == "latency":
        return link.latency(params["latency_ms"], params.get("jitter_ms", 0))
    if kind == "bandwidth":
        return link.bandwidth(params["rate_kb_s"])
    if kind == "blackhole-link":
        return link.blackhole()
    if kind == "reset-link":
        return link.reset_peer()
    raise ValueError(f"fault kind {kind!r} has no executor")


def run_schedule(nemesis: Nemesis, schedule: Schedule,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep,
                 should_stop: Callable[[], bool] = lambda: False) -> int:
    """Start and heal every fault of ``schedule`` at its time; returns the faults applied."""
    steps = sorted([(f.start, 1, i) for i, f in enumerate(schedule.faults)]
                   + [(f.end, 0, i) for i, f in enumerate(schedule.faults)])
    began, active, applied = clock(), dict[int, list[ActiveFault]](), 0
    try:
        for at, starting, index in steps:  # heals (0) sort before starts (1) at one moment
            if should_stop():
                break
            sleep(max(0.0, began + at - clock()))
            if starting:
                active[index] = apply_fault(nemesis, schedule.faults[index])
                applied += 1
            else:
                for fault in active.pop(index, []):
                    fault.heal()
    finally:
        for faults in active.values():
            for fault in faults:
                fault.heal()
    return applied
