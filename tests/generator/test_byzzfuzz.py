"""ByzzFuzz schedules: the text form reads back, the generator is seeded, rounds shift with
the cluster's view, the simulator passes them on the shipped PBFT and a planted defect's
schedule replays as a violation, is shrunk and confirmed on the real processes."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prsm_validate import mutants
from prsm_validate.generator.byzzfuzz import (
    SIM_DEFAULTS,
    generate,
    parse,
    property_of,
    search,
    simulate,
)
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
                     "mutate-batch", "forge-cert", "forge-proof", "mutate-view@0-1"):
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


VC_QUORUM = "byz=0 cut@0-1=0|1,2|3 net=354085881"


def _byzzfuzz(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "prsm_validate.cli", "byzzfuzz", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def test_simulator_problems_name_their_property():
    assert property_of("liveness: clients ['c0'] unfinished at t=3.0") == "liveness"
    assert property_of("agreement: seq 4 differs on replicas 1 and 2") == "agreement"
    assert property_of("client ('c', 1) accepted 3, replica 2 executed 4") == "client-results"
    assert property_of("replica 2 executed ('c', 1) twice") == "exactly-once"


def test_a_violation_found_on_a_defect_is_shrunk_with_both_replay_lines():
    out = _byzzfuzz("--mutant", "viewchange-quorum-2f", "--stop-at", "1",
                    "--budget-seconds", "60")
    assert out.returncode == 1, out.stdout + out.stderr
    summary = json.loads(out.stdout.splitlines()[-1])
    shrunk = summary["shrunk"][0]
    # The Byzantine behaviours drawn with it are not needed: the partition alone (the
    # primary cut off for two views, the others split) violates liveness on the defect.
    assert len(parse(shrunk["original"]).specs) == 2 and shrunk["schedule"] == VC_QUORUM
    assert shrunk["complete"] and shrunk["problems"][0].startswith("liveness")
    assert (f"replay (simulator): prsm-validate byzzfuzz --mutant viewchange-quorum-2f "
            f"--replay '{VC_QUORUM}'") in out.stdout
    assert f"replay (processes): PRSM_BYZZFUZZ='{VC_QUORUM}' pytest " in out.stdout
    assert simulate(parse(VC_QUORUM), **SIM_DEFAULTS) == []  # the shipped code passes it


def test_confirm_outside_the_project_folder_is_one_line_and_exit_2(tmp_path):
    out = _byzzfuzz("--replay", VC_QUORUM, "--confirm", cwd=tmp_path)
    assert out.returncode == 2 and "run it from the project folder" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    out = _byzzfuzz("--shrink-seconds", "-1")
    assert out.returncode == 2 and "--shrink-seconds" in out.stderr


@pytest.mark.slow
def test_confirm_reproduces_the_shrunk_schedule_on_the_real_processes():
    out = _byzzfuzz("--mutant", "viewchange-quorum-2f", "--replay", VC_QUORUM, "--confirm",
                    timeout=700)
    assert out.returncode == 1, out.stdout + out.stderr
    confirm = json.loads(out.stdout.splitlines()[-1])["confirm"]
    assert confirm["reproduced"] is True, out.stdout
    assert confirm["target"] == "mutant viewchange-quorum-2f" and confirm["failed"] == [
        "test_byzzfuzz_schedule_keeps_honest_replicas_safe_and_live[replay]"]
    assert "reproduced in" in out.stdout and "not reproduced" not in out.stdout
