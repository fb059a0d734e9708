"""The replicated state machine: ledger never overdraws, supply conserved, tasks ordered."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reference_system.consensus.messages import sha256_hex
from reference_system.consensus.state_machine import StateMachine

GENESIS = {"a": 10, "b": 5}

transfers = st.lists(st.fixed_dictionaries({
    "op": st.just("transfer"), "id": st.text(max_size=3),
    "from": st.sampled_from(["a", "b", "c"]), "to": st.sampled_from(["a", "b", "c"]),
    "amount": st.one_of(st.integers(-5, 20), st.floats(0, 5), st.booleans())}), max_size=30)


@given(transfers)
def test_transfers_conserve_supply_and_never_overdraw(ops: list[dict]) -> None:
    machine = StateMachine(GENESIS, ["w0"])
    for seq, op in enumerate(ops, 1):
        result = machine.apply(op, seq)
        assert result["id"] == op["id"]
        assert all(v >= 0 for v in machine.ledger.balances.values())
    assert machine.ledger.total_supply() == 15


def test_rejected_transfer_reports_error_and_changes_nothing() -> None:
    machine = StateMachine(GENESIS, ["w0"])
    result = machine.apply({"op": "transfer", "id": "x", "from": "b", "to": "a",
                            "amount": 6}, 1)
    assert result == {"id": "x", "ok": False, "error": "insufficient funds"}
    assert machine.ledger.balances == GENESIS


def test_task_assignment_is_derived_from_the_sequence() -> None:
    machine = StateMachine(GENESIS, ["w0", "w1", "w2"])
    first = machine.apply({"op": "task_submit", "id": "t1", "type": "x", "payload": {}}, 7)
    assert first["task"]["worker"] == "w1" and first["task"]["position"] == 0
    again = machine.apply({"op": "task_submit", "id": "t1", "type": "x", "payload": {}}, 8)
    assert again["ok"] is False
    assert machine.apply({"op": "task_get", "id": "t1"}, 9)["task"]["seq"] == 7


def test_snapshot_restore_gives_identical_digest() -> None:
    machine = StateMachine(GENESIS, ["w0"])
    machine.apply({"op": "transfer", "id": "1", "from": "a", "to": "z", "amount": 4}, 1)
    machine.replies["client"] = (3, {"ok": True})
    copy = StateMachine(GENESIS, ["w0"])
    copy.restore(machine.snapshot())
    assert sha256_hex(copy.snapshot()) == sha256_hex(machine.snapshot())
    assert copy.ledger.balances["z"] == 4


def test_a_transfer_id_applies_once_and_a_repeat_returns_the_first_outcome() -> None:
    machine = StateMachine({"a": 10, "b": 0}, ["w"])
    op = {"op": "transfer", "id": "t", "from": "a", "to": "b", "amount": 4}
    first, again = machine.apply(op, 1), machine.apply(op, 2)
    assert first["ok"] and again["ok"] and again["duplicate"] and "duplicate" not in first
    assert again["from_balance"] == first["from_balance"] == 6
    # The same id with another body (another amount, or another user's source) is a conflict:
    # refused, nothing moves, never reported as applied.
    for other in ({**op, "amount": 9}, {**op, "from": "b", "to": "a"}):
        conflict = machine.apply(other, 3)
        assert not conflict["ok"] and conflict["conflict"] and "duplicate" not in conflict
    assert machine.ledger.balances == {"a": 6, "b": 4}
    assert machine.apply({"op": "ledger", "id": "q"}, 4)["applied"] == ["t"]
    copy = StateMachine({"a": 10, "b": 0}, ["w"])
    copy.restore(machine.snapshot())
    assert copy.apply(op, 5)["duplicate"] is True
    assert copy.apply({**op, "amount": 9}, 6)["conflict"] is True


def test_a_refused_transfer_id_may_be_retried() -> None:
    machine = StateMachine({"a": 1, "b": 0, "c": 5}, ["w"])
    op = {"op": "transfer", "id": "t", "from": "a", "to": "b", "amount": 4}
    assert machine.apply(op, 1)["error"] == "insufficient funds"
    machine.apply({"op": "transfer", "id": "fund", "from": "c", "to": "a", "amount": 5}, 2)
    retried = machine.apply(op, 3)
    assert retried["ok"] and "duplicate" not in retried
    assert machine.ledger.applied == ["fund", "t"]


def _busy_machine(transfers: int) -> StateMachine:
    machine = StateMachine({"a": 1000, "b": 0}, ["w0", "w1"])
    for seq in range(1, transfers + 1):
        machine.apply({"op": "transfer", "id": f"t{seq}", "from": "a", "to": "b",
                       "amount": 1}, seq)
        machine.apply({"op": "task_submit", "id": f"k{seq}", "type": "x", "payload": {}}, seq)
        machine.replies[f"c{seq % 3}"] = (seq, {"ok": True})
    return machine


def test_a_mark_gives_the_snapshot_of_its_moment_after_the_state_moved_on() -> None:
    machine = _busy_machine(5)
    then, mark = machine.snapshot(), machine.mark()
    machine.apply({"op": "transfer", "id": "later", "from": "a", "to": "b", "amount": 9}, 6)
    machine.apply({"op": "task_submit", "id": "later", "type": "x", "payload": {}}, 6)
    machine.replies["c9"] = (6, {"ok": True})
    assert machine.snapshot_at(mark) == then
    assert machine.digest() != mark.digest
    copy = StateMachine({"a": 1000, "b": 0}, ["w0", "w1"])
    copy.restore(then)
    assert copy.digest() == mark.digest


def test_the_digest_covers_every_part_of_the_state() -> None:
    base = _busy_machine(3).digest()
    changed = [_busy_machine(3) for _ in range(4)]
    changed[0].ledger.balances["b"] += 1
    changed[1].replies["c0"] = (99, {"ok": True})
    changed[2].apply({"op": "transfer", "id": "x", "from": "a", "to": "b", "amount": 1}, 9)
    changed[3].apply({"op": "task_submit", "id": "x", "type": "x", "payload": {}}, 9)
    assert all(m.digest() != base for m in changed)
    assert _busy_machine(3).digest() == base


def test_restored_tasks_keep_submission_order() -> None:
    machine = StateMachine(GENESIS, ["w0"])
    for seq, task_id in enumerate(["z", "a", "m"], 1):
        machine.apply({"op": "task_submit", "id": task_id, "type": "x", "payload": {}}, seq)
    copy = StateMachine(GENESIS, ["w0"])
    copy.restore(machine.snapshot())
    assert list(copy.tasks.tasks) == ["z", "a", "m"]
    assert copy.digest() == machine.digest()
