"""Seeded fault schedules: reproducible, serialisable, within bounds, never more than f nodes
down; round-scoped partitions drop exactly the cross-block messages of their rounds."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prsm_validate.generator.schedule import (
    KINDS,
    PROCESS_KINDS,
    RoundPartition,
    Schedule,
    ScheduleConfig,
    dropped,
    generate,
    round_scoped_partitions,
)
from prsm_validate.nemesis import partitions

NODES = ("n1", "n2", "n3", "n4", "n5", "n6", "n7")
seeds = st.integers(min_value=0, max_value=2**63)
configs = st.builds(ScheduleConfig, lanes=st.integers(1, 3), primary=st.sampled_from(NODES),
                    min_duration=st.just(0.5), max_duration=st.floats(0.5, 20),
                    min_gap=st.just(0.0), max_gap=st.floats(0.0, 5))


def test_same_seed_same_schedule_other_seed_other_schedule():
    config = ScheduleConfig(lanes=2, primary="n1")
    first = generate(42, NODES, 120, config, rounds=30, round_faults=4)
    assert first.to_json() == generate(42, NODES, 120, config, rounds=30,
                                       round_faults=4).to_json()
    others = {json.dumps(generate(seed, NODES, 120, config).to_json()["faults"])
              for seed in range(43, 48)}
    assert json.dumps(first.to_json()["faults"]) not in others
    assert len(others) == 5


@settings(max_examples=60, deadline=None)
@given(seeds, configs, st.floats(1, 300))
def test_schedule_json_round_trip_and_bounds(seed, config, duration):
    schedule = generate(seed, NODES, duration, config)
    text = json.dumps(schedule.to_json())
    assert Schedule.from_json(json.loads(text)) == schedule
    for fault in schedule.faults:
        assert fault.kind in KINDS and config.weights.get(fault.kind, 0) > 0
        assert 0 <= fault.start < duration and fault.duration > 0
        assert fault.end <= duration + 1e-6
        assert set(fault.targets) <= set(NODES) and fault.targets


@settings(max_examples=60, deadline=None)
@given(seeds, configs)
def test_never_more_than_f_nodes_down_and_one_partition_at_a_time(seed, config):
    schedule = generate(seed, NODES, 200, config)
    f = (len(NODES) - 1) // 3
    for moment in sorted({fault.start for fault in schedule.faults}):
        active = schedule.active_at(moment)
        down = {n for fault in active if fault.kind in PROCESS_KINDS for n in fault.targets}
        assert len(down) <= f, f"{sorted(down)} down at {moment}"
        assert sum(fault.kind == "partition" for fault in active) <= 1


def test_partition_faults_carry_a_valid_grudge():
    schedule = generate(3, NODES, 600, ScheduleConfig(weights={"partition": 1}, lanes=1,
                                                      primary="n1"))
    shapes = {fault.params["shape"] for fault in schedule.faults}
    assert len(shapes) >= 4, f"only {shapes} in a long partition-only schedule"
    for fault in schedule.faults:
        grudge = {n: frozenset(g) for n, g in fault.params["grudge"].items()}
        assert set(grudge) == set(NODES)
        assert partitions.links_to_cut(grudge), "a partition that cuts nothing"
        if fault.params["shape"] == "isolate-primary":
            assert grudge["n1"] == set(NODES) - {"n1"}


def test_vocabulary_is_respected_and_checked():
    schedule = generate(1, NODES, 300, ScheduleConfig(weights={"latency": 1, "kill": 0}))
    assert {fault.kind for fault in schedule.faults} == {"latency"}
    assert all(fault.params["latency_ms"] > 0 for fault in schedule.faults)
    with pytest.raises(ValueError, match="unknown fault kinds"):
        ScheduleConfig(weights={"meteor": 1})
    with pytest.raises(ValueError, match="positive weight"):
        ScheduleConfig(weights={"kill": 0})


def test_small_clusters_get_no_process_faults_beyond_f():
    schedule = generate(5, ("a", "b", "c"), 300, ScheduleConfig(weights={"kill": 1}))
    assert schedule.faults == (), "f = 0 for 3 nodes: nothing may be killed"


def test_describe_and_replay_option():
    schedule = generate(9, NODES, 60)
    assert schedule.replay_option() == "--prsm-seed=9"
    lines = schedule.describe()
    assert len(lines) == len(schedule.faults)
    assert all(f.kind in line for f, line in zip(schedule.faults, lines, strict=True))


@given(seeds, st.integers(1, 50), st.integers(0, 10), st.integers(1, 4))
def test_round_scoped_partitions_are_partitions_within_their_rounds(seed, rounds, count,
                                                                    span):
    scoped = round_scoped_partitions(seed, NODES, rounds, count, max_span=span)
    assert len(scoped) == count
    assert scoped == round_scoped_partitions(seed, NODES, rounds, count, max_span=span)
    for fault in scoped:
        members = [node for block in fault.blocks for node in block]
        assert sorted(members) == sorted(NODES) and len(fault.blocks) >= 2
        assert 0 <= fault.first_round <= fault.last_round < rounds
        assert fault.last_round - fault.first_round < span


def test_round_partition_drops_only_cross_block_messages_in_its_rounds():
    fault = RoundPartition(3, 4, (("n1", "n2"), ("n3", "n4")))
    assert fault.drops(3, "n1", "n3") and fault.drops(4, "n4", "n2")
    assert not fault.drops(3, "n1", "n2"), "same block"
    assert not fault.drops(2, "n1", "n3") and not fault.drops(5, "n1", "n3"), "other rounds"
    assert dropped([fault], 4, "n3", "n1") and not dropped([fault], 5, "n3", "n1")
    grudge = fault.grudge(["n1", "n2", "n3", "n4"])
    assert partitions.links_to_cut(grudge) == {
        (a, b) for a in ("n1", "n2") for b in ("n3", "n4")} | {
        (b, a) for a in ("n1", "n2") for b in ("n3", "n4")}
    assert RoundPartition.from_json(json.loads(json.dumps(fault.to_json()))) == fault
