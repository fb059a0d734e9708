"""Hypothesis drives the cluster: transfers, crashes, pauses, partitions and slow links are
rules; agreement of the honest replicas is checked after every step and the ledgers at the end
of each run. A failing interleaving shrinks to a minimal one, printed by Hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from prsm_validate.nemesis.stateful import cluster_machine

pytestmark = [pytest.mark.partition, pytest.mark.chaos,
              pytest.mark.requires("consensus", "partition", "kill", "pause", "link_faults")]
RUNS, STEPS = 3, 10


def test_random_fault_interleavings_keep_the_cluster_safe(prsm_cluster, prsm_nemesis, prsm_api,
                                                          prsm_transfers):
    accounts = prsm_transfers(accounts=3).accounts  # funded; its clients are never started
    machine = cluster_machine(prsm_nemesis, prsm_cluster, prsm_api, accounts)
    run_state_machine_as_test(machine, settings=settings(
        max_examples=RUNS, stateful_step_count=STEPS, deadline=None, database=None,
        derandomize=True, suppress_health_check=list(HealthCheck)))
    assert prsm_nemesis.timeline, "the runs applied no fault at all"
