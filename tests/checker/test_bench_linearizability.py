"""The speed benchmark's simulated histories are linearizable, and a corrupted one is not."""

from __future__ import annotations

import dataclasses
import json

import pytest

from prsm_validate.checker import check_linearizable
from tests.checker.bench_linearizability import SimulatedRegister, main


@pytest.mark.parametrize("seed", range(5))
def test_simulated_register_histories_are_linearizable(seed: int) -> None:
    events = SimulatedRegister(processes=4, seed=seed, info_rate=0.05).run(400)
    verdict = check_linearizable(events, "cas-register")
    assert verdict.valid is True, verdict.reason
    assert verdict.figures["ops"] == 400
    assert any(e.type == "info" for e in events) and any(e.type == "fail" for e in events)


def test_a_read_made_stale_is_caught() -> None:
    events = SimulatedRegister(processes=4, seed=7, info_rate=0.0).run(400)
    # Make the last successful read report a value no one wrote.
    position = max(i for i, e in enumerate(events) if e.type == "ok" and e.f == "read")
    events[position] = dataclasses.replace(events[position], value=99)
    verdict = check_linearizable(events, "cas-register")
    assert verdict.valid is False
    assert verdict.witness["op"]["output"] == 99


def test_benchmark_prints_json_last(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--start", "200", "--max-ops", "400", "--runs", "1"]) == 0
    last = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert last["largest_ops_within_budget"] == 400
    assert last["ops_per_second"] > 0
