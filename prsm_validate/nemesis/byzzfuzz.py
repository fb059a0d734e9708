"""Drive a ByzzFuzz schedule (:mod:`prsm_validate.generator.byzzfuzz`) on real node processes.

The Byzantine replica is restarted once with the schedule's behaviours (``--byzantine``
specs, each scoped to its rounds inside that node). The round-scoped partitions are applied on
the cluster's links while the cluster is in their rounds: the round is the highest view the
other replicas report on ``/status`` (the view they are in or voting for), read every
``poll_s``, never a clock. A cut is healed when the round moves past it, or at the latest
after ``hold_s`` (so a partition that leaves a quorum working, and hence no view change,
still ends) or after the replicas executed ``seqs_per_round`` sequence numbers since it began.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from prsm_validate.generator.byzzfuzz import ByzzSchedule, node_name


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
    seq_base: int = 0
    rounds: list[int] = field(default_factory=list)

    def round_and_seq(self) -> tuple[int, int]:
        statuses = [s for s in self.cluster.statuses(self.names).values() if s]
        view = max((s["view"] for s in statuses), default=-1)
        seq = max((s["last_executed"] for s in statuses), default=0)
        if view >= 0 and (not self.rounds or self.rounds[-1] != view):
            self.rounds.append(view)
        return view, seq


def base_view(cluster: Any) -> int:
    """The view the replicas agree on now (0 when none is agreed): schedule round 0."""
    return cluster.view() or 0


def run_cuts(nemesis: Any, cluster: Any, schedule: ByzzSchedule, max_s: float = 20.0,
             hold_s: float = 3.0, seqs_per_round: int = 40, poll_s: float = 0.05
             ) -> list[CutRecord]:
    """Apply ``schedule``'s partitions round by round (rounds already shifted to the cluster's
    views: :meth:`ByzzSchedule.shifted`); returns when every cut was applied and healed, or a
    cut's rounds were passed without it being seen, or after ``max_s``."""
    honest = [node_name(i) for i in range(schedule.n) if i != schedule.byzantine]
    observed = _Observed(cluster, honest)
    records: list[CutRecord] = []
    deadline = time.monotonic() + max_s
    for index, cut in enumerate(sorted(schedule.cuts, key=lambda c: c.first_round)):
        while time.monotonic() < deadline:
            view, _ = observed.round_and_seq()
            if view >= cut.first_round:
                break
            time.sleep(poll_s)
        view, seq = observed.round_and_seq()
        if view > cut.last_round or time.monotonic() >= deadline:
            records.append(CutRecord(index, view, view, 0.0, "its rounds had passed"))
            continue
        records.append(_hold(nemesis, cut, observed, index, view, seq, hold_s,
                             seqs_per_round, poll_s, deadline))
    return records


def _hold(nemesis: Any, cut: Any, observed: _Observed, index: int, view: int, seq: int,
          hold_s: float, seqs_per_round: int, poll_s: float, deadline: float) -> CutRecord:
    record = CutRecord(index, view)
    started = time.monotonic()
    grudge = cut.grudge(nemesis.nodes)
    with nemesis.partition("explicit", grudge={k: sorted(v) for k, v in grudge.items()}):
        while True:
            time.sleep(poll_s)
            now_view, now_seq = observed.round_and_seq()
            elapsed = time.monotonic() - started
            if now_view > cut.last_round:
                record.why = "the round moved past it"
            elif now_seq - seq >= seqs_per_round:
                record.why = f"{seqs_per_round} sequences executed"
            elif elapsed >= hold_s or time.monotonic() >= deadline:
                record.why = f"held {hold_s:g}s"
            else:
                continue
            record.healed_in_round, record.seconds = now_view, elapsed
            return record
