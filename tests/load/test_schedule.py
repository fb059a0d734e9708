"""Open-model arrival schedules, recorders and the progress bar (pure logic, no processes)."""

from __future__ import annotations

import io
import itertools

import pytest

from prsm_validate.load.progress import Progress, wanted
from prsm_validate.load.recorder import Recorder
from prsm_validate.load.schedule import Stage, arrivals, share, total


def test_a_constant_rate_is_evenly_spaced():
    times = list(arrivals(50, [Stage(2, 50)]))
    assert len(times) == 100 == total(50, [Stage(2, 50)])
    assert times[:3] == [0.0, 0.02, 0.04] and times[-1] == pytest.approx(1.98)


def test_a_ramp_sends_the_area_under_the_rate_and_speeds_up():
    times = list(arrivals(0, [Stage(2, 100)]))  # 0 -> 100/s over 2 s: 100 arrivals
    assert len(times) == 100
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[0] > 5 * gaps[-1], "arrivals get denser as the rate rises"
    # Half the arrivals come after 2 / sqrt(2) s, where the area under the ramp is half.
    assert times[50] == pytest.approx(2 ** 0.5, rel=0.01)


def test_stages_chain_from_rate_to_rate():
    stages = [Stage(1, 100), Stage(1, 100), Stage(1, 0)]  # up, hold, down
    times = list(arrivals(0, stages))
    assert len(times) == pytest.approx(total(0, stages), abs=1) == 200
    in_hold = [t for t in times if 1 <= t < 2]
    assert len(in_hold) == pytest.approx(100, abs=1)
    assert times == sorted(times) and times[-1] < 3


def test_processes_share_the_schedule_exactly():
    whole = list(arrivals(30, [Stage(1, 90)]))
    parts = [list(share(30, [Stage(1, 90)], i, 3, limit=10**6)) for i in range(3)]
    assert sorted(t for part in parts for t in part) == whole
    assert {len(p) for p in parts} <= {len(whole) // 3, len(whole) // 3 + 1}


def test_share_stops_at_the_request_limit():
    assert len(list(share(1000, [Stage(10, 1000)], 0, 1, limit=25))) == 25


def test_recorders_merge_histograms_series_and_sources():
    a, b = Recorder(), Recorder()
    a.record("x", 1.0, False, 0)
    b.record("x", 1.5, True, 0)
    b.record("y", 2.0, False, 1, interrupted=True)
    merged = Recorder()
    merged.merge(a.drain(source="a"))
    merged.merge(b.drain(source="b"))
    assert merged.series == {0: {"x": [2, 1, 0]}, 1: {"y": [1, 0, 1]}}
    assert merged.sources == {"a": 1, "b": 2}
    assert merged.histograms["x|0"].get_total_count() == 2
    assert merged.histograms["x|0"].get_max_value() == 1500  # microseconds, exact below 2 ms
    assert a.requests_so_far() == 1 and merged.requests_so_far() == 3


def test_a_master_drain_does_not_claim_its_workers_requests():
    master = Recorder()
    worker = Recorder()
    worker.record("x", 1.0, False, 0)
    master.merge(worker.drain(source="w1"))
    assert master.drain(source="local")["sources"] == {"w1": 1}


def test_progress_bar_draws_in_place_and_ends_its_line():
    out = io.StringIO()
    bar = Progress(10, "load closed", stream=out, enabled=True)
    bar.update(5, 1000)
    bar.close()
    assert out.getvalue() == ("\rload closed [" + "#" * 15 + "." * 15 + "]  5.0/10s 1000 "
                              "requests (200/s)\n")


def test_progress_is_quiet_in_ci_and_without_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("CI", "true")
    assert not wanted(Tty())
    monkeypatch.setenv("CI", "false")
    assert wanted(Tty()) and not wanted(io.StringIO())
    quiet = io.StringIO()
    bar = Progress(1, "x", stream=quiet)
    bar.update(1, 5)
    bar.close()
    assert quiet.getvalue() == ""
