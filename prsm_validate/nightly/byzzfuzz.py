"""The nightly's ByzzFuzz stage: part of the night's budget searches ByzzFuzz schedules in
the PBFT simulator (:func:`prsm_validate.generator.byzzfuzz.search`), seeded by the night.

It is cheap (no processes), so it runs first with a small ``share`` of the chaos time; a
violation fails the stage with its replay lines (simulator and real processes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prsm_validate.nightly.stages import StageResult

if TYPE_CHECKING:
    from prsm_validate.nightly.night import Night

MAX_REPORTED = 5
SLICE_S = 5.0  # search in slices, so the stage stops soon after the night says so


class ByzzFuzzStage:
    """Simulated ByzzFuzz search within the stage's time."""

    name = "byzzfuzz"
    share = 0.1

    def run(self, night: Night) -> StageResult:
        """Search slice by slice until the stage's time is over."""
        from prsm_validate.generator import byzzfuzz
        from prsm_validate.seeds import derive_seed

        schedules, seconds, found = 0, 0.0, []
        for part in range(100_000):  # bounded; each slice is at most SLICE_S
            left = night.stage_left()
            if night.stage_over() or left <= 0.5:
                break
            result = byzzfuzz.search(derive_seed(night.options.seed, "byzzfuzz", part), 1_000_000,
                                     min(SLICE_S, left - 0.5))
            schedules, seconds = schedules + result.schedules, seconds + result.seconds
            found += result.found or []
        figures = {"schedules": float(schedules),
                   "schedules_per_s": round(schedules / seconds, 1) if seconds else 0.0}
        details = {"violations": [{"problems": list(f.problems[:3]), "replay": f.replay(),
                                   "schedule": f.schedule.text()}
                                  for f in found[:MAX_REPORTED]]}
        if found:
            return StageResult(self.name, "fail", f"{len(found)} of {schedules} simulated "
                               "schedules violated a property", ["safety"],
                               {"byzzfuzz-sim": "fail"}, figures, details)
        return StageResult(self.name, "pass", f"{schedules} simulated schedules, no violation",
                           [], {"byzzfuzz-sim": "pass"}, figures, details)
