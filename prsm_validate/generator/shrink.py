"""Shrinking a failing input by delta debugging: the smallest fault list that still fails.

:func:`ddmin` is Zeller and Hildebrandt's minimising delta debugging ("Simplifying and
Isolating Failure-Inducing Input", IEEE TSE 2002) over any sequence: it tests subsets and
complements of ever finer partitions, keeps whichever still fails, and ends with a
1-minimal list (removing any one element makes the failure go away) or when its time or test
budget is spent, returning the smallest failing list found so far. Outcomes are cached by
subset, so no subset runs twice. A test may answer ``None`` (could not tell: the run did not
finish, a checker said unknown): that counts as "does not fail", as in Zeller's "unresolved".

Nothing random happens here: the same answers give the same tests in the same order, so a
shrink is reproducible from the seed of what it tests. :func:`shrink_schedule` applies it to
a :class:`~prsm_validate.generator.schedule.Schedule`'s faults, with each candidate schedule
made by :func:`sub_schedule` (the chosen faults, idle time between them shortened).

Written by hand: the algorithm is a page, and the libraries that ship it (e.g. picire) bring
their own test-runner model around it; the harness needs a plain function over live runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from prsm_validate.generator.schedule import Fault, Schedule

T = TypeVar("T")
Outcome = bool | None  # True: still fails; False: passes; None: could not tell


@dataclass
class ShrinkResult(Generic[T]):
    """What a shrink found: the minimal failing list (as indices into the original too)."""

    original: tuple[T, ...]
    minimal: tuple[T, ...]
    indices: tuple[int, ...]
    tests: int
    elapsed_s: float
    complete: bool  # True: 1-minimal; False: the budget ran out first
    trace: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain-data form for reports (elements must be JSON-safe or have ``to_json``)."""
        def plain(item: Any) -> Any:
            return item.to_json() if hasattr(item, "to_json") else item

        return {"original": [plain(i) for i in self.original],
                "minimal": [plain(i) for i in self.minimal], "indices": list(self.indices),
                "tests": self.tests, "elapsed_s": round(self.elapsed_s, 3),
                "complete": self.complete, "trace": self.trace}


class _Budget:
    def __init__(self, seconds: float, max_tests: int | None, clock: Callable[[], float]):
        self.clock, self.deadline, self.max_tests = clock, clock() + seconds, max_tests

    def spent(self, tests: int) -> bool:
        return self.clock() >= self.deadline or (self.max_tests is not None
                                                 and tests >= self.max_tests)


def ddmin(items: Sequence[T], fails: Callable[[Sequence[T]], Outcome], budget_s: float,
          max_tests: int | None = None, clock: Callable[[], float] = time.monotonic,
          known_failing: bool = True) -> ShrinkResult[T]:
    """Minimise ``items`` so that ``fails(subset)`` stays True, within ``budget_s`` seconds
    (and ``max_tests`` calls). ``items`` itself is taken to fail unless ``known_failing`` is
    False, in which case it is tested first (and returned unchanged if it does not fail)."""
    started = clock()
    budget = _Budget(budget_s, max_tests, clock)
    cache: dict[tuple[int, ...], Outcome] = {}
    trace: list[dict[str, Any]] = []

    def test(indices: tuple[int, ...]) -> Outcome:
        if indices not in cache:
            cache[indices] = fails([items[i] for i in indices])
            trace.append({"indices": list(indices), "fails": cache[indices],
                          "at_s": round(clock() - started, 3)})
        return cache[indices]

    current = tuple(range(len(items)))
    if not known_failing and test(current) is not True:
        return _result(items, current, len(cache), clock() - started, True, trace)
    current, complete = _reduce(current, test, budget, lambda: len(cache))
    return _result(items, current, len(cache), clock() - started, complete, trace)


def _reduce(current: tuple[int, ...], test: Callable[[tuple[int, ...]], Outcome],
            budget: _Budget, tests: Callable[[], int]) -> tuple[tuple[int, ...], bool]:
    """The ddmin loop over index tuples; returns the smallest failing tuple and whether it is
    1-minimal."""
    granularity = 2
    while len(current) >= 2:
        chunks = _split(current, granularity)
        # A failing chunk restarts at 2 parts; a failing complement keeps the finer split.
        candidates = [(chunk, 2) for chunk in chunks]
        if granularity > 2:  # with two parts the complements are the chunks themselves
            candidates += [(_without(current, c), granularity - 1) for c in chunks]
        reduced = False
        for candidate, next_granularity in candidates:
            if budget.spent(tests()):
                return current, False
            if test(candidate) is True:
                current, granularity, reduced = candidate, next_granularity, True
                break
        if not reduced:
            if granularity >= len(current):
                return current, True
            granularity = min(len(current), granularity * 2)
    if len(current) == 1 and not budget.spent(tests()) and test(()) is True:
        return (), True  # the failure needs no fault at all
    return current, True


def _split(indices: tuple[int, ...], parts: int) -> list[tuple[int, ...]]:
    """``indices`` in ``parts`` contiguous chunks of near-equal size."""
    size, extra = divmod(len(indices), parts)
    chunks, at = [], 0
    for part in range(parts):
        length = size + (1 if part < extra else 0)
        chunks.append(indices[at:at + length])
        at += length
    return [c for c in chunks if c]


def _without(indices: tuple[int, ...], chunk: tuple[int, ...]) -> tuple[int, ...]:
    drop = set(chunk)
    return tuple(i for i in indices if i not in drop)


def _result(items: Sequence[T], indices: tuple[int, ...], tests: int, elapsed: float,
            complete: bool, trace: list[dict[str, Any]]) -> ShrinkResult[T]:
    return ShrinkResult(tuple(items), tuple(items[i] for i in indices), indices, tests,
                        elapsed, complete, trace)


# ---- fault schedules ---------------------------------------------------------------------


def sub_schedule(schedule: Schedule, indices: Sequence[int], lead_s: float | None = None,
                 max_gap_s: float | None = None) -> Schedule:
    """The schedule with only the faults at ``indices``; quiet stretches are shortened so the
    candidate runs in less time: the first fault starts after ``lead_s`` and groups of
    overlapping faults are at most ``max_gap_s`` apart (defaults: the config's min gap and
    max gap). Faults that overlapped still overlap, so "at most f down" holds as before."""
    config = schedule.config
    lead = config.min_gap if lead_s is None else lead_s
    gap = config.max_gap if max_gap_s is None else max_gap_s
    chosen = sorted((schedule.faults[i] for i in indices), key=lambda f: (f.start, f.end))
    moved: list[Fault] = []
    shift, group_end = 0.0, None
    for fault in chosen:
        if group_end is None:
            shift = fault.start - lead
        elif fault.start > group_end:  # a new group: close the quiet stretch before it
            shift += max(0.0, fault.start - group_end - gap)
        moved.append(replace(fault, start=round(fault.start - shift, 3)))
        group_end = fault.end if group_end is None else max(group_end, fault.end)
    duration = max([f.end for f in moved], default=0.0) + lead
    return replace(schedule, faults=tuple(moved),
                   duration=round(min(schedule.duration, duration), 3))


def shrink_schedule(schedule: Schedule, fails: Callable[[Schedule], Outcome], budget_s: float,
                    max_tests: int | None = None, clock: Callable[[], float] = time.monotonic
                    ) -> tuple[Schedule, ShrinkResult[Fault]]:
    """Delta debugging over a failing schedule's faults: returns the minimal schedule found
    (made by :func:`sub_schedule`) and the shrink's account (``indices`` refer to
    ``schedule.faults``, so ``--faults`` of a replay line can name them)."""
    order = {id(fault): index for index, fault in enumerate(schedule.faults)}

    def candidate(faults: Sequence[Fault]) -> Schedule:
        return sub_schedule(schedule, sorted(order[id(f)] for f in faults))

    result = ddmin(schedule.faults, lambda faults: fails(candidate(faults)), budget_s,
                   max_tests, clock)
    return candidate(result.minimal), result
