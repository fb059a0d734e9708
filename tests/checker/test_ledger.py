"""Ledger checker: conservation, no negative balances, exactly-once acknowledged transfers."""

from __future__ import annotations

from prsm_validate.checker import LedgerState, Transfer, check_ledger, transfers_from_history
from tests.checker.build import op, sequential

GENESIS = {"alice": 100, "bob": 50}
TRANSFERS = [Transfer("t1", "alice", "bob", 30, "ok"), Transfer("t2", "bob", "alice", 10, "ok"),
             Transfer("t3", "alice", "bob", 5, "info"), Transfer("t4", "bob", "alice", 1, "fail")]


def state(balances: dict[str, int], applied: list[str], **extra: object) -> LedgerState:
    return LedgerState(150, balances, applied, genesis_balances=GENESIS, **extra)  # type: ignore[arg-type]


def test_consistent_ledger_is_valid_with_or_without_the_unknown_transfer() -> None:
    without = check_ledger(TRANSFERS, state({"alice": 80, "bob": 70}, ["t1", "t2"]))
    with_info = check_ledger(TRANSFERS, state({"alice": 75, "bob": 75}, ["t1", "t2", "t3"]))
    assert without.valid is True and with_info.valid is True
    assert with_info.figures["unknown_outcome"] == 1


def test_supply_not_conserved() -> None:
    verdict = check_ledger(TRANSFERS, LedgerState(150, {"alice": 80, "bob": 71}, ["t1", "t2"]))
    assert verdict.valid is False
    assert verdict.witness["supply not conserved"]["difference"] == 1


def test_acknowledged_transfer_missing_duplicated_invented_or_failed() -> None:
    verdict = check_ledger(TRANSFERS, LedgerState(150, {"alice": 80, "bob": 70},
                                                  ["t1", "t1", "t4", "t9"]))
    assert verdict.valid is False
    witness = verdict.witness
    assert witness["acknowledged but not applied"] == ["t2"]
    assert witness["applied more than once"] == ["t1"]
    assert witness["applied but never attempted"] == ["t9"]
    assert witness["applied but failed"] == ["t4"]


def test_negative_final_balance() -> None:
    transfers = [Transfer("t1", "bob", "alice", 60, "ok")]
    verdict = check_ledger(transfers, state({"alice": 160, "bob": -10}, ["t1"]))
    assert verdict.valid is False
    assert verdict.witness["negative balance"] == {"bob": -10}
    assert verdict.witness["overdrawn during replay"][0]["account"] == "bob"


def test_balances_that_no_replay_explains() -> None:
    verdict = check_ledger(TRANSFERS, state({"alice": 90, "bob": 60}, ["t1", "t2"]))
    assert verdict.valid is False
    assert verdict.witness["final balances differ from replay of applied transfers"]["alice"] == {
        "replayed": 80, "reported": 90}


def test_transfers_from_history() -> None:
    events = sequential(op(0, "transfer", {"id": "t1", "from": "a", "to": "b", "amount": 3},
                           {"status": 200}),
                        op(1, "transfer", {"id": "t2", "source": "b", "target": "a",
                                           "amount": 1}, None, "info"))
    assert transfers_from_history(events) == [Transfer("t1", "a", "b", 3, "ok"),
                                              Transfer("t2", "b", "a", 1, "info")]
