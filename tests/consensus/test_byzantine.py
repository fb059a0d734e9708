"""Byzantine lies in catch-up replies: each passes every check but the one it targets, and the
honest replica rejects it and still catches up from an honest reply."""

from __future__ import annotations

from reference_system.consensus.byzantine import ByzantineReplica, parse_spec
from reference_system.consensus.certs import checkpoint_proof_ok, distinct_valid
from reference_system.consensus.crypto import FastKeyring, sign_message, verify_message
from reference_system.consensus.events import Receive, Send
from reference_system.consensus.messages import Fetch, State, batch_digest
from reference_system.consensus.recovery import restored
from tests.consensus.test_replica import SECRETS, Cluster, request


def _lagging_cluster(requests: int, **params: object) -> Cluster:
    """Replica 3 missed ``requests`` single-request batches the others executed."""
    cluster = Cluster(max_inflight=1, **params)
    cluster.down.add(3)
    for ts in range(1, requests + 1):
        cluster.step(0, Receive(request(ts, client=f"k{ts}")))
        cluster.run()
    return cluster


def _state_reply(cluster: Cluster, helper: int, spec: str | None = None) -> State:
    """What replica ``helper`` (lying by ``spec`` when given) answers replica 3's fetch."""
    fetch = sign_message(Fetch(1, 0, 3), FastKeyring(3, SECRETS))
    replica = cluster.replicas[helper]
    node = ByzantineReplica(replica, [parse_spec(spec)]) if spec else replica
    return next(o.message for o in node.step(Receive(fetch))
                if isinstance(o, Send) and isinstance(o.message, State))


def test_mutate_batch_keeps_digest_and_certificate_but_not_the_batch() -> None:
    cluster = _lagging_cluster(3)
    honest, lie = _state_reply(cluster, 1), _state_reply(cluster, 1, "mutate-batch")
    assert [e.pre_prepare.seq for e in lie.entries] == [1, 2, 3]
    keyring = cluster.replicas[3].keyring
    for told, true in zip(lie.entries, honest.entries, strict=True):
        pp = told.pre_prepare
        assert pp.digest == true.pre_prepare.digest and told.commits == true.commits
        assert pp.batch == true.pre_prepare.batch[:-1] and batch_digest(pp.batch) != pp.digest
        # Only the batch-hash check stands between the lie and execution.
        matching = [c for c in told.commits if (c.view, c.seq, c.digest) == (
            pp.view, pp.seq, pp.digest)]
        assert len(distinct_valid(matching, keyring, set(range(4)))) >= 3
    lagging = cluster.replicas[3]
    lagging.step(Receive(lie))
    assert lagging.last_executed == 0 and lagging.machine.ledger.balances == {"a": 10, "b": 0}
    lagging.step(Receive(honest))
    assert lagging.last_executed == 3 and lagging.machine.ledger.balances == {"a": 7, "b": 3}


def test_mutate_batch_leaves_other_messages_alone() -> None:
    cluster = Cluster()
    liar = ByzantineReplica(cluster.replicas[0], [parse_spec("mutate-batch")])
    out = liar.step(Receive(request(1)))
    assert [type(o.message).__name__ for o in out] == ["PrePrepare"] * 3
    assert all(o.message.batch and o.message.digest == batch_digest(o.message.batch)
               for o in out)


def test_forge_cert_repeats_one_commit_to_reach_the_quorum() -> None:
    cluster = _lagging_cluster(3)
    honest, lie = _state_reply(cluster, 0), _state_reply(cluster, 0, "forge-cert")
    keyring = cluster.replicas[3].keyring
    for told, true in zip(lie.entries, honest.entries, strict=True):
        pp = told.pre_prepare
        assert pp.digest == batch_digest(pp.batch) != true.pre_prepare.digest
        assert verify_message(pp, keyring)  # the Byzantine primary re-signed its proposal
        assert len(told.commits) == 3 and {c.replica for c in told.commits} == {0}
        assert all(verify_message(c, keyring) and c.digest == pp.digest for c in told.commits)
        # Counted without distinct senders, the forged certificate is a quorum.
        assert len(distinct_valid(told.commits, keyring, set(range(4)))) == 1
    lagging = cluster.replicas[3]
    lagging.step(Receive(lie))
    assert lagging.last_executed == 0
    lagging.step(Receive(honest))
    assert lagging.last_executed == 3 and lagging.machine.ledger.balances == {"a": 7, "b": 3}


def test_forge_proof_repeats_one_checkpoint_for_a_forged_snapshot() -> None:
    cluster = _lagging_cluster(4, checkpoint_interval=2)
    honest, lie = _state_reply(cluster, 1), _state_reply(cluster, 1, "forge-proof")
    assert honest.snapshot is not None and lie.snapshot not in (None, honest.snapshot)
    lagging = cluster.replicas[3]
    forged = restored(lagging.state, lie.snapshot)
    assert forged is not None and forged.ledger.balances == {"a": 7, "b": 4}
    keyring = lagging.keyring
    assert len(lie.checkpoint_proof) == 3 and {c.replica for c in lie.checkpoint_proof} == {1}
    assert all(verify_message(c, keyring) and (c.seq, c.state_digest) == (4, forged.digest())
               for c in lie.checkpoint_proof)
    assert not checkpoint_proof_ok(4, forged.digest(), lie.checkpoint_proof, keyring, 4, 1)
    lagging.step(Receive(lie))
    assert lagging.last_executed == 0 and lagging.stable_seq == 0
    lagging.step(Receive(honest))
    assert lagging.last_executed == 4 and lagging.machine.ledger.balances == {"a": 6, "b": 4}
