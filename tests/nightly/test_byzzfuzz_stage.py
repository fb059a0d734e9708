"""The nightly's ByzzFuzz and Twins stages search the simulator within their time and pass
on the shipped PBFT; the night's stages start with them."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from prsm_validate.nightly.byzzfuzz import ByzzFuzzStage, TwinsStage
from prsm_validate.nightly.stages import registered


@dataclass
class _Options:
    seed: int = 3


class _Night:
    """The two clocks a stage reads, for a stage of ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.options = _Options()
        self.deadline = time.monotonic() + seconds

    def stage_left(self) -> float:
        return self.deadline - time.monotonic()

    def stage_over(self) -> bool:
        return self.stage_left() <= 0


@pytest.mark.parametrize("stage", [ByzzFuzzStage(), TwinsStage()], ids=["byzzfuzz", "twins"])
def test_the_stage_searches_within_its_time_and_passes_on_the_shipped_code(stage):
    started = time.monotonic()
    result = stage.run(_Night(3.0))
    assert time.monotonic() - started < 30  # bounded by its slices, not a timing assertion
    assert result.verdict == "pass", result.details
    assert result.figures["schedules"] > 0
    assert result.scenarios == {f"{stage.name}-sim": "pass"}


def test_nights_begin_with_the_byzzfuzz_stage_and_end_with_chaos():
    names = [stage.name for stage in registered()]
    assert names[:2] == ["byzzfuzz", "twins"] and names[-1] == "chaos"
