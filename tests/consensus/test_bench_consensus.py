"""``prsm-validate bench consensus``: the command end to end (tiny phases) and its floor formula."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from prsm_validate.bench import consensus

KEYS = ("ops_per_s", "p50_ms_unloaded", "p99_ms_unloaded", "p50_ms_half_load",
        "p99_ms_half_load", "floor_ops_per_s", "floor_p50_ms", "first_commit_s", "nodes")


def test_bench_command_prints_positive_figures_as_json_last() -> None:
    """A 0.3-second run starts 4 nodes, measures every phase and ends with the JSON line."""
    done = subprocess.run([sys.executable, "-m", "prsm_validate.cli", "bench", "consensus",
                           "--seconds", "0.3", "--concurrency", "64"],
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    for key in KEYS:
        assert key in figures, f"{key} missing from {figures}"
        assert figures[key] > 0, f"{key} = {figures[key]}"
    assert figures["nodes"] == 4
    assert figures["failed"] == 0
    assert any(line.startswith("saturation") for line in lines[:-1])


def test_floor_formula_counts_messages_per_batch_and_hops_per_request() -> None:
    """n=4 (f=1), B=1, k=1, s=v=1 us, no HMAC: a replica signs 2 + 1 and verifies 6 + 3
    per batch, so W = 4 * 12 us; the latency floor is 2.5 rtt + 3s + 4v + fsync."""
    costs = {"sign": 1e-6, "verify": 1e-6, "hmac": 0.0}
    result = consensus.floor(4, 1, 1, costs, rtt=100e-6, fsync=50e-6, cores=1)
    assert result["floor_ops_per_s"] == pytest.approx(1 / 48e-6)
    assert result["floor_p50_ms"] == pytest.approx((250 + 3 + 4 + 50) / 1000)
    doubled = consensus.floor(4, 1, 1, costs, rtt=100e-6, fsync=50e-6, cores=2)
    assert doubled["floor_ops_per_s"] == pytest.approx(2 * result["floor_ops_per_s"])


def test_seconds_are_bounded() -> None:
    """--seconds outside the bounds is clamped, so no phase runs unbounded."""
    assert consensus.bounded_seconds(0) == consensus.MIN_SECONDS
    assert consensus.bounded_seconds(1e9) == consensus.MAX_SECONDS
    assert consensus.bounded_seconds(float("nan")) == consensus.MIN_SECONDS
    assert consensus.bounded_seconds(2.5) == 2.5
