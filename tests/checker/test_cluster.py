"""Cluster safety from replica state: ledgers judged relative to the scenario's start."""

from __future__ import annotations

from prsm_validate.checker.agreement import NodeLog
from prsm_validate.checker.cluster import check_cluster, check_replica_ledger, ledger_since
from prsm_validate.history import History

GENESIS = {"bank": 100, "a": 0, "b": 0}


def _ledger(balances: dict[str, int], applied: list[str]) -> dict:
    return {"balances": balances, "applied": applied, "genesis": GENESIS}


def _history(*transfers: tuple[str, str, str, int, str]) -> list:
    history = History()
    for number, (tid, src, dst, amount, outcome) in enumerate(transfers):
        op = {"id": tid, "from": src, "to": dst, "amount": amount}
        history.append(number, "invoke", "transfer", op)
        history.append(number, outcome, "transfer", op)
    return history.events


BEFORE = _ledger({"bank": 90, "a": 10, "b": 0}, ["old-1"])


def test_transfers_since_the_start_replay_to_the_final_balances() -> None:
    after = _ledger({"bank": 85, "a": 12, "b": 3}, ["old-1", "t1", "t2"])
    events = _history(("t1", "bank", "a", 5, "ok"), ("t2", "a", "b", 3, "ok"))
    verdict = check_replica_ledger("node-0", events, BEFORE, after)
    assert verdict.valid is True, verdict.to_json()
    assert ledger_since(BEFORE, after).applied == ["t1", "t2"]


def test_a_transfer_applied_twice_is_a_violation_with_its_id() -> None:
    after = _ledger({"bank": 80, "a": 20, "b": 0}, ["old-1", "t1", "t1"])
    verdict = check_replica_ledger("node-1", _history(("t1", "bank", "a", 5, "ok")), BEFORE,
                                   after)
    assert verdict.valid is False
    assert verdict.witness["applied more than once"] == ["t1"]


def test_an_acknowledged_transfer_missing_and_an_invented_one_are_violations() -> None:
    after = _ledger({"bank": 89, "a": 11, "b": 0}, ["old-1", "ghost"])
    verdict = check_replica_ledger("node-2", _history(("t1", "bank", "a", 5, "ok")), BEFORE,
                                   after)
    assert verdict.valid is False
    assert verdict.witness["acknowledged but not applied"] == ["t1"]
    assert verdict.witness["applied but never attempted"] == ["ghost"]


def test_rewritten_past_and_silent_replica() -> None:
    rewritten = _ledger({"bank": 90, "a": 10, "b": 0}, ["other"])
    assert check_replica_ledger("n", [], BEFORE, rewritten).valid is False
    assert check_replica_ledger("n", [], BEFORE, None).valid == "unknown"


def test_cluster_verdict_needs_agreement_and_every_ledger() -> None:
    logs = [NodeLog.from_json(n, {"entries": [{"seq": 1, "view": 0, "digest": d,
                                                "request_ids": ["t1", None]}]})
            for n, d in (("n0", "x"), ("n1", "y"))]
    after = _ledger({"bank": 85, "a": 15, "b": 0}, ["old-1", "t1"])
    events = _history(("t1", "bank", "a", 5, "ok"))
    verdict = check_cluster(events, logs, ["n0", "n1"], {"n0": BEFORE, "n1": BEFORE},
                            {"n0": after, "n1": after})
    assert verdict.valid is False and "agreement" in verdict.reason
    honest_only = check_cluster(events, logs[:1], ["n0"], {"n0": BEFORE}, {"n0": after})
    assert honest_only.valid is True, honest_only.to_json()
