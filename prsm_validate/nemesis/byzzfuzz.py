"""Drive a ByzzFuzz schedule (:mod:`prsm_validate.generator.byzzfuzz`) on real node processes.

The Byzantine replica is restarted once with the schedule's behaviours (``--byzantine``
specs, each scoped to its rounds inside that node). The round-scoped partitions are applied on
the cluster's links while the cluster is in their rounds: the round is the highest view the
other replicas report on ``/status`` (the view they are in or voting for) that at least f+1
of them reached, or for a cut
scoped by sequence (``cut@sA-B``) the highest sequence number they executed, read every
``poll_s``, never a clock. A cut is healed when the round moves past it, or at the latest after
``hold_s`` (so a partition that leaves a quorum working, and hence no view change, still ends).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from prsm_validate.generator.byzzfuzz import ByzzSchedule, RoundDeafness, node_name
from prsm_validate.generator.schedule import RoundPartition


@dataclass
class CutRecord:
    """When one round-scoped partition was in force (rounds as observed)."""

    index: int
    applied_in_round: int
    healed_in_round: int = -1
    seconds: float = 0.0
    why: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain data for the run report."""
        return {"cut": self.index, "applied_in_round": self.applied_in_round,
                "healed_in_round": self.healed_in_round, "seconds": round(self.seconds, 2),
                "healed_because": self.why}


@dataclass
class _Observed:
    cluster: Any
    names: list[str]

    def rounds(self) -> tuple[int, int]:
        """The view at least f+1 of the replicas have reached (one stray voter, say a
        replica a cut left alone, does not move the round) and the highest last executed
        sequence they report."""
        statuses = [s for s in self.cluster.statuses(self.names).values() if s]
        views = sorted((s["view"] for s in statuses), reverse=True)
        f = (len(self.names)) // 3  # the other replicas: n - 1 of them, f = (n - 1) // 3
        view = views[min(f, len(views) - 1)] if views else -1
        return view, max((s["last_executed"] for s in statuses), default=0)


def _round(cut: RoundPartition | RoundDeafness, rounds: tuple[int, int]) -> int:
    return rounds[1] if cut.axis == "seq" else rounds[0]


def base_rounds(cluster: Any) -> tuple[int, int]:
    """Schedule round 0: the view the replicas agree on now (0 when none is agreed) and the
    highest sequence number they executed."""
    executed = [s for s in cluster.last_executed().values() if s is not None]
    return cluster.view() or 0, max(executed, default=0)


def run_cuts(nemesis: Any, cluster: Any, schedule: ByzzSchedule, max_s: float = 30.0,
             hold_s: float = 3.0, poll_s: float = 0.05) -> list[CutRecord]:
    """Apply ``schedule``'s partitions in order, each while the cluster is in its rounds
    (rounds already shifted to the cluster's: :meth:`ByzzSchedule.shifted`); a cut whose
    rounds passed before it began is skipped. Returns after the last cut, or ``max_s``."""
    def apply(cut: RoundPartition | RoundDeafness) -> Any:
        grudge = cut.grudge(nemesis.nodes)
        return nemesis.partition("explicit", grudge={k: sorted(v) for k, v in grudge.items()})

    watched = [node_name(i) for i in range(schedule.n) if i != schedule.byzantine]
    return run_rounds(cluster, watched, schedule.cuts, apply, max_s, hold_s, poll_s)


def run_rounds(cluster: Any, watched: list[str],
               cuts: Sequence[RoundPartition | RoundDeafness],
               apply: Callable[[Any], AbstractContextManager[Any]], max_s: float = 30.0,
               hold_s: float = 3.0, poll_s: float = 0.05) -> list[CutRecord]:
    """Apply each of ``cuts`` (``apply(cut)`` puts it in force as a context) while the
    replicas ``watched`` report its rounds, in order; the shared round driver of ByzzFuzz
    and Twins schedules on real processes."""
    observed = _Observed(cluster, watched)
    records: list[CutRecord] = []
    deadline = time.monotonic() + max_s
    for index, cut in enumerate(cuts):
        rounds = observed.rounds()
        while _round(cut, rounds) < cut.first_round and time.monotonic() < deadline:
            time.sleep(poll_s)
            rounds = observed.rounds()
        now = _round(cut, rounds)
        if now > cut.last_round or time.monotonic() >= deadline:
            records.append(CutRecord(index, now, now, 0.0, "its rounds had passed"))
            continue
        records.append(_hold(apply(cut), cut, observed, index, now, min(
            hold_s, deadline - time.monotonic()), poll_s))
    return records


def _hold(fault: AbstractContextManager[Any], cut: RoundPartition | RoundDeafness,
          observed: _Observed, index: int, now: int, hold_s: float, poll_s: float
          ) -> CutRecord:
    record = CutRecord(index, now)
    started = time.monotonic()
    with fault:
        while True:
            time.sleep(poll_s)
            current = _round(cut, observed.rounds())
            elapsed = time.monotonic() - started
            if current > cut.last_round:
                record.why = "its rounds passed"
            elif elapsed >= hold_s:
                record.why = f"held {hold_s:g}s"
            else:
                continue
            record.healed_in_round, record.seconds = current, elapsed
            return record
