"""Linearizability checker: hand-made histories with known answers, budgets, witnesses."""

from __future__ import annotations

import pytest

from prsm_validate.checker import HistoryError, check_linearizable
from tests.checker.build import history, op, sequential


def test_sequential_register_history_is_linearizable() -> None:
    events = sequential(op(0, "write", 1, 1), op(1, "read", None, 1), op(0, "write", 2, 2),
                        op(1, "read", None, 2))
    verdict = check_linearizable(events, "register")
    assert verdict.valid is True
    assert verdict.figures["ops"] == 4
    assert verdict.checker == "linearizable:register"


def test_stale_read_is_not_linearizable_and_the_read_is_the_witness() -> None:
    events = sequential(op(0, "write", 1, 1), op(0, "write", 2, 2), op(1, "read", None, 1))
    verdict = check_linearizable(events, "register")
    assert verdict.valid is False
    assert verdict.witness["op"]["f"] == "read"
    assert verdict.witness["op"]["output"] == 1
    assert verdict.witness["states"] == [2]
    assert "could only be 2" in verdict.reason


def test_acknowledged_write_lost_is_not_linearizable() -> None:
    events = sequential(op(0, "write", 1, 1), op(1, "read", None, None))
    assert check_linearizable(events, "register").valid is False


def test_read_concurrent_with_a_write_may_see_either_value() -> None:
    for seen in (None, 1):
        events = history((0, "invoke", "write", 1), (1, "invoke", "read"),
                         (1, "ok", "read", seen), (0, "ok", "write", 1))
        assert check_linearizable(events, "register").valid is True


def test_reads_overlapping_a_write_cannot_go_back_in_time() -> None:
    # Classic (MIT 6.824 quiz): write 200 spans both reads; read 200 then a later read 0.
    events = history((0, "invoke", "write", 0), (0, "ok", "write", 0),
                     (0, "invoke", "write", 200), (1, "invoke", "read"), (1, "ok", "read", 200),
                     (2, "invoke", "read"), (2, "ok", "read", 0), (0, "ok", "write", 200))
    verdict = check_linearizable(events, "register")
    assert verdict.valid is False
    assert verdict.witness["op"]["process"] == 2
    assert {o["process"] for o in verdict.witness["concurrent"]} == {0}


def test_cas_that_succeeded_twice_from_the_same_value_is_not_linearizable() -> None:
    events = sequential(op(0, "write", 0, 0), op(1, "cas", [0, 1], [0, 1]),
                        op(2, "cas", [0, 1], [0, 1]))
    verdict = check_linearizable(events, "cas-register")
    assert verdict.valid is False
    assert verdict.witness["op"]["process"] == 2


def test_concurrent_cas_pair_one_wins_one_fails_is_linearizable() -> None:
    events = history((0, "invoke", "write", 0), (0, "ok", "write", 0),
                     (1, "invoke", "cas", [0, 1]), (2, "invoke", "cas", [0, 2]),
                     (1, "ok", "cas", [0, 1]), (2, "fail", "cas", [0, 2]),
                     (3, "invoke", "read"), (3, "ok", "read", 1))
    assert check_linearizable(events, "cas-register").valid is True


def test_failed_cas_means_the_compare_did_not_match() -> None:
    events = sequential(op(0, "write", 0, 0), op(1, "cas", [0, 5], [0, 5], "fail"))
    verdict = check_linearizable(events, "cas-register")
    assert verdict.valid is False
    assert verdict.witness["op"]["outcome"] == "fail"


def test_info_write_explains_a_later_read() -> None:
    events = sequential(op(0, "write", 1, 1), op(1, "write", 2, None, "info"),
                        op(2, "read", None, 2))
    assert check_linearizable(events, "register").valid is True


def test_info_write_may_never_take_effect() -> None:
    events = sequential(op(0, "write", 1, 1), op(1, "write", 2, None, "info"),
                        op(2, "read", None, 1), op(2, "read", None, 1))
    assert check_linearizable(events, "register").valid is True


def test_info_write_takes_effect_at_most_once() -> None:
    events = sequential(op(0, "write", 1, 1), op(1, "write", 2, None, "info"),
                        op(2, "read", None, 2), op(2, "read", None, 1))
    assert check_linearizable(events, "register").valid is False


def test_info_cas_may_or_may_not_apply() -> None:
    applied = sequential(op(0, "write", 0, 0), op(1, "cas", [0, 3], None, "info"),
                         op(2, "read", None, 3))
    skipped = sequential(op(0, "write", 0, 0), op(1, "cas", [0, 3], None, "info"),
                         op(2, "read", None, 0))
    assert check_linearizable(applied, "cas-register").valid is True
    assert check_linearizable(skipped, "cas-register").valid is True


def test_operation_never_completed_is_treated_as_info() -> None:
    events = history((0, "invoke", "write", 0), (0, "ok", "write", 0),
                     (1, "invoke", "write", 7), (2, "invoke", "read"), (2, "ok", "read", 7))
    assert check_linearizable(events, "register").valid is True


def test_failed_write_did_not_happen() -> None:
    events = sequential(op(0, "write", 1, 1, "fail"), op(1, "read", None, 1))
    assert check_linearizable(events, "register").valid is False


def test_kv_is_checked_per_key_and_names_the_bad_key() -> None:
    events = sequential(op(0, "write", ["a", 1], ["a", 1]), op(1, "write", ["b", 1], ["b", 1]),
                        op(2, "read", ["a", None], ["a", 1]), op(2, "read", ["b", None], 2))
    verdict = check_linearizable(events, "kv")
    assert verdict.valid is False
    assert verdict.witness["key"] == "b"
    assert verdict.figures["keys"] == 2


def test_kv_accepts_key_value_objects() -> None:
    events = sequential(op(0, "write", {"key": "k", "value": 3}, None),
                        op(1, "cas", {"key": "k", "value": [3, 4]}, None),
                        op(1, "read", {"key": "k"}, {"key": "k", "value": 4}))
    assert check_linearizable(events, "kv").valid is True


def test_budget_exhausted_is_unknown_and_never_a_pass() -> None:
    # Many concurrent info writes make the search space large; one step is not enough.
    rows = [(0, "invoke", "write", 0), (0, "ok", "write", 0)]
    rows += [(p, "invoke", "write", p) for p in range(1, 12)]
    rows += [(20, "invoke", "read"), (20, "ok", "read", 99)]
    verdict = check_linearizable(history(*rows), "register", max_steps=1)
    assert verdict.valid == "unknown"
    assert not verdict
    assert "budget" in verdict.reason


def test_register_model_rejects_cas_with_a_clear_error() -> None:
    events = sequential(op(0, "cas", [0, 1], [0, 1]))
    with pytest.raises(HistoryError, match="register model has no operation 'cas'"):
        check_linearizable(events, "register")


def test_unknown_model_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown model"):
        check_linearizable([], "queue")


def test_verdict_is_json_serialisable() -> None:
    import json

    events = sequential(op(0, "write", [1, 2], None), op(1, "read", None, [1, 3]))
    data = json.loads(json.dumps(check_linearizable(events, "register").to_json()))
    assert data["valid"] is False
    assert data["witness"]["op"]["output"] == [1, 3]


def test_other_client_operations_can_be_left_out() -> None:
    events = sequential(op(0, "login", {"user": "u"}, {"status": 200}), op(0, "write", 1, 1),
                        op(1, "read", None, 1))
    with pytest.raises(HistoryError, match="no operation 'login'"):
        check_linearizable(events, "register")
    verdict = check_linearizable(events, "register", fs={"read", "write"})
    assert verdict.valid is True and verdict.figures["ops"] == 2


def test_the_deadline_also_bounds_reading_the_history() -> None:
    from prsm_validate.checker.linear import Budget
    from prsm_validate.history import Event

    read = []

    def events():  # a history read lazily, as check-history reads a file
        for number in range(100_000):
            read.append(number)
            yield Event(2 * number, 2 * number, number, "invoke", "write", 1)
            yield Event(2 * number + 1, 2 * number + 1, number, "ok", "write", 1)

    expired = Budget(seconds=0.0)
    verdict = check_linearizable(events(), "register", budget=expired)
    assert verdict.valid == "unknown"
    assert "while reading the history" in verdict.reason
    assert len(read) < 100_000  # it stopped reading


def test_a_step_budget_alone_sets_no_deadline() -> None:
    from prsm_validate.checker.linear import Budget

    budget = Budget(seconds=None, max_steps=10)
    assert budget.deadline == float("inf") and budget.describe() == "10 steps"
    events = sequential(op(0, "write", 1, 1), op(1, "read", None, 1))
    assert check_linearizable(events, "register", budget_seconds=None, max_steps=100).valid
