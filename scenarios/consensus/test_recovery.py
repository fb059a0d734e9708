"""Automatic recovery: the cluster keeps committing with one replica down, a restarted or
wiped replica catches up (state transfer), and a failed primary is replaced by a view change
after which commits resume. Every run ends with the safety check of all replicas."""

from __future__ import annotations

import time

import pytest

from prsm_validate import assert_safe, eventually, progress

pytestmark = [pytest.mark.consensus, pytest.mark.requires("consensus", "kill", "restart")]
VIEW_CHANGE_BOUND_S = 15.0


def _backup(cluster, nemesis) -> str:
    primary = nemesis.primary()
    return next(name for name in cluster.names if name != primary)


def _view_change(cluster, primary: str, old_view: int) -> float:
    """Seconds until f+1 replicas other than ``primary`` are active in a later view."""
    started = time.monotonic()
    eventually(lambda: (cluster.view(exclude=[primary]) or -1) > old_view,
               VIEW_CHANGE_BOUND_S, what=f"a view change away from {primary}")
    return time.monotonic() - started


def test_one_backup_killed_under_load_then_caught_up(prsm_cluster, prsm_nemesis,
                                                     prsm_transfers, prsm_history,
                                                     record_property):
    before = prsm_cluster.settled_ledgers()
    victim = _backup(prsm_cluster, prsm_nemesis)
    with prsm_transfers(clients=4) as run:
        progress(run, 50, 20, "commits before the fault")
        with prsm_nemesis.killed(victim):
            down = progress(run, 200, 20, f"200 commits with {victim} down")
        started = time.monotonic()
        prsm_cluster.wait_caught_up([victim], 30)
        record_property("catch_up_s", round(time.monotonic() - started, 3))
        record_property("commits_with_one_down_s", round(down, 3))
        progress(run, 50, 20, "commits after the restart")
    assert_safe(prsm_cluster, prsm_history.events, before, record_property)


@pytest.mark.parametrize("fault", ["kill", "pause"])
def test_primary_fails_view_change_then_commits_resume(fault, prsm_cluster, prsm_nemesis,
                                                       prsm_transfers, prsm_history,
                                                       record_property):
    before = prsm_cluster.settled_ledgers()
    primary = prsm_nemesis.primary()
    old_view = prsm_cluster.view()
    failed = prsm_nemesis.killed if fault == "kill" else prsm_nemesis.paused
    with prsm_transfers(clients=4) as run:
        progress(run, 50, 20, "commits before the fault")
        with failed(primary):
            seconds = _view_change(prsm_cluster, primary, old_view)
            resumed = progress(run, 100, 20, "100 commits in the new view")
        record_property("view_change_s", round(seconds, 3))
        record_property("commits_resumed_s", round(resumed, 3))
        prsm_cluster.wait_caught_up([primary], 30)
        progress(run, 50, 20, f"commits after the old primary returned ({fault})")
    assert_safe(prsm_cluster, prsm_history.events, before, record_property)


@pytest.mark.requires("wipe")
def test_wiped_replica_recovers_by_state_transfer(prsm_cluster, prsm_nemesis, prsm_transfers,
                                                  prsm_history, record_property):
    before = prsm_cluster.settled_ledgers()
    victim = _backup(prsm_cluster, prsm_nemesis)
    with prsm_transfers(clients=4) as run:
        progress(run, 300, 30, "commits past a stable checkpoint")
        prsm_nemesis.wipe(victim)
        started = time.monotonic()
        prsm_cluster.wait_caught_up([victim], 30)
        record_property("state_transfer_s", round(time.monotonic() - started, 3))
        progress(run, 50, 20, "commits after the wiped replica returned")
    status = prsm_cluster.status(victim)
    assert status is not None and status["stable_checkpoint"] > 0, status
    # The wiped replica's ledger restarts from the transferred snapshot: judge the others.
    honest = [n for n in prsm_cluster.names if n != victim]
    verdict = prsm_cluster.safety(prsm_history.events, before, honest)
    record_property("safety", verdict.to_json())
    assert verdict, verdict.to_json()
    agreement = prsm_cluster.safety(prsm_history.events, prsm_cluster.ledgers())
    assert agreement.figures["checks"][0]["valid"] is True, agreement.to_json()
