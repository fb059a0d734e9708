"""Without a quorum: with f+1 replicas down the cluster cannot order anything. ``/health``
names consensus "down" (and "up" again once they are back; the redis/postgres half of "health
reflects a stopped dependency" is in ``scenarios/integration/test_health_metrics.py``), and a
transfer answers 503 "unavailable" (outcome unknown), which retried with the same id after
the recovery applies exactly once."""

from __future__ import annotations

import uuid
from contextlib import ExitStack

import pytest

from prsm_validate import eventually

pytestmark = [pytest.mark.consensus, pytest.mark.requires("consensus", "kill", "restart")]
BOUND_S = 30.0


def _consensus_status(client) -> str | None:
    response = client.call("health")
    components = response.body.get("components") if isinstance(response.body, dict) else None
    return ((components or {}).get("consensus") or {}).get("status")


def test_health_reports_consensus_down_without_a_quorum_and_up_after(
        prsm_client, prsm_cluster, prsm_nemesis, prsm_api, prsm_deployment):
    client = prsm_client(timeout_s=15)
    if _consensus_status(client) is None:
        pytest.skip("this target's /health does not report a consensus component")
    eventually(lambda: _consensus_status(client) == "up", BOUND_S,
               what="consensus up before the fault")
    f = (len(prsm_cluster.names) - 1) // 3
    primary = prsm_nemesis.primary()
    victims = [name for name in prsm_cluster.names if name != primary][: f + 1]
    user = prsm_deployment.credentials.username
    tag = uuid.uuid4().hex[:12]
    transfer = {"id": f"no-quorum-{tag}", "to": f"{user}/no-quorum-{tag}", "amount": 3}
    with ExitStack() as faults:
        for victim in victims:
            faults.enter_context(prsm_nemesis.killed(victim))
        eventually(lambda: _consensus_status(client) == "down", BOUND_S,
                   what=f"health to report consensus down with {', '.join(victims)} killed")
        unknown = prsm_api.call("transfer", transfer)
        assert unknown.status == 503, (unknown.status, unknown.body)
        assert unknown.body["error"]["code"] == "unavailable", unknown.body
    eventually(lambda: _consensus_status(client) == "up", BOUND_S,
               what="health to report consensus up after the replicas returned")
    prsm_cluster.wait_caught_up(victims, BOUND_S)
    retried = eventually(lambda: (r := prsm_api.call("transfer", transfer)).ok and r, BOUND_S,
                         what="the retried transfer to be answered")
    assert retried.body["id"] == transfer["id"], retried.body
    balance = prsm_api.call("balance", account=transfer["to"])
    assert balance.body["balance"] == transfer["amount"], (balance.body, retried.body)
