"""Byzantine replicas: with at most f faulty, honest replicas stay safe and live; with f+1
colluding (the negative control) the harness must see the violation.

A faulty replica is the reference node restarted with a behaviour of
``reference_system.consensus.byzantine`` (``prsm-ref node --byzantine MODE[:peers]``);
the checks judge only the honest replicas.
"""

from __future__ import annotations

import asyncio

import pytest

from prsm_validate import progress

pytestmark = [pytest.mark.byzantine, pytest.mark.requires("consensus", "byzantine")]
RECOVERY_BOUND_S = 20.0
NEGATIVE_ROUNDS = 3

# (behaviours joined by +, which replica misbehaves): the primary for what only a primary can
# show. ``forge`` fakes other replicas' votes: only signature checks stop it.
CASES = [
    ("equivocate:{backup}", "primary"), ("equivocate:{backup}+double-vote:{backup}", "primary"),
    ("equivocate:{backup}+forge:{backup}", "primary"), ("forge", "backup"),
    ("double-vote", "primary"),
    ("double-vote", "backup"), ("corrupt-sig", "primary"), ("corrupt-sig", "backup"),
    ("mutate-view", "backup"), ("mutate-seq", "primary"), ("mutate-digest", "backup"),
    ("silence", "primary"), ("silence:{backup}", "backup"), ("replay", "backup"),
]


def _index(name: str) -> int:
    return int(name.rsplit("-", 1)[1])


def _case_id(mode: str, role: str) -> str:
    return "+".join(part.split(":")[0] for part in mode.split("+")) + f"-{role}"


@pytest.mark.parametrize(("mode", "role"), CASES, ids=[_case_id(m, r) for m, r in CASES])
def test_f_byzantine_replicas_keep_the_honest_ones_safe_and_live(
        mode, role, prsm_cluster, prsm_nemesis, prsm_transfers, prsm_history,
        record_property):
    primary = prsm_nemesis.primary()
    backups = [n for n in prsm_cluster.names if n != primary]
    faulty = primary if role == "primary" else backups[0]
    specs = mode.format(backup=_index(backups[-1])).split("+")
    spec = "+".join(specs)
    honest = [n for n in prsm_cluster.names if n != faulty]
    before = prsm_cluster.settled_ledgers()
    with prsm_transfers(clients=4, timeout_s=5.0) as run:
        progress(run, 20, 20, "commits before the fault")
        with prsm_nemesis.byzantine(faulty, *specs):
            seconds = progress(run, 100, RECOVERY_BOUND_S,
                               f"100 commits with {faulty} running {spec}")
            run.finish()  # judge a complete history, while the faulty replica still runs
            verdict = prsm_cluster.safety(prsm_history.events, before, honest)
    record_property("byzantine", {"node": faulty, "behaviour": spec})
    record_property("commits_100_s", round(seconds, 3))
    record_property("safety", verdict.to_json())
    assert verdict, verdict.to_json()


def test_twins_do_not_break_safety(prsm_cluster, prsm_nemesis, prsm_transfers, prsm_history,
                                   record_property):
    backups = [n for n in prsm_cluster.names if n != prsm_nemesis.primary()]
    twin, sees_twin = backups[0], backups[1:2]
    honest = [n for n in prsm_cluster.names if n != twin]
    before = prsm_cluster.settled_ledgers()
    with prsm_transfers(clients=4, timeout_s=5.0) as run:
        progress(run, 20, 20, "commits before the twin starts")
        with prsm_nemesis.twins(twin, sees_twin):
            seconds = progress(run, 100, RECOVERY_BOUND_S, f"100 commits with {twin} twinned")
            run.finish()
            verdict = prsm_cluster.safety(prsm_history.events, before, honest)
    record_property("twins", {"node": twin, "twin_seen_by": sees_twin})
    record_property("commits_100_s", round(seconds, 3))
    record_property("safety", verdict.to_json())
    assert verdict, verdict.to_json()


@pytest.mark.requires("kill")
def test_negative_control_f_plus_1_colluders_are_caught(prsm_deployment, prsm_history,
                                                        record_property, tmp_path):
    """An equivocating primary and one colluding backup (f+1 = 2 of 4) build conflicting
    quorums; the agreement checker must report it. Run on a private cluster, so the
    session's system is not left diverged."""
    if prsm_deployment.kind != "local":
        pytest.skip(f"target {prsm_deployment.target!r}: the negative control starts its own "
                    "cluster on this machine (local target only)")
    from prsm_validate import NodeLog, check_agreement
    from reference_system.consensus.launch import LocalCluster

    colluders = {0: ["equivocate:2", "double-vote:2"], 3: ["double-vote:2"]}
    with LocalCluster(4, byzantine=colluders) as cluster:
        # The attack needs its conflicting quorums to complete; rounds repeat it (bounded) so
        # that one round the colluders happened not to finish does not pass for a miss.
        for round_ in range(1, NEGATIVE_ROUNDS + 1):
            asyncio.run(_transfers(cluster, prsm_history, 60, f"neg-{round_}"))
            logs = [NodeLog.from_json(f"node-{i}", cluster.get(i, "/log")) for i in (1, 2)]
            verdict = check_agreement(logs, ["node-1", "node-2"])
            if verdict.valid is False:
                break
        status = {f"node-{i}": cluster.get(i, "/status") for i in range(4)}
    record_property("negative_control", {**verdict.to_json(), "rounds": round_})
    assert verdict.valid is False, (f"f+1 colluders went unnoticed in {round_} rounds: "
                                    f"{verdict.to_json()}; nodes: {status}")
    assert verdict.witness["conflicting digests"], verdict.witness


async def _transfers(cluster, history, count: int, prefix: str) -> None:
    from reference_system.consensus.client import ConsensusClient

    client = ConsensusClient.from_files(cluster.files.config, cluster.files.client_keys)
    await client.start()
    try:
        await asyncio.gather(*(_one(client, history, f"{prefix}-{i}") for i in range(count)))
    finally:
        await client.close()


async def _one(client, history, op_id: str) -> None:
    op = {"op": "transfer", "id": op_id, "from": "treasury", "to": "alice", "amount": 1}
    process = history.new_process()
    with history.operation(process, "transfer", op) as recorder:
        try:
            result = await client.submit(op, timeout=3.0)
        except TimeoutError:
            return  # recorded as info: the colluders may well stall the honest replicas
        recorder.ok(result)
