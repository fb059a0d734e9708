"""The sans-IO replica stepped by hand: quorums, ordering, dedup, batching, GC, view change."""

from __future__ import annotations

from typing import Any

import pytest

from reference_system.consensus.byzantine import parse_spec
from reference_system.consensus.crypto import ClientMacs, FastKeyring, ReplicaMacs, sign_message
from reference_system.consensus.events import (
    Broadcast,
    Executed,
    Receive,
    Send,
    SendReply,
    TimerFired,
    ViewInstalled,
)
from reference_system.consensus.messages import (
    Fetch,
    Prepare,
    PrePrepare,
    Request,
    State,
    batch_digest,
)
from reference_system.consensus.replica import Replica, ReplicaParams
from reference_system.consensus.state_machine import StateMachine

SECRETS = {i: f"s{i}".encode() for i in range(4)}
MACS = {i: f"m{i}".encode() for i in range(4)}
CLIENT = ClientMacs(MACS)


class Cluster:
    """Four replicas and a FIFO network, delivering everything until quiet."""

    def __init__(self, **params: Any) -> None:
        self.params = ReplicaParams(n=4, **params)
        self.replicas = [Replica(i, self.params, FastKeyring(i, SECRETS), ReplicaMacs(i, MACS[i]),
                                 StateMachine({"a": 10, "b": 0}, ["w"])) for i in range(4)]
        self.outputs: dict[int, list[Any]] = {i: [] for i in range(4)}
        self.down: set[int] = set()
        self.queue: list[tuple[int, Any]] = []

    def step(self, i: int, event: Any) -> list[Any]:
        out = self.replicas[i].step(event)
        self.outputs[i].extend(out)
        for o in out:
            if isinstance(o, Send):
                self.queue.append((o.to, o.message))
            elif isinstance(o, Broadcast):
                self.queue.extend((r, o.message) for r in range(4) if r != i)
        return out

    def run(self) -> None:
        while self.queue:
            to, message = self.queue.pop(0)
            if to not in self.down:
                self.step(to, Receive(message))

    def of(self, i: int, kind: type) -> list[Any]:
        return [o for o in self.outputs[i] if isinstance(o, kind)]


def request(ts: int, amount: int = 1, client: str = "c") -> Request:
    op = {"op": "transfer", "id": f"{client}{ts}", "from": "a", "to": "b", "amount": amount}
    return CLIENT.authenticate(Request(client, ts, op))


def test_one_request_executes_everywhere_with_a_reply_from_each() -> None:
    cluster = Cluster()
    cluster.step(0, Receive(request(1)))
    cluster.run()
    for i in range(4):
        assert [e.seq for e in cluster.of(i, Executed)] == [1]
        replies = cluster.of(i, SendReply)
        assert len(replies) == 1 and replies[0].reply.result["ok"] is True
        assert CLIENT.reply_ok(replies[0].reply)


def test_prepared_needs_2f_matching_prepares_from_backups() -> None:
    cluster = Cluster()
    primary, backup = cluster.replicas[0], 1
    batch = (request(1),)
    pp = sign_message(PrePrepare(0, 1, batch_digest(batch), 0, batch), primary.keyring)
    cluster.step(backup, Receive(pp))  # backup logs pp and its own prepare: 1 of 2f
    wrong = sign_message(Prepare(0, 1, "other", 2), FastKeyring(2, SECRETS))
    assert not [o for o in cluster.step(backup, Receive(wrong)) if isinstance(o, Broadcast)]
    right = sign_message(Prepare(0, 1, pp.digest, 2), FastKeyring(2, SECRETS))
    out = cluster.step(backup, Receive(right))
    assert [type(o.message).__name__ for o in out if isinstance(o, Broadcast)] == ["Commit"]


def test_prepare_from_the_primary_does_not_count() -> None:
    cluster = Cluster()
    batch = (request(1),)
    pp = sign_message(PrePrepare(0, 1, batch_digest(batch), 0, batch), FastKeyring(0, SECRETS))
    cluster.step(1, Receive(pp))
    bogus = sign_message(Prepare(0, 1, pp.digest, 0), FastKeyring(0, SECRETS))
    assert not [o for o in cluster.step(1, Receive(bogus)) if isinstance(o, Broadcast)]


def test_conflicting_pre_prepare_for_the_same_slot_is_ignored() -> None:
    cluster = Cluster()
    key = FastKeyring(0, SECRETS)
    first, second = (request(1),), (request(2),)
    cluster.step(1, Receive(sign_message(PrePrepare(0, 1, batch_digest(first), 0, first), key)))
    out = cluster.step(1, Receive(sign_message(
        PrePrepare(0, 1, batch_digest(second), 0, second), key)))
    assert out == []


def test_retransmitted_request_executes_once_and_gets_the_cached_reply() -> None:
    cluster = Cluster()
    cluster.step(0, Receive(request(1, amount=4)))
    cluster.run()
    for i in range(4):
        out = cluster.step(i, Receive(request(1, amount=4)))
        assert [type(o) for o in out] == [SendReply]
    cluster.run()
    assert all(len(cluster.of(i, Executed)) == 1 for i in range(4))
    assert cluster.replicas[2].machine.ledger.balances == {"a": 6, "b": 4}


def test_requests_arriving_during_a_round_are_batched() -> None:
    cluster = Cluster(max_inflight=1)
    for ts in range(1, 6):
        cluster.step(0, Receive(request(ts, client=f"k{ts}")))
    cluster.run()
    sizes = [len(e.batch) for e in cluster.of(3, Executed)]
    assert sizes == [1, 4]


def test_stable_checkpoint_collects_the_log_and_moves_the_watermarks() -> None:
    cluster = Cluster(checkpoint_interval=2, max_inflight=1)
    for ts in range(1, 6):
        cluster.step(0, Receive(request(ts, client=f"k{ts}")))
        cluster.run()
    replica = cluster.replicas[1]
    assert replica.last_executed == 5 and replica.stable_seq == 4
    log = replica.state.log
    assert all(seq > 4 for _, seq in log.slots) and all(s > 4 for s in log.committed)
    status = replica.status()
    assert (status["low_watermark"], status["high_watermark"]) == (4, 8)
    far = (request(9, client="far"),)
    late = sign_message(PrePrepare(0, 9, batch_digest(far), 0, far), FastKeyring(0, SECRETS))
    assert not [o for o in cluster.step(1, Receive(late)) if isinstance(o, Broadcast)]


def test_state_transfer_installs_only_the_certified_bytes() -> None:
    cluster = Cluster(checkpoint_interval=2, max_inflight=1)
    cluster.down.add(3)
    for ts in range(1, 5):
        cluster.step(0, Receive(request(ts, client=f"k{ts}")))
        cluster.run()
    lagging, helper = cluster.replicas[3], cluster.replicas[1]
    assert helper.stable_seq == 4 and lagging.last_executed == 0
    fetch = sign_message(Fetch(1, 0, 3), FastKeyring(3, SECRETS))
    honest = next(o.message for o in helper.step(Receive(fetch)) if isinstance(o, Send))
    assert isinstance(honest, State) and honest.snapshot is not None
    forged = honest.snapshot.replace(b'"b":4', b'"b":5')
    assert forged != honest.snapshot
    lagging.step(Receive(State(4, forged, honest.checkpoint_proof, (), None, 1)))
    assert lagging.last_executed == 0
    lagging.step(Receive(honest))
    assert lagging.last_executed == 4 and lagging.machine.ledger.balances == {"a": 6, "b": 4}
    assert lagging.machine.digest() == helper.machine.digest()


def test_silent_primary_is_replaced_and_the_request_still_executes() -> None:
    cluster = Cluster()
    cluster.down.add(0)
    for i in (1, 2, 3):  # the client's broadcast after its own timeout
        cluster.step(i, Receive(request(1)))
    cluster.run()
    for i in (1, 2, 3):
        cluster.step(i, TimerFired("view_change"))
    cluster.run()
    for i in (1, 2, 3):
        assert cluster.of(i, ViewInstalled) == [ViewInstalled(1)]
        assert [e.seq for e in cluster.of(i, Executed)] == [1]
        assert cluster.replicas[i].primary == 1


def test_byzantine_spec_parsing() -> None:
    spec = parse_spec("silence:1,2")
    assert spec.mode == "silence" and spec.applies_to(2) and not spec.applies_to(3)
    assert parse_spec("replay").applies_to(3)
    with pytest.raises(ValueError, match="unknown byzantine mode"):
        parse_spec("explode")


def test_backups_that_disagree_on_the_primary_relay_a_request_only_once() -> None:
    cluster = Cluster()
    cluster.replicas[1].view = 2  # replica 1 takes 2 for the primary, and 2 takes 1
    cluster.replicas[2].view = 1
    for i in (1, 2):
        cluster.step(i, Receive(request(1)))
    relays = 0
    for _ in range(100):  # without the rule they relay it to each other forever
        if not cluster.queue:
            break
        to, message = cluster.queue.pop(0)
        relays += isinstance(message, Request)
        if to not in (0, 3):  # only the two backups: the loop is between them
            cluster.step(to, Receive(message))
    assert not cluster.queue and relays <= 2


def test_a_lone_view_change_vote_is_retransmitted_not_escalated() -> None:
    cluster = Cluster()
    lone = cluster.replicas[3]
    cluster.step(3, Receive(request(1)))
    cluster.queue.clear()  # the relay to the primary is lost; 3 is cut off
    cluster.step(3, TimerFired("view_change"))
    assert lone.view == 1 and not lone.view_active
    for _ in range(3):  # without 2f+1 votes for view 1, it keeps voting for view 1
        cluster.queue.clear()
        out = cluster.step(3, TimerFired("view_change"))
        votes = [o.message for o in out if isinstance(o, Broadcast)]
        assert [(type(v).__name__, v.view) for v in votes] == [("ViewChange", 1)]
        assert lone.view == 1


def test_a_quorum_whose_new_primary_is_silent_moves_on_to_the_next_view() -> None:
    cluster = Cluster()
    cluster.down.update({0, 1})  # view 0's primary and view 1's are silent
    for i in (2, 3):
        cluster.step(i, Receive(request(1)))
    cluster.run()
    for i in (2, 3):
        cluster.step(i, TimerFired("view_change"))
    cluster.run()
    cluster.down.discard(0)  # 0 is back and times out too: 0, 2, 3 vote for view 1
    cluster.step(0, Receive(request(1)))
    cluster.run()
    cluster.step(0, TimerFired("view_change"))
    cluster.run()
    assert [cluster.replicas[i].view for i in (0, 2, 3)] == [1, 1, 1]
    for i in (2, 3, 0):  # view 1's primary (1) never answers: 2 and 3 know 2f+1 voted
        cluster.step(i, TimerFired("view_change"))
    cluster.run()
    for i in (0, 2, 3):
        assert cluster.replicas[i].view == 2 and cluster.replicas[i].view_active
    assert [e.seq for e in cluster.of(2, Executed)] == [1]


def test_a_vote_for_an_installed_view_is_answered_with_its_new_view() -> None:
    cluster = Cluster()
    cluster.down.update({0, 3})
    for i in (1, 2):
        cluster.step(i, Receive(request(1)))
    cluster.run()
    cluster.down.discard(3)
    cluster.step(3, Receive(request(1)))
    cluster.run()
    for i in (1, 2, 3):
        cluster.step(i, TimerFired("view_change"))
    cluster.down.add(3)  # 3 misses the NEW-VIEW of view 1
    cluster.run()
    assert cluster.replicas[1].view_active and not cluster.replicas[3].view_active
    cluster.down.discard(3)
    cluster.step(3, TimerFired("view_change"))  # 3 votes again; 1 and 2 answer
    cluster.run()
    assert cluster.replicas[3].view == 1 and cluster.replicas[3].view_active


def test_a_fellow_voter_is_sent_the_vote_it_missed_once() -> None:
    cluster = Cluster()
    cluster.step(3, Receive(request(1)))
    cluster.step(3, TimerFired("view_change"))
    cluster.queue.clear()  # 3 voted for view 1 while cut off: nobody got its vote
    cluster.step(1, Receive(request(1)))
    cluster.queue.clear()
    cluster.step(1, TimerFired("view_change"))  # 1 votes for view 1 too, later
    vote_from_1 = next(o.message for o in cluster.outputs[1] if isinstance(o, Broadcast)
                       and type(o.message).__name__ == "ViewChange")
    answers = [o for o in cluster.step(3, Receive(vote_from_1)) if isinstance(o, Send)]
    assert [(a.to, type(a.message).__name__, a.message.replica) for a in answers] == [
        (1, "ViewChange", 3)]
    assert not [o for o in cluster.step(3, Receive(vote_from_1)) if isinstance(o, Send)]
