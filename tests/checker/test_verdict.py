"""Verdicts compose by priority false > unknown > true and serialise to JSON."""

from __future__ import annotations

import json

import pytest

from prsm_validate.checker import Verdict, compose

VALID = Verdict("a", True)
INVALID = Verdict("b", False, "broken", witness={"op": (1, 2)})
UNDECIDED = Verdict("c", "unknown", "budget")


@pytest.mark.parametrize(("parts", "expected"), [
    ([VALID, VALID], True),
    ([VALID, UNDECIDED], "unknown"),
    ([UNDECIDED, INVALID, VALID], False),
    ([], "unknown"),
])
def test_compose_priority(parts: list[Verdict], expected: object) -> None:
    assert compose(parts).valid == expected


def test_unknown_is_not_truthy() -> None:
    assert VALID and not INVALID and not UNDECIDED


def test_composed_witness_names_the_failing_checkers_and_serialises() -> None:
    composed = compose([VALID, INVALID, UNDECIDED], "scenario")
    data = json.loads(json.dumps(composed.to_json()))
    assert data["witness"] == {"b": {"op": [1, 2]}, "c": None}
    assert [c["checker"] for c in data["figures"]["checks"]] == ["a", "b", "c"]
    assert "b: INVALID - broken" in composed.reason


def test_compose_checker_runs_each_checker_on_the_same_history() -> None:
    from prsm_validate.checker import Compose, Linearizable, SetFull
    from tests.checker.build import op, sequential

    events = sequential(op(0, "write", 1, 1), op(1, "read", None, 1))
    scenario = Compose((Linearizable("register"), SetFull("members")), "scenario")
    verdict = scenario.check(iter(events))
    # The register is fine, but there is no set read: unknown, never a pass.
    assert verdict.valid == "unknown"
    assert [c["valid"] for c in verdict.figures["checks"]] == [True, "unknown"]
