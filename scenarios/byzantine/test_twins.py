"""Twins schedules on the real node processes (Bano et al., OPODIS 2022): one replica's
identity run by two processes, honest code in both, and per view an arrangement of the
replicas and the two copies into groups that hear only within themselves. The replicas that
are not twinned must stay in agreement with correct ledgers, and commit again once the twin
has stopped.

The schedules are ones ``prsm-validate twins`` found violating a property of a planted
defect in the simulator; ``PRSM_TWINS='twins=1 @0=... net=N'`` runs one given schedule instead
(the replay line the search prints).
"""

from __future__ import annotations

import os

import pytest

from prsm_validate import parse_twins, progress, run_twins_rounds, twins_as_run

pytestmark = [pytest.mark.byzantine, pytest.mark.requires("consensus", "byzantine")]
RECOVERY_BOUND_S = 20.0

SCHEDULES = {
    # the primary's copies split: one alone, one with every backup (exactly-once across views)
    "primary-split": "twins=0 @0=0|0',1,2,3 @1=0,1,2,3|0' net=385792672",
    # a backup's copies on both sides of a three-way split, then of a two-way one (NEW-VIEW)
    "backup-three-way": "twins=2 @0=0,1,2'|2|3 @1=0,2|1,2'|3 net=1610819347",
    # the next primary's twin with two backups, the original with the primary (view change)
    "next-primary-split": "twins=1 @0=0,1|1',2,3 @1=0,1,2,3|1' net=432508404",
    # the primary alone, its twin with everyone, then a backup cut off with the twin
    "primary-then-backup": "twins=0 @0=0|0',1,2,3 @1=0,1,2|0',3 net=1436244341",
}
if os.environ.get("PRSM_TWINS"):
    SCHEDULES = {"replay": os.environ["PRSM_TWINS"]}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_twins_schedule_keeps_the_other_replicas_safe_and_live(
        name, prsm_cluster, prsm_nemesis, prsm_transfers, prsm_history, record_property):
    schedule = parse_twins(SCHEDULES[name], n=len(prsm_cluster.names))
    before = prsm_cluster.settled_ledgers()
    with prsm_transfers(clients=4, timeout_s=5.0) as run:
        progress(run, 5, 20, "commits before the twin starts")
        view = prsm_cluster.view() or 0
        node, rounds = twins_as_run(schedule, view)
        honest = [n for n in prsm_cluster.names if n != node]
        with prsm_nemesis.twins(node, ()):
            applied = run_twins_rounds(prsm_nemesis, prsm_cluster, schedule, view)
        seconds = progress(run, 30, RECOVERY_BOUND_S, "30 commits after the twin stopped")
        run.finish()
        verdict = prsm_cluster.safety(prsm_history.events, before, honest)
    record_property("twins", {"schedule": schedule.text(), "node": node,
                              "rounds_as_run": [r.to_json() for r in rounds],
                              "applied": [a.to_json() for a in applied]})
    record_property("commits_30_s", round(seconds, 3))
    record_property("safety", verdict.to_json())
    assert verdict, (f"{verdict.to_json()}\nreplay: PRSM_TWINS='{schedule.text()}' pytest "
                     "scenarios/byzantine/test_twins.py")
