"""Per-test metrics: trends (latencies, in HDR histograms), rates and counters, with tags.

Trend values are milliseconds; the HDR histogram keeps microsecond resolution for exact
quantiles over the whole run, and timestamped samples allow per-window evaluation.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

MAX_US = 3_600_000_000  # one hour
MAX_SAMPLES = 1_000_000  # per series; beyond it only the histogram grows


@dataclass
class Series:
    """One metric with one tag set."""

    kind: str  # trend | rate | counter
    tags: dict[str, str]
    samples: list[tuple[float, float]] = field(default_factory=list)
    histogram: HdrHistogram | None = None

    def add(self, at: float, value: float) -> None:
        """Record ``value`` observed at monotonic time ``at``."""
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append((at, value))
        if self.histogram is not None:
            self.histogram.record_value(max(1, min(MAX_US, int(value * 1000))))


class MetricStore:
    """Thread-safe metrics of one test."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, Series]] = {}
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def _series(self, name: str, kind: str, tags: dict[str, Any], /) -> Series:
        key = (name, tuple(sorted((k, str(v)) for k, v in tags.items())))
        with self._lock:
            if key not in self.series:
                hist = HdrHistogram(1, MAX_US, 3) if kind == "trend" else None
                self.series[key] = (name, Series(kind, dict(key[1]), histogram=hist))
            return self.series[key][1]

    def trend(self, name: str, value_ms: float, /, **tags: Any) -> None:
        """Record a duration (or any trend value) in milliseconds."""
        self._series(name, "trend", tags).add(time.monotonic() - self.started, value_ms)

    def rate(self, name: str, hit: bool, /, **tags: Any) -> None:
        """Record one trial of a rate (e.g. a failed request)."""
        self._series(name, "rate", tags).add(time.monotonic() - self.started, 1.0 if hit else 0.0)

    def count(self, name: str, n: float = 1, /, **tags: Any) -> None:
        """Add ``n`` to a counter."""
        self._series(name, "counter", tags).add(time.monotonic() - self.started, float(n))

    @contextlib.contextmanager
    def timer(self, name: str, /, **tags: Any) -> Iterator[None]:
        """Time the ``with`` block into trend ``name``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.trend(name, (time.perf_counter() - started) * 1000, **tags)

    def matching(self, name: str, tags: tuple[tuple[str, str], ...]) -> list[Series]:
        """Every series of ``name`` carrying ``tags``."""
        with self._lock:
            return [s for n, s in self.series.values()
                    if n == name and all(s.tags.get(k) == v for k, v in tags)]

    def summary(self) -> dict[str, Any]:
        """JSON-safe figures per series (count and quantiles for trends)."""
        out: dict[str, Any] = {}
        for name, series in list(self.series.values()):
            label = name + ("{" + ",".join(f"{k}:{v}" for k, v in series.tags.items()) + "}"
                            if series.tags else "")
            out[label] = _describe(series)
        return out


def _describe(series: Series) -> dict[str, Any]:
    values = [v for _, v in series.samples]
    if series.kind == "trend" and series.histogram is not None and values:
        h = series.histogram
        return {"count": h.get_total_count(), "avg_ms": round(sum(values) / len(values), 3),
                **{f"p{p}_ms": round(h.get_value_at_percentile(p) / 1000, 3)
                   for p in (50, 95, 99)}, "max_ms": round(max(values), 3)}
    if series.kind == "rate":
        return {"rate": round(sum(values) / len(values), 6) if values else None,
                "trials": len(values)}
    return {"count": sum(values)}
