"""Randomised, seeded fault schedules during a transfer workload (Jepsen-style nemesis).

Each iteration draws a schedule from ``--prsm-seed`` (kills, pauses, restarts, partition
shapes, link latency, bandwidth, blackholes and resets; never more than f replicas down at
once), runs it against the cluster while clients transfer, heals everything, and checks that
commits resume within a bound and that safety held. A failing run prints the replay line; the
schedule itself is in the report.
"""

from __future__ import annotations

import pytest

from prsm_validate import (
    FaultWindow,
    ScheduleConfig,
    check_recovery,
    derive_seed,
    faults_from_history,
    generate_schedule,
    progress,
    progress_from_history,
    run_schedule,
)

pytestmark = [pytest.mark.partition, pytest.mark.chaos,
              pytest.mark.requires("consensus", "partition", "kill", "pause", "link_faults")]
ITERATIONS, DURATION_S, RECOVERY_BOUND_S = 3, 8.0, 15.0
CONFIG = ScheduleConfig(min_duration=0.5, max_duration=2.5, min_gap=0.3, max_gap=1.5)


@pytest.mark.parametrize("iteration", range(ITERATIONS))
def test_seeded_fault_schedule(iteration, prsm_seed, prsm_cluster, prsm_nemesis,
                               prsm_transfers, prsm_history, record_property):
    schedule = generate_schedule(derive_seed(prsm_seed, "schedule", iteration),
                                 prsm_cluster.names, DURATION_S, CONFIG)
    record_property("schedule", schedule.to_json())
    record_property("schedule_lines", schedule.describe())
    before = prsm_cluster.settled_ledgers()
    with prsm_transfers(clients=4, timeout_s=3.0) as run:
        progress(run, 20, 20, "commits before the schedule")
        applied = run_schedule(prsm_nemesis, schedule)
        progress(run, 50, RECOVERY_BOUND_S, "50 commits after the schedule healed")
    events = prsm_history.events
    windows = faults_from_history(events)
    record_property("faults_applied", applied)
    verdict = prsm_cluster.safety(events, before)
    record_property("safety", verdict.to_json())
    assert verdict, verdict.to_json()
    if windows:  # the schedule as one fault: commits must resume after its last heal
        span = FaultWindow("schedule", min(w.start for w in windows),
                           max(w.end for w in windows))
        recovery = check_recovery(progress_from_history(events, "transfer"), [span],
                                  RECOVERY_BOUND_S)
        record_property("recovery", recovery.to_json())
        assert recovery, recovery.to_json()
