"""ByzzFuzz schedules on the real node processes: one Byzantine replica's small-scope
mutations in chosen views to chosen receivers, combined with partitions that hold for chosen
rounds (views, as the replicas report them on ``/status``). With at most f faulty, the honest
replicas must stay in agreement with correct ledgers, and commit again after the last fault.

The schedules are the ones ``prsm-validate byzzfuzz`` found violating properties of planted
defects in the simulator; ``PRSM_BYZZFUZZ='byz=1 ... net=N'`` runs one given schedule instead
(the replay line the search prints).
"""

from __future__ import annotations

import os

import pytest

from prsm_validate import byzzfuzz_base_rounds, parse_byzzfuzz, progress, run_byzzfuzz_cuts

pytestmark = [pytest.mark.byzantine, pytest.mark.requires("consensus", "byzantine")]
RECOVERY_BOUND_S = 20.0

SCHEDULES = {
    # found by the simulator on the NEW-VIEW quorum defect; reproduces on processes
    "vc-quorum": "byz=0 mutate-state:1@1-2 double-vote@2 cut@0-1=0|1,2|3 net=354085881",
    # a view change (the primary cut off) with the Byzantine backup's certificate dropped
    "isolate-primary": "byz=3 drop-cert mutate-digest:1 cut@0=0|1,2,3 net=1",
    # a view change after a checkpoint the Byzantine backup lied about
    "checkpoint": "byz=3 mutate-checkpoint cut@s70-400=0|1,2,3 net=2",
    # the next primary left behind a checkpoint, caught up by state transfer, then in charge
    "dedup": "byz=3 drop-cert cut@0=1|0,2,3 cut@0=0|1,2,3 net=4",
    # a replica that hears only the Byzantine primary: left behind, it can catch up only
    # from the primary's (lying) STATE replies
    "catch-up": "byz=0 mutate-state deaf@0=3<1,2 net=3",
    "snapshot": "byz=0 mutate-snapshot deaf@0=3<1,2 net=5",
    # the same left-behind replica, told entries whose batch is not the one their certified
    # digest names (a request left out)
    "catch-up-batch": "byz=0 mutate-batch deaf@0=3<1,2 net=3",
    # ... told entries certified by the Byzantine primary's one COMMIT repeated 2f+1 times
    "catch-up-forged": "byz=0 forge-cert deaf@0=3<1,2 net=3",
    # ... sent a snapshot whose CHECKPOINT proof is the primary's one CHECKPOINT repeated
    "snapshot-forged": "byz=0 forge-proof deaf@0=3<1,2 net=5",
}
if os.environ.get("PRSM_BYZZFUZZ"):
    SCHEDULES = {"replay": os.environ["PRSM_BYZZFUZZ"]}


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_byzzfuzz_schedule_keeps_honest_replicas_safe_and_live(
        name, prsm_cluster, prsm_nemesis, prsm_transfers, prsm_history, record_property):
    schedule = parse_byzzfuzz(SCHEDULES[name], n=len(prsm_cluster.names))
    view, seq = byzzfuzz_base_rounds(prsm_cluster)
    # Roles follow the view agreed now; restarting the primary as the Byzantine node usually
    # costs one view change, so its rounds start one view later.
    faulty = prsm_cluster.names[(schedule.byzantine + view) % schedule.n]
    restarts_primary = faulty == prsm_cluster.primary()
    planned = schedule.shifted(view + restarts_primary, seq, rotation=view)
    honest = [n for n in prsm_cluster.names if n != faulty]
    before = prsm_cluster.settled_ledgers()
    with prsm_transfers(clients=4, timeout_s=5.0) as run:
        progress(run, 5, 20, "commits before the schedule")
        with prsm_nemesis.byzantine(faulty, *planned.specs):
            progress(run, 5, 20, "commits with the Byzantine node running")
            # Round 0 of the partitions is the view the cluster settled in after the restart.
            now, seq = byzzfuzz_base_rounds(prsm_cluster)
            shifted = schedule.shifted(now, seq, rotation=view)
            cuts = run_byzzfuzz_cuts(prsm_nemesis, prsm_cluster, shifted)
            seconds = progress(run, 30, RECOVERY_BOUND_S, "30 commits after the last cut")
            run.finish()
            verdict = prsm_cluster.safety(prsm_history.events, before, honest)
    record_property("byzzfuzz", {"schedule": schedule.text(), "specs": planned.specs,
                                 "as_run": shifted.text(),
                                 "cuts": [c.to_json() for c in cuts]})
    record_property("commits_30_s", round(seconds, 3))
    record_property("safety", verdict.to_json())
    assert verdict, (f"{verdict.to_json()}\nreplay: PRSM_BYZZFUZZ='{schedule.text()}' pytest "
                     "scenarios/byzantine/test_byzzfuzz.py")
