"""Stages of a night: the extension point of ``prsm-validate nightly``.

A night runs its stages in order; the built-in ones are ``byzzfuzz`` and ``twins`` (simulated
ByzzFuzz and Twins schedules, :mod:`prsm_validate.nightly.byzzfuzz`) and ``chaos``
(randomised schedules of every family with the load soak, :mod:`prsm_validate.nightly.chaos`).
More stages come from the entry point group ``prsm_validate.nightly_stages`` (each names a
callable returning a :class:`Stage`), e.g. a rotating sample of planted defects. A stage gets
``share`` of the chaos time left when it begins (the last stage gets the rest), must stop when
``night.stage_over()`` says so, and returns a :class:`StageResult`: its verdict, the failure
classes it found, one verdict per scenario (for regressions across nights), figures (for
drifts) and details for the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from prsm_validate.nightly.night import Night

ENTRY_POINT_GROUP = "prsm_validate.nightly_stages"


@dataclass
class StageResult:
    """What one stage found."""

    name: str
    verdict: str  # pass | fail | unknown | skipped
    reason: str = ""
    failure_classes: list[str] = field(default_factory=list)
    scenarios: dict[str, str] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Plain data for summary.json."""
        return dict(self.__dict__)


class Stage(Protocol):
    """One part of a night."""

    name: str
    share: float  # fraction of the chaos time left when the stage begins

    def run(self, night: Night) -> StageResult:
        """Run within ``night.stage_over()``; never raise for a finding, return it. A stage
        may also offer ``partial_result() -> StageResult``: what it found before the night
        was interrupted in it (the hard deadline, Ctrl-C)."""
        ...


def registered() -> list[Stage]:
    """The built-in ByzzFuzz and Twins simulator stages, the stages other packages register,
    then the built-in chaos stage."""
    from prsm_validate.nightly.byzzfuzz import ByzzFuzzStage, TwinsStage
    from prsm_validate.nightly.chaos import ChaosStage

    stages: list[Stage] = [ByzzFuzzStage(), TwinsStage()]
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        stages.append(point.load()())
    return [*stages, ChaosStage()]  # chaos last: it takes whatever time the others left
