"""Evaluate thresholds against a metric store: pass, fail, or unknown (no data never passes)."""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

from prsm_validate.sla.store import MetricStore, Series
from prsm_validate.sla.thresholds import Condition, Threshold

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq}


@dataclass(frozen=True)
class Result:
    """The verdict of one condition."""

    metric: str
    condition: str
    verdict: str  # pass | fail | unknown
    measured: float | None
    window: str
    abort: bool = False

    def message(self) -> str:
        """A breach as a person reads it: metric, measured value, threshold, window."""
        measured = "no data" if self.measured is None else f"{self.measured:.6g}"
        return (f"SLA {self.verdict.upper()}: {self.metric} {self.condition}"
                f" — measured {measured} over {self.window}")

    def to_json(self) -> dict[str, Any]:
        """For the run summary's threshold table."""
        return {"source": "sla", "name": self.metric, "threshold":
                self.condition, "verdict": self.verdict,
                "measured": None if self.measured is None else round(self.measured, 3),
                "window": self.window}


def aggregate(condition: Condition, values: list[float], kind: str = "trend") -> float | None:
    """The condition's aggregation of ``values`` (None without data).

    ``count`` is the number of samples of a trend or rate, and the sum of a counter.
    """
    if not values:
        return None if condition.aggregation != "count" else 0.0
    agg = condition.aggregation
    if agg == "count":
        return float(sum(values)) if kind == "counter" else float(len(values))
    if agg in ("avg", "rate"):
        return sum(values) / len(values)
    if agg == "min":
        return min(values)
    if agg == "max":
        return max(values)
    ordered = sorted(values)
    pct = 50.0 if agg == "med" else float(condition.percentile or 0)
    rank = max(0, math.ceil(pct / 100 * len(ordered)) - 1)  # nearest-rank percentile
    return ordered[rank]


def _values(series: list[Series], lo: float = -math.inf, hi: float = math.inf) -> list[float]:
    return [v for s in series for t, v in s.samples if lo <= t < hi]


def check(threshold: Threshold, condition: Condition, store: MetricStore) -> Result:
    """Evaluate one condition over the whole run, or over every window."""
    series = store.matching(threshold.selector.name, threshold.selector.tags)
    name = str(threshold.selector)
    kind = series[0].kind if series else "trend"
    if condition.window_s is None:
        measured = aggregate(condition, _values(series), kind)
        return _result(name, condition, measured, "the whole run")
    return _windowed(name, condition, series)


def _windowed(name: str, condition: Condition, series: list[Series]) -> Result:
    width = float(condition.window_s or 1)
    times = [t for s in series for t, _ in s.samples]
    if not times:
        return _result(name, condition, None, f"windows of {width:g}s")
    worst: Result | None = None
    start = 0.0
    while start <= max(times):
        values = _values(series, start, start + width)
        if values:
            result = _result(name, condition, aggregate(condition, values, series[0].kind),
                             f"window {start:g}s-{start + width:g}s")
            if result.verdict != "pass":
                return result
            worst = worst or result
        start += width
    return worst or _result(name, condition, None, f"windows of {width:g}s")


def _result(name: str, condition: Condition, measured: float | None, window: str) -> Result:
    if measured is None:
        verdict = "unknown"
    else:
        verdict = "pass" if _OPS[condition.op](measured, condition.value) else "fail"
    return Result(name, condition.text, verdict, measured, window, condition.abort_on_fail)


def evaluate(thresholds: list[Threshold], store: MetricStore) -> list[Result]:
    """Every condition of every threshold; for gate files and the plugin."""
    return [check(t, c, store) for t in thresholds for c in t.conditions]
