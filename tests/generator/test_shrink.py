"""Delta debugging (ddmin) over lists and fault schedules: minimal, bounded, reproducible."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from prsm_validate.generator.schedule import ScheduleConfig, generate
from prsm_validate.generator.shrink import ddmin, shrink_schedule, sub_schedule

NODES = ["node-0", "node-1", "node-2", "node-3"]


def test_a_failure_needing_one_element_shrinks_to_it():
    result = ddmin(list(range(16)), lambda xs: 11 in xs, budget_s=10)
    assert result.minimal == (11,) and result.indices == (11,) and result.complete
    assert result.tests <= 12, result.trace  # log2(16) levels, two tests at most per level


def test_a_failure_needing_two_elements_keeps_both():
    result = ddmin(list("abcdefghij"), lambda xs: "c" in xs and "h" in xs, budget_s=10)
    assert result.minimal == ("c", "h") and result.complete


@settings(max_examples=60, deadline=None)
@given(size=st.integers(1, 24), data=st.data())
def test_the_result_is_one_minimal_and_still_fails(size, data):
    needed = data.draw(st.sets(st.integers(0, size - 1), min_size=1, max_size=3))
    result = ddmin(list(range(size)), lambda xs: needed <= set(xs), budget_s=10)
    assert set(result.minimal) == needed  # for a monotone failure 1-minimal is exact


def test_unknown_outcomes_do_not_count_as_failing():
    # Subsets without element 0 cannot be told apart ("unknown"): never a reason to drop 0.
    result = ddmin(list(range(8)), lambda xs: True if 0 in xs and 5 in xs else None, 10)
    assert result.minimal == (0, 5)


def test_the_test_budget_stops_it_with_the_smallest_failing_list_so_far():
    result = ddmin(list(range(32)), lambda xs: 20 in xs, budget_s=10, max_tests=2)
    assert not result.complete and result.tests == 2
    assert 20 in result.minimal and len(result.minimal) == 16


def test_the_time_budget_is_kept_on_its_clock():
    ticks = itertools.count()
    result = ddmin(list(range(64)), lambda xs: 3 in xs, budget_s=3,
                   clock=lambda: float(next(ticks)))
    assert not result.complete and 3 in result.minimal and result.tests <= 3


def test_same_answers_same_tests_in_the_same_order():
    runs = [ddmin(list(range(20)), lambda xs: {4, 17} <= set(xs), 10).trace for _ in range(2)]
    assert [t["indices"] for t in runs[0]] == [t["indices"] for t in runs[1]]


def test_a_failure_with_no_fault_at_all_shrinks_to_nothing():
    assert ddmin(list(range(5)), lambda xs: True, 10).minimal == ()


def test_an_input_that_passes_is_returned_unchanged_when_not_known_to_fail():
    result = ddmin([1, 2, 3], lambda xs: False, 10, known_failing=False)
    assert result.minimal == (1, 2, 3) and result.tests == 1


def test_sub_schedules_keep_durations_and_overlaps_but_drop_idle_time():
    config = ScheduleConfig(min_duration=1, max_duration=3, min_gap=0.5, max_gap=2, lanes=2)
    schedule = generate(7, NODES, 60, config)
    assert len(schedule.faults) >= 10
    chosen = [1, len(schedule.faults) // 2, len(schedule.faults) - 1]
    sub = sub_schedule(schedule, chosen)
    originals = [schedule.faults[i] for i in chosen]
    assert [(f.kind, f.targets, f.duration) for f in sub.faults] == \
        [(f.kind, f.targets, f.duration) for f in originals]
    assert sub.duration < schedule.duration and sub.faults[0].start == config.min_gap
    for (a, b), (x, y) in zip(itertools.combinations(originals, 2),
                              itertools.combinations(sub.faults, 2), strict=True):
        assert (a.start < b.end and b.start < a.end) == (x.start < y.end and y.start < x.end)
    assert sub.seed == schedule.seed and sub.nodes == schedule.nodes


def test_a_schedule_shrinks_to_the_one_fault_that_exposes_the_defect():
    config = ScheduleConfig(min_duration=0.5, max_duration=1.5, min_gap=0.2, max_gap=0.6,
                            primary_faults=0.3)
    schedule = next(s for seed in range(200)
                    if len((s := generate(seed, NODES, 14, config)).faults) >= 8
                    and sum(f.targets == ("@primary",) and f.kind == "pause"
                            for f in s.faults) == 1)

    def fails(candidate):  # the planted defect: only a paused primary exposes it
        return any(f.kind == "pause" and f.targets == ("@primary",) for f in candidate.faults)

    minimal, result = shrink_schedule(schedule, fails, budget_s=10)
    assert len(minimal.faults) == 1 and minimal.faults[0].targets == ("@primary",)
    assert result.complete and schedule.faults[result.indices[0]].kind == "pause"
