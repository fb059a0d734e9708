"""Set and total-queue checkers."""

from __future__ import annotations

from prsm_validate.checker import check_set, check_total_queue
from tests.checker.build import history, op, sequential


def test_every_acknowledged_element_present_once_is_valid() -> None:
    events = sequential(op(0, "add", 1, 1), op(1, "add", 2, 2), op(2, "read", None, [2, 1]))
    verdict = check_set(events)
    assert verdict.valid is True
    assert verdict.figures["acknowledged"] == 2


def test_lost_duplicated_unexpected_and_failed_elements_are_listed() -> None:
    events = sequential(op(0, "add", 1, 1), op(0, "add", 2, 2), op(0, "add", 3, 3, "fail"),
                        op(1, "read", None, [1, 1, 3, 7]))
    verdict = check_set(events)
    assert verdict.valid is False
    assert verdict.witness == {"lost": [2], "duplicated": [1], "unexpected": [7],
                               "failed_but_present": [3]}


def test_unknown_outcome_adds_may_or_may_not_be_present() -> None:
    rows = [(0, "invoke", "add", 1), (0, "info", "add", 1),
            (1, "invoke", "add", 2), (1, "info", "add", 2)]
    present = check_set(history(*rows, (2, "invoke", "read"), (2, "ok", "read", [1])))
    assert present.valid is True
    assert present.figures["recovered"] == 1


def test_only_the_last_successful_read_counts() -> None:
    events = sequential(op(0, "add", 1, 1), op(1, "read", None, []), op(0, "add", 2, 2),
                        op(1, "read", None, [1, 2]))
    assert check_set(events).valid is True


def test_no_final_read_is_unknown() -> None:
    verdict = check_set(sequential(op(0, "add", 1, 1), op(1, "read", None, None, "fail")))
    assert verdict.valid == "unknown"
    assert not verdict


def test_total_queue_counts_dequeues_and_drain() -> None:
    events = sequential(op(0, "enqueue", "a", "a"), op(0, "enqueue", "b", "b"),
                        op(1, "dequeue", None, "a"), op(1, "drain", None, ["b"]))
    assert check_total_queue(events).valid is True


def test_total_queue_detects_double_delivery() -> None:
    events = sequential(op(0, "enqueue", "a", "a"), op(1, "dequeue", None, "a"),
                        op(1, "drain", None, ["a"]))
    verdict = check_total_queue(events)
    assert verdict.valid is False
    assert verdict.witness == {"duplicated": ["a"]}


def test_structured_elements_use_an_element_key() -> None:
    events = sequential(op(0, "submit", {"task": "t1"}, {"task": "t1", "status": "queued"}),
                        op(1, "read", None, [{"task": "t1", "status": "done"}]))
    verdict = check_set(events, element=lambda v: v["task"])
    assert verdict.valid is True


def test_a_read_that_is_not_a_collection_is_a_history_error() -> None:
    import pytest

    from prsm_validate.checker import HistoryError

    with pytest.raises(HistoryError, match="must return a list"):
        check_set(sequential(op(0, "add", 1, 1), op(1, "read", None, 1)))
