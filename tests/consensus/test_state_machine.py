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
