"""Open-model arrival schedules: when each request is meant to start (pure, no I/O).

A constant arrival rate is one stage; a ramping one is a list of stages, each moving the rate
linearly to its target over its duration (k6's ``ramping-arrival-rate``). Arrival ``k`` is due
when the expected number of arrivals since the start reaches ``k``; with several generator
processes, process ``i`` of ``n`` sends arrivals ``i, i+n, i+2n, ...`` so the combined schedule
is exactly the declared one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    """Move the arrival rate linearly to ``target_rate`` (requests/s) over ``duration_s``."""

    duration_s: float
    target_rate: float


def arrivals(start_rate: float, stages: Sequence[Stage]) -> Iterator[float]:
    """Intended start times, in seconds from the schedule's start, of every arrival."""
    begun, rate, index = 0.0, float(start_rate), 0  # stage start time, its rate, next arrival
    due = 0.0  # expected arrivals before this stage (fractional)
    for stage in stages:
        slope = (stage.target_rate - rate) / stage.duration_s if stage.duration_s else 0.0
        in_stage = rate * stage.duration_s + slope * stage.duration_s ** 2 / 2
        while index < due + in_stage:
            yield begun + _time_of(index - due, rate, slope)
            index += 1
        begun, rate, due = begun + stage.duration_s, stage.target_rate, due + in_stage


def _time_of(count: float, rate: float, slope: float) -> float:
    """When ``rate * t + slope * t**2 / 2`` reaches ``count``."""
    if abs(slope) < 1e-12:
        return count / rate if rate else 0.0
    return (-rate + math.sqrt(max(0.0, rate * rate + 2 * slope * count))) / slope


def share(start_rate: float, stages: Sequence[Stage], process: int, processes: int,
          limit: int) -> Iterator[float]:
    """Process ``process``'s part (every ``processes``-th arrival), at most ``limit`` of all."""
    for index, at in enumerate(arrivals(start_rate, stages)):
        if index >= limit:
            return
        if index % processes == process:
            yield at


def total(start_rate: float, stages: Sequence[Stage]) -> float:
    """The expected number of arrivals of the whole schedule."""
    count, rate = 0.0, float(start_rate)
    for stage in stages:
        count += (rate + stage.target_rate) / 2 * stage.duration_s
        rate = stage.target_rate
    return count
