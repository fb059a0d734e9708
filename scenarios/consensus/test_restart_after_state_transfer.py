"""A replica that caught up by state transfer keeps that state across its next restart: cut
off from its peers, so that nothing can be transferred again, it recovers everything it had
executed from its own durable log (the installed snapshot, then what it executed after it),
and once the partition heals it holds the same ledger as the others."""

from __future__ import annotations

import pytest

from prsm_validate.client.workload import progress
from prsm_validate.waiting import eventually

pytestmark = [pytest.mark.consensus,
              pytest.mark.requires("consensus", "kill", "restart", "partition")]
BOUND_S = 30.0


def _same_ledger(cluster, victim: str, others: list[str]):
    ledgers = cluster.ledgers([victim, *others])
    reference = ledgers[others[0]]
    if reference is None or ledgers[victim] is None:
        return None
    keys = ("balances", "applied")
    return all(ledgers[victim][k] == reference[k] for k in keys) and ledgers


def test_a_replica_restarted_after_a_state_transfer_recovers_the_transferred_state(
        prsm_cluster, prsm_nemesis, prsm_control, prsm_transfers, prsm_deployment):
    if not hasattr(prsm_control, "wipe_node"):
        pytest.skip(f"target {prsm_deployment.target!r} cannot wipe a replica's durable log")
    primary = prsm_nemesis.primary()
    victim = next(name for name in prsm_cluster.names if name != primary)
    others = [name for name in prsm_cluster.names if name != victim]
    with prsm_transfers(clients=4) as run:
        progress(run, 100, 30, "commits past a stable checkpoint (every 32)")
        prsm_control.wipe_node(victim)
        prsm_cluster.wait_caught_up([victim], BOUND_S)
        progress(run, 20, 20, "commits after the state transfer")
    prsm_cluster.wait_caught_up(prsm_cluster.names, BOUND_S)
    status = prsm_cluster.status(victim)
    assert status is not None and status["stable_checkpoint"] > 0, status
    executed = prsm_cluster.last_executed([victim])[victim]
    with prsm_nemesis.partition("isolate", node=victim):
        prsm_control.kill(victim)
        prsm_control.restart(victim)
        status = eventually(lambda: prsm_cluster.status(victim), BOUND_S,
                            what=f"{victim} to answer /status after its restart")
        assert status["last_executed"] >= executed, (
            f"{victim} recovered up to {status['last_executed']} of the {executed} it had "
            f"executed before the restart", status)
    prsm_cluster.wait_caught_up([victim], BOUND_S)
    eventually(lambda: _same_ledger(prsm_cluster, victim, others), BOUND_S,
               what=f"{victim}'s ledger after its restart to equal the others'")
