"""Twins schedules: the per-round arrangements are exactly the small-scope space, the
numbering covers it without repeats, the text form reads back, the simulator runs twins as two
processes of one identity, the shipped PBFT passes a sample, and planted defects that no
Byzantine code reaches are found by honest twins alone."""

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
from prsm_validate.generator import twins
from reference_system.consensus.sim import SimConfig, Simulation

ROOT = Path(__file__).resolve().parents[2]


def test_one_round_holds_every_split_into_three_groups_with_the_copies_apart():
    rounds = twins.arrangements(4, (1,))
    # Partitions of 5 processes into <= 3 groups: 1 + 15 + 25 = 41; with 1 and 1' together:
    # those of 4 items into <= 3 groups, 1 + 7 + 6 = 14.
    assert len(rounds) == 41 - 14 == len(set(rounds))
    for arrangement in rounds:
        members = sorted(p for group in arrangement for p in group)
        assert members == sorted(["0", "1", "1'", "2", "3"])
        assert not any({"1", "1'"} <= set(group) for group in arrangement)


def test_the_numbering_covers_the_space_once():
    space = twins.TwinsSpace(4, rounds=1)
    schedules = {space.schedule(i) for i in range(space.size)}
    assert len(schedules) == space.size == 4 * 27
    assert {s.twins for s in schedules} == {(0,), (1,), (2,), (3,)}
    with pytest.raises(ValueError, match="outside"):
        space.schedule(space.size)


def test_a_sample_is_distinct_seeded_and_the_whole_space_when_it_fits():
    space = twins.TwinsSpace(4, rounds=3)
    sample = space.indices(5, 100)
    assert len(set(sample)) == 100 and sample == space.indices(5, 100) != space.indices(6, 100)
    assert twins.TwinsSpace(4, rounds=1).indices(5, 10**6) == list(range(108))


@settings(max_examples=100, deadline=None)
@given(index=st.integers(0, twins.TwinsSpace(4, 2).size - 1), net=st.integers(0, 2**31))
def test_schedules_read_back_from_their_text(index, net):
    schedule = twins.TwinsSpace(4, 2).schedule(index, net)
    assert twins.parse(schedule.text()) == schedule


@pytest.mark.parametrize(("text", "problem"), [
    ("twins=1 @0=0,1,1'|2,3 net=1", "both copies"),
    ("twins=1 @0=0,1|2,3 net=1", "exactly once"),
    ("twins=1,2 net=1", "exceed f"),
    ("twins=7 net=1", "twins=I"),
    ("twins=1 @x=0 net=1", "bad Twins token"),
    ("twins=1 @1=0,1|1',2,3 net=1", "each once"),
])
def test_bad_schedules_name_the_problem(text, problem):
    with pytest.raises(ValueError, match=problem):
        twins.parse(text)


def test_a_twin_is_a_second_process_with_the_identity_and_stops_after_the_chaos():
    sim = Simulation(SimConfig(seed=3, twins=(2,), clients=1, ops_per_client=2))
    assert sim.processes_of(2) == [2, 4] and sim.replicas[4].id == 2
    assert 2 not in sim.honest
    sim.run()
    assert 4 in sim.down and 2 not in sim.down
    assert sim.violations() == []


def test_a_cut_separating_the_copies_delivers_each_only_its_group():
    schedule = twins.parse("twins=1 @0=0,1|1',2,3 net=4")
    assert schedule.delivers(0, "0", "1") and not schedule.delivers(0, "0", "1'")
    assert schedule.delivers(0, "2", "1'") and not schedule.delivers(0, "2", "1")
    # Outside the schedule the twin hears nobody and is heard by all.
    assert not schedule.delivers(1, "0", "1'") and schedule.delivers(1, "1'", "0")
    assert schedule.delivers(1, "0", "1") and schedule.delivers(-1, "2", "1")


def test_shipped_pbft_passes_a_seeded_sample():
    result = twins.search(twins.TwinsSpace(4, 2), seed=11, schedules=400, budget_s=120)
    assert result.schedules == 400
    assert result.found == (), [f.schedule.text() for f in result.found]


def _replay_on(mutant_id: str, text: str) -> subprocess.CompletedProcess[str]:
    mutant = mutants.find(mutant_id)
    assert mutant is not None
    with tempfile.TemporaryDirectory() as scratch:
        root = mutants.apply(mutant, Path(scratch))
        return subprocess.run([sys.executable, "-m", "prsm_validate.cli", "twins", "--replay",
                               text], cwd=root, capture_output=True, text=True, timeout=120,
                              check=False)


@pytest.mark.parametrize(("mutant_id", "text", "property_"), [
    ("newview-drops-last-prepared", "twins=2 @0=0,1,2'|2|3 @1=0,2|1,2'|3 net=1610819347",
     "agreement"),
    ("dedup-equal-timestamp", "twins=0 @0=0|0',1,2,3 @1=0,1,2,3|0' net=385792672",
     "twice"),
])
def test_honest_twins_alone_expose_planted_defects(mutant_id, text, property_):
    found = _replay_on(mutant_id, text)
    assert found.returncode == 1, found.stdout + found.stderr
    assert property_ in " ".join(json.loads(found.stdout.splitlines()[-1])["problems"])
    shipped = subprocess.run([sys.executable, "-m", "prsm_validate.cli", "twins", "--replay",
                              text], cwd=ROOT, capture_output=True, text=True, timeout=120,
                             check=False)
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr


def test_bad_input_is_one_line_and_exit_2():
    for argv in (["--replay", "twins=9 net=1"], ["--rounds", "0"], ["--mutant", "nope"]):
        out = subprocess.run([sys.executable, "-m", "prsm_validate.cli", "twins", *argv],
                             cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
