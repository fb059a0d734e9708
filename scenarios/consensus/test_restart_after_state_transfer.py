"""A replica that caught up by state transfer keeps that state across its next restart: cut
off from its peers, so that nothing can be transferred again, it recovers everything it had
executed from its own durable log (the installed snapshot, then what it executed after it),
and once the partition heals it holds the same ledger as the others."""

from __future__ import annotations

import pytest

from prsm_validate import eventually, progress

pytestmark = [pytest.mark.consensus,
              pytest.mark.requires("consensus", "kill", "restart", "partition", "wipe")]
BOUND_S = 30.0


def _same_ledger(cluster, victim: str, others: list[str]):
    ledgers = cluster.ledgers([victim, *others])
    reference = ledgers[others[0]]
    if reference is None or ledgers[victim] is None:
        return None
    keys = ("balances", "applied")
    return all(ledgers[victim][k] == reference[k] for k in keys) and ledgers


@pytest.mark.requires("wipe")
def test_a_replica_restarted_after_a_state_transfer_recovers_the_transferred_state(
        prsm_cluster, prsm_nemesis, prsm_transfers):
    primary = prsm_nemesis.primary()
    victim = next(name for name in prsm_cluster.names if name != primary)
    others = [name for name in prsm_cluster.names if name != victim]
    with prsm_transfers(clients=4) as run:
        progress(run, 300, 30, "commits past a stable checkpoint")
        prsm_nemesis.wipe(victim)
        prsm_cluster.wait_caught_up([victim], BOUND_S)
        progress(run, 20, 20, "commits after the state transfer")
    prsm_cluster.wait_caught_up(prsm_cluster.names, BOUND_S)
    installs = (prsm_cluster.get(victim, "/log") or {}).get("installs") or []
    assert installs, f"{victim} caught up without a state transfer: nothing to recover"
    installed = installs[-1]["seq"]  # long durable: 20 commits and a catch-up ago
    with prsm_nemesis.partition("isolate", node=victim):
        prsm_nemesis.kill(victim)
        prsm_nemesis.start(victim)
        status = eventually(lambda: prsm_cluster.status(victim), BOUND_S,
                            what=f"{victim} to answer /status after its restart")
        assert status["last_executed"] >= installed, (
            f"{victim} recovered up to {status['last_executed']}, short of the state it had "
            f"installed at {installed}", status)
    prsm_cluster.wait_caught_up([victim], BOUND_S)
    eventually(lambda: _same_ledger(prsm_cluster, victim, others), BOUND_S,
               what=f"{victim}'s ledger after its restart to equal the others'")
