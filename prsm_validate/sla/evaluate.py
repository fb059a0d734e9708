"""Evaluate thresholds against a metric store: pass, fail, or unknown (no data never passes).

Trend aggregations come from HDR histograms (3 significant digits; ``p(N)`` and ``max`` are the
highest value equivalent to the recorded one, so a measurement never looks better than it was).
With a window (``over 60s``) every window of the test that holds samples must pass; the result
names the first window that did not.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hdrh.histogram import HdrHistogram

from prsm_validate.sla.store import Counter, MetricStore, Rate, Series, Trend, new_histogram
from prsm_validate.sla.thresholds import Condition, Threshold, parse_line

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq}
APPLIES = {"trend": {"avg", "min", "max", "med", "p", "count"}, "rate": {"rate", "count"},
           "counter": {"count", "rate"}}
EVERYTHING = 1 << 62  # an end second beyond any run


@dataclass(frozen=True)
class Result:
    """The verdict of one condition: measured value, threshold and the window it covers."""

    metric: str
    condition: str
    verdict: str  # pass | fail | unknown
    measured: float | None
    window: str
    abort: bool = False
    reason: str = ""
    aggregation: str = ""  # as written: p(99), med, rate, count ...
    unit: str = ""  # "ms" for durations
    floor: float | None = None  # this machine's floor for the same aggregation (sla.floor)
    floor_note: str = ""
    machine_floor: bool = False  # unknown because the machine's floor breaks the threshold

    def measured_text(self) -> str:
        """The measured value with its aggregation and unit, e.g. ``p(99)=16.1ms``."""
        return "no data" if self.measured is None else (
            f"{self.aggregation}={self.figure(self.measured)}")

    def figure(self, value: float) -> str:
        """A value of this result with its unit."""
        return duration_text(value) if self.unit == "ms" else _figure(value)

    def message(self) -> str:
        """A breach as a person reads it: metric, measured value, threshold, window."""
        if self.machine_floor:
            return (f"SLA UNKNOWN: {self.metric} {self.condition} — {self.reason} "
                    f"(measured {self.measured_text()} over {self.window})")
        text = (f"SLA {self.verdict.upper()}: {self.metric} {self.condition}"
                f" — measured {self.measured_text()} over {self.window}")
        if self.floor is not None:
            text += f"; machine floor {self.aggregation}={self.figure(self.floor)}"
        return f"{text} ({self.reason})" if self.reason else text

    def to_json(self) -> dict[str, Any]:
        """For the run summary's threshold table and gate evidence."""
        extra: dict[str, Any] = {"reason": self.reason} if self.reason else {}
        if self.floor is not None:
            extra.update(floor=round(self.floor, 3), floor_note=self.floor_note,
                         machine_floor=self.machine_floor)
        return {"source": "sla", "name": self.metric, "threshold": self.condition,
                "verdict": self.verdict,
                "measured": None if self.measured is None else round(self.measured, 3),
                "measured_text": self.measured_text(), "unit": self.unit,
                "window": self.window, **extra}


def _figure(value: float) -> str:
    """Three significant digits (the histograms' precision), without exponent notation."""
    return f"{float(f'{value:.3g}'):g}" if abs(value) < 1e15 else f"{value:g}"


def duration_text(ms: float) -> str:
    """A duration in milliseconds as a person writes it: ``16.1ms``, ``4.69s``."""
    return f"{_figure(ms / 1000)}s" if abs(ms) >= 1000 else f"{_figure(ms)}ms"


def aggregate(condition: Condition, series: list[Series], first: int = 0,
              end: int = EVERYTHING, duration_s: float | None = None) -> float | None:
    """The condition's aggregation over seconds ``first <= s < end`` (None without data).

    ``duration_s`` is the time covered, for a counter's per-second ``rate``.
    """
    kind = series[0].kind
    if kind == "trend":
        return _trend(condition, [s for s in series if isinstance(s, Trend)], first, end)
    if kind == "rate":
        hits, trials = _sum_pairs(s.window(first, end) for s in series if isinstance(s, Rate))
        if condition.aggregation == "count":
            return float(trials) if trials else None
        return hits / trials if trials else None
    total = sum(s.window(first, end) for s in series if isinstance(s, Counter))
    if condition.aggregation == "count":
        return total
    return total / duration_s if duration_s else None


def _sum_pairs(pairs: Iterable[tuple[int, int]]) -> tuple[int, int]:
    hits = trials = 0
    for h, t in pairs:
        hits, trials = hits + h, trials + t
    return hits, trials


def _trend(condition: Condition, series: list[Trend], first: int, end: int) -> float | None:
    merged = new_histogram()
    for trend in series:
        merged.add(trend.total() if (first, end) == (0, EVERYTHING) else trend.window(first, end))
    return measure_histogram(condition, merged)


def measure_histogram(condition: Condition, merged: HdrHistogram) -> float | None:
    """The condition's aggregation of a histogram of microseconds, in ms (None if empty)."""
    count = merged.get_total_count()
    if not count:
        return None
    agg = condition.aggregation
    if agg == "count":
        return float(count)
    if agg == "avg":
        return merged.get_mean_value() / 1000
    if agg == "min":
        return merged.get_min_value() / 1000
    if agg == "max":
        return merged.get_max_value() / 1000
    percentile = 50.0 if agg == "med" else float(condition.percentile or 0)
    return merged.get_value_at_percentile(percentile) / 1000


def check(threshold: Threshold, condition: Condition, store: MetricStore) -> Result:
    """Evaluate one condition over the whole run, or over every window."""
    series = store.matching(threshold.selector.name, threshold.selector.tags)
    name = str(threshold.selector)
    if not series:
        return _result(name, condition, None, "the whole run", "no sample was recorded")
    kinds = {s.kind for s in series}
    if len(kinds) > 1 or condition.aggregation not in APPLIES[series[0].kind]:
        return _result(name, condition, None, "the whole run",
                       f"{condition.aggregation} does not apply to {'/'.join(sorted(kinds))} "
                       f"metrics; use one of {sorted(APPLIES[series[0].kind])}")
    if condition.window_s is None:
        measured = aggregate(condition, series, duration_s=store.duration_s())
        return _result(name, condition, measured, "the whole run", kind=series[0].kind)
    return _windowed(name, condition, series, store)


def _windowed(name: str, condition: Condition, series: list[Series],
              store: MetricStore) -> Result:
    width = int(condition.window_s or 1)
    seconds = sorted({sec for s in series for sec in s.seconds()})
    starts = sorted({sec // width * width for sec in seconds})
    worst: Result | None = None
    for start in starts:
        covered = min(width, store.duration_s() - start) if store.stopped else width
        measured = aggregate(condition, series, start, start + width, max(covered, 1e-9))
        result = _result(name, condition, measured,
                         f"window {start}s-{start + width}s of the test ({len(starts)} windows)",
                         kind=series[0].kind)
        if result.verdict != "pass":
            return result
        worst = _worse(condition, worst, result)
    return worst or _result(name, condition, None, f"windows of {width}s", "no window had data",
                            series[0].kind)


def _worse(condition: Condition, kept: Result | None, new: Result) -> Result:
    """Of two passing windows, the one closer to breaching (reported as the evidence)."""
    if kept is None or kept.measured is None or new.measured is None:
        return kept or new
    upper = condition.op in ("<", "<=")
    return new if (new.measured > kept.measured) == upper else kept


def _result(name: str, condition: Condition, measured: float | None, window: str,
            reason: str = "", kind: str = "") -> Result:
    if measured is None:
        verdict = "unknown"
    else:
        verdict = "pass" if _OPS[condition.op](measured, condition.value) else "fail"
    unit = "ms" if kind == "trend" and condition.aggregation != "count" else ""
    aggregation = (f"p({condition.percentile:g})" if condition.aggregation == "p"
                   else condition.aggregation)
    return Result(name, condition.text, verdict, measured, window, condition.abort_on_fail,
                  reason, aggregation, unit)


def evaluate(thresholds: list[Threshold], store: MetricStore) -> list[Result]:
    """Every condition of every threshold (the plugin's entry point)."""
    return [check(t, c, store) for t in thresholds for c in t.conditions]


def evaluate_lines(lines: Iterable[str], store: MetricStore) -> list[Result]:
    """Threshold lines ``metric{tag:value}: cond, cond`` against ``store`` (for gate files).

    Raises :class:`~prsm_validate.sla.thresholds.ThresholdSyntaxError` on a malformed line.
    """
    return evaluate([parse_line(line) for line in lines], store)
