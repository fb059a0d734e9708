"""History recording: the operation recorder never loses an operation; JSON Lines round trip."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from prsm_validate.history import History, ProcessCrashed, read_jsonl


def test_ok_completion_defaults_to_the_invoked_value() -> None:
    history = History()
    with history.operation(0, "write", 3) as op:
        op.ok()
    kinds = [(e.type, e.f, e.value) for e in history]
    assert kinds == [("invoke", "write", 3), ("ok", "write", 3)]


def test_fail_and_explicit_values_are_recorded() -> None:
    history = History()
    with history.operation(0, "read", None, node="n1") as op:
        op.fail({"status": 404})
    invoke, fail = history.events
    assert invoke.node == "n1"
    assert (fail.type, fail.value) == ("fail", {"status": 404})


def test_exception_becomes_info_and_propagates() -> None:
    history = History()
    with pytest.raises(TimeoutError), history.operation(0, "write", 1):
        raise TimeoutError("read timed out")
    info = history.events[-1]
    assert info.type == "info"
    assert info.extra["error"] == "TimeoutError: read timed out"


def test_suppressed_exception_is_recorded_and_swallowed() -> None:
    history = History()
    with history.operation(0, "write", 1, suppress=(ConnectionResetError,)):
        raise ConnectionResetError("reset by peer")
    assert history.events[-1].type == "info"


def test_block_left_without_outcome_records_info() -> None:
    history = History()
    with history.operation(0, "write", 1):
        pass
    assert history.events[-1].type == "info"
    assert history.events[-1].extra["error"] == "no outcome recorded"


def test_keyboard_interrupt_is_recorded_too() -> None:
    history = History()
    with pytest.raises(KeyboardInterrupt), history.operation(0, "write", 1):
        raise KeyboardInterrupt
    assert history.events[-1].type == "info"


def test_operation_completes_once() -> None:
    history = History()
    with history.operation(0, "write", 1) as op:
        op.ok()
        with pytest.raises(RuntimeError, match="already completed"):
            op.fail()
    assert [e.type for e in history] == ["invoke", "ok"]


def test_process_with_unknown_outcome_is_never_reused() -> None:
    history = History()
    with history.operation(0, "write", 1) as op:
        op.info()
    with pytest.raises(ProcessCrashed):
        history.operation(0, "write", 2)
    fresh = history.new_process()
    assert fresh == 1
    with history.operation(fresh, "write", 2) as op:
        op.ok()
    assert history.new_process() == 2


def test_times_are_monotonic_and_indices_dense_across_threads(tmp_path: Path) -> None:
    history = History(tmp_path / "h.jsonl")

    def client(process: int) -> None:
        for _ in range(50):
            with history.operation(process, "write", process) as op:
                op.ok()

    threads = [threading.Thread(target=client, args=(p,)) for p in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history.close()
    events = read_jsonl(tmp_path / "h.jsonl")
    assert [e.index for e in events] == list(range(400))
    assert all(a.time <= b.time for a, b in itertools.pairwise(events))
    assert events == history.events


def test_two_clients_of_one_history_never_share_a_process():
    from prsm_validate.client.api import ApiClient, Unavailable
    from reference_system.ports import free_ports

    history = History()
    closed = f"http://127.0.0.1:{free_ports(1)[0]}"  # nothing listens: every call is info
    first, second = (ApiClient(closed, "reference", history, timeout_s=0.5) for _ in range(2))
    assert first.process != second.process
    before = first.process
    with pytest.raises(Unavailable):
        first.call("health")
    assert first.process not in (before, second.process)  # a crashed process is not reused
    kinds = [(e.process, e.type) for e in history.events]
    assert kinds == [(before, "invoke"), (before, "info")]
    first.close()
    second.close()
