"""The PBFT cluster orders transfers: every replica commits the same log and the same ledger,
a retried transfer applies once, and a restarted cluster reaches consensus again within the
roadmap's 30 s with its ledger intact."""

from __future__ import annotations

import time

import pytest

from prsm_validate import assert_safe, eventually, progress

pytestmark = [pytest.mark.consensus, pytest.mark.requires("consensus")]


def test_transfers_commit_identically_on_every_replica(prsm_cluster, prsm_transfers,
                                                       prsm_history, record_property):
    before = prsm_cluster.settled_ledgers()
    with prsm_transfers(clients=4) as run:
        progress(run, 200, 30, "200 acknowledged transfers")
    assert_safe(prsm_cluster, prsm_history.events, before, record_property)


def test_a_retried_transfer_applies_exactly_once(prsm_api, prsm_cluster, prsm_deployment):
    user = prsm_deployment.credentials.username
    tag = time.monotonic_ns()
    account = f"{user}/retry-{tag}"
    body = {"id": f"retry-{tag}", "from": user, "to": account, "amount": 7}
    first, second = prsm_api.call("transfer", body), prsm_api.call("transfer", body)
    assert first.status == second.status == 200, (first.body, second.body)
    assert (first.body["duplicate"], second.body["duplicate"]) == (False, True)
    assert prsm_api.call("balance", account=account).body["balance"] == 7
    prsm_cluster.wait_caught_up(prsm_cluster.names, 10)
    for name, ledger in prsm_cluster.ledgers().items():
        assert ledger["applied"].count(body["id"]) == 1, name
        assert ledger["balances"][account] == 7, name


def test_invalid_transfers_are_refused_with_reasons(prsm_api, prsm_deployment):
    user = prsm_deployment.credentials.username
    cases = {
        "someone else's account": ({"from": "treasury", "to": user, "amount": 1}, 403),
        "more than the balance": ({"from": f"{user}/empty", "to": user, "amount": 5}, 409),
        "a zero amount": ({"to": f"{user}/x", "amount": 0}, 422),
        "a missing target": ({"amount": 3}, 422),
        "an unknown field": ({"to": f"{user}/x", "amount": 1, "memo": "x"}, 422),
    }
    for name, (body, status) in cases.items():
        response = prsm_api.call("transfer", body)
        assert response.status == status, (name, response.status, response.body)
        assert set(response.body) == {"error"} and response.body["error"]["message"], name


@pytest.mark.requires("restart")
def test_restarted_cluster_reaches_consensus_within_30s_with_ledger_intact(
        prsm_cluster, prsm_nemesis, prsm_api, prsm_deployment, record_property):
    user = prsm_deployment.credentials.username
    moved = prsm_api.call("transfer", {"to": f"{user}/persist", "amount": 3})
    assert moved.ok, moved.body
    before = prsm_cluster.settled_ledgers()
    started = time.monotonic()
    for name in prsm_cluster.names:  # all at once: every replica recovers from its own log
        prsm_nemesis.kill(name)
    for name in prsm_cluster.names:
        prsm_nemesis.start(name)
    response = eventually(lambda: _committed(prsm_api, user), 30,
                          what="a transfer committed after the whole cluster restarted")
    seconds = time.monotonic() - started
    record_property("consensus_after_restart_s", round(seconds, 3))
    assert seconds < 30
    after = prsm_cluster.settled_ledgers()
    for name, ledger in after.items():
        old = before[name]
        assert ledger is not None and old is not None, f"{name} did not catch up"
        assert ledger["applied"][:len(old["applied"])] == old["applied"], name
        assert len(ledger["applied"]) > len(old["applied"]), f"{name} lost the new transfer"
    assert response.body["duplicate"] is False


def _committed(api, user):
    response = api.call("transfer", {"to": f"{user}/persist", "amount": 1})
    return response if response.ok else None
