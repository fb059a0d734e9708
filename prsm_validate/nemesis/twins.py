"""Drive a Twins schedule (:mod:`prsm_validate.generator.twins`) on real node processes.

The twin runs while the schedule does (:meth:`~prsm_validate.nemesis.core.Nemesis.twins`,
nobody redirected to it at first); each round's arrangement is put in force by
:meth:`~prsm_validate.nemesis.core.Nemesis.twins_round` while the other replicas report that
round on ``/status`` (the round driver of :mod:`prsm_validate.nemesis.byzzfuzz`), so rounds
are observed, never timed. Round 0 is the view the cluster is in when the schedule starts, and
replica indices rotate with it, so "the primary of round 0" stays the primary.
"""

from __future__ import annotations

from typing import Any

from prsm_validate.generator.byzzfuzz import node_name
from prsm_validate.generator.schedule import RoundPartition
from prsm_validate.generator.twins import TwinsSchedule, identity
from prsm_validate.nemesis.byzzfuzz import CutRecord, run_rounds


def as_run(schedule: TwinsSchedule, view: int) -> tuple[str, tuple[RoundPartition, ...]]:
    """The twinned replica and the schedule's rounds for a cluster now in ``view``: round r
    is view ``view + r``, process ``I`` is ``node-((I + view) mod n)`` and ``I'`` its twin
    (``node-K-twin``)."""
    def name(process: str) -> str:
        base = node_name((identity(process) + view) % schedule.n)
        return base if process == str(identity(process)) else f"{base}-twin"

    rounds = tuple(RoundPartition(r.first_round + view, r.last_round + view,
                                  tuple(tuple(map(name, g)) for g in r.blocks))
                   for r in schedule.partitions())
    return name(str(schedule.twins[0])), rounds


def run_twins_rounds(nemesis: Any, cluster: Any, schedule: TwinsSchedule, view: int,
                     max_s: float = 30.0, hold_s: float = 3.0,
                     poll_s: float = 0.05) -> list[CutRecord]:
    """Put each round's arrangement in force while the cluster is in it (``nemesis.twins``
    already running for the twinned replica); returns what was applied when."""
    if len(schedule.twins) != 1:
        raise ValueError(f"real processes run one twin at a time; {schedule.text()!r} has "
                         f"{len(schedule.twins)}")
    node, rounds = as_run(schedule, view)
    watched = [n for n in cluster.names if n != node]

    def apply(cut: RoundPartition) -> Any:
        return nemesis.twins_round(node, cut.blocks)

    return run_rounds(cluster, watched, rounds, apply, max_s, hold_s, poll_s)
