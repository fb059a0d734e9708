"""Recovery after faults: time to resume progress, bounded, unknown when unobserved."""

from __future__ import annotations

from prsm_validate.checker import (
    FaultWindow,
    check_recovery,
    faults_from_history,
    progress_from_history,
)
from prsm_validate.history import History

STALLED = [(0.0, 0.0), (1.0, 5.0), (2.0, 5.0), (3.0, 5.0)]  # stalls at t=1


def test_recovery_time_is_reported_per_fault() -> None:
    progress = [*STALLED, (4.5, 6.0), (6.0, 9.0), (7.0, 10.0)]
    faults = [FaultWindow("kill n1", 1.0, 3.0), FaultWindow("pause n0", 5.0, 5.5)]
    verdict = check_recovery(progress, faults, bound=2.0)
    assert verdict.valid is True
    times = [r["recovery_seconds"] for r in verdict.figures["recoveries"]]
    assert times == [1.5, 0.5]
    assert verdict.figures["max_recovery_seconds"] == 1.5


def test_progress_too_late_is_invalid() -> None:
    verdict = check_recovery([*STALLED, (8.0, 6.0)], [FaultWindow("kill", 1.0, 3.0)], bound=2.0)
    assert verdict.valid is False
    assert verdict.witness[0]["recovery_seconds"] == 5.0


def test_no_progress_after_the_bound_is_invalid() -> None:
    verdict = check_recovery(STALLED, [FaultWindow("kill", 1.0, 2.0)], bound=0.5)
    assert verdict.valid is False
    assert "no progress" in verdict.reason


def test_observation_ending_before_the_bound_is_unknown() -> None:
    verdict = check_recovery(STALLED, [FaultWindow("kill", 1.0, 2.5)], bound=5.0)
    assert verdict.valid == "unknown"
    assert not verdict


def test_fault_interrupted_by_the_next_is_unknown_not_blamed() -> None:
    faults = [FaultWindow("a", 1.0, 2.0), FaultWindow("b", 2.2, 9.0)]
    progress = [*STALLED, (9.5, 6.0)]
    verdict = check_recovery(progress, faults, bound=1.0)
    valid = [r["valid"] for r in verdict.figures["recoveries"]]
    assert valid == ["unknown", True]
    assert verdict.valid == "unknown"


def test_progress_and_faults_from_a_history() -> None:
    history = History()
    with history.operation(0, "write", 1) as op:
        op.ok()
    history.append("nemesis", "info", "kill", {"target": "n1", "phase": "start"})
    history.append("nemesis", "info", "kill", {"target": "n1", "phase": "heal"})
    with history.operation(0, "write", 2) as op:
        op.ok()
    events = history.events
    faults = faults_from_history(events)
    progress = progress_from_history(events)
    assert [f.name for f in faults] == ["kill n1"]
    assert [count for _, count in progress] == [1.0, 2.0]
    verdict = check_recovery(progress, faults, bound=60.0)
    assert verdict.valid is True
    assert 0 <= verdict.figures["max_recovery_seconds"] < 60


def test_fault_windows_from_nemesis_records() -> None:
    from prsm_validate.checker import fault_windows
    from prsm_validate.nemesis.core import FaultRecord

    windows = fault_windows([FaultRecord("kill", "node-1", 10.0, 12.0),
                             FaultRecord("pause", "node-0", 20.0)])
    assert windows == [FaultWindow("kill node-1", 10.0, 12.0),
                       FaultWindow("pause node-0", 20.0, float("inf"))]
    verdict = check_recovery([(11.0, 1.0), (12.5, 2.0), (30.0, 3.0)], windows, bound=1.0)
    assert [r["valid"] for r in verdict.figures["recoveries"]] == [True, "unknown"]
