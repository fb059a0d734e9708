"""ByzzFuzz schedules: the text form reads back, the generator is seeded, rounds shift with
the cluster's view, the simulator passes them on the shipped PBFT and a planted defect's
schedule replays as a violation."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prsm_validate import mutants
from prsm_validate.generator.byzzfuzz import SIM_DEFAULTS, generate, parse, search, simulate
from reference_system.consensus.byzantine import parse_spec

ROOT = Path(__file__).resolve().parents[2]


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_generated_schedules_read_back_from_their_text(seed):
    schedule = generate(seed)
    assert parse(schedule.text()) == schedule
    assert generate(seed) == schedule
    assert 0 <= schedule.byzantine < 4 and 1 <= len(schedule.specs) <= 2


def test_spec_rounds_scope_views_or_sequences():
    assert parse_spec("mutate-view:1,2@3").rounds == ("view", 3, 3)
    assert parse_spec("drop-cert@1-2").rounds == ("view", 1, 2)
    assert parse_spec("mutate-seq@s4-6").rounds == ("seq", 4, 6)
    assert parse_spec("silence").rounds is None
    for bad in ("mutate-view@2-1", "mutate-view@x", "mutate-view:a", "nope@1"):
        with pytest.raises(ValueError):
            parse_spec(bad)
    with pytest.raises(ValueError, match="byz="):
        parse("mutate-view@1 net=3")


def test_shifting_rotates_replicas_and_rounds_with_the_view():
    schedule = parse("byz=0 mutate-view:2@1 silence@s2-3 cut@0-1=0|1,2,3 net=5")
    moved = schedule.shifted(5)
    assert moved.text() == "byz=1 mutate-view:3@6 silence@s2-3 cut@5-6=1|0,2,3 net=5"
    assert moved.last_round == 6 and schedule.shifted(0) == schedule


def test_shipped_pbft_passes_a_seeded_search():
    result = search(7, 150, budget_s=120.0)
    assert result.schedules == 150
    assert result.found == [], [f.replay() for f in result.found or []]


def test_new_behaviours_keep_the_simulated_cluster_safe_and_live():
    for seed in range(10):
        for spec in ("drop-cert", "mutate-checkpoint", "mutate-state", "mutate-snapshot",
                     "mutate-view@0-1"):
            schedule = parse(f"byz={seed % 4} {spec} cut@0=0|1,2,3 net={seed}")
            assert simulate(schedule, **SIM_DEFAULTS) == [], schedule.text()


def test_a_planted_defect_replays_as_a_violation():
    mutant = next(m for m in mutants.MUTANTS if m.id == "viewchange-quorum-2f")
    text = "byz=0 mutate-state:1@1-2 double-vote@2 cut@0-1=0|1,2|3 net=354085881"
    with tempfile.TemporaryDirectory() as scratch:
        root = mutants.apply(mutant, Path(scratch))
        found = subprocess.run([sys.executable, "-m", "prsm_validate.cli", "byzzfuzz",
                                "--replay", text], cwd=root, capture_output=True, text=True,
                               timeout=120, check=False)
    assert found.returncode == 1, found.stdout + found.stderr
    assert "liveness" in found.stdout or "agreement" in found.stdout


def test_bad_replay_is_one_line_and_exit_2():
    out = subprocess.run([sys.executable, "-m", "prsm_validate.cli", "byzzfuzz", "--replay",
                          "byz=9 net=1"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=False)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_one_way_cuts_read_back_shift_and_drop_one_direction():
    schedule = parse("byz=0 mutate-state deaf@0=3<1,2 net=3")
    assert parse(schedule.text()) == schedule
    deaf = schedule.cuts[0]
    assert deaf.drops(0, "node-1", "node-3") and not deaf.drops(0, "node-3", "node-1")
    assert not deaf.drops(1, "node-1", "node-3") and not deaf.drops(0, "node-0", "node-3")
    assert schedule.shifted(1).text() == "byz=1 mutate-state deaf@1=0<2,3 net=3"
    assert simulate(schedule, **SIM_DEFAULTS) == []
