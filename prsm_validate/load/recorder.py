"""Per-endpoint HDR histograms and per-second series, mergeable across processes.

Used inside Locust processes (no gevent-specific code here) and in pytest to merge results.
Latencies are microseconds in the histograms; series count requests and failures per second.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

MAX_US = 3_600_000_000


def new_histogram() -> HdrHistogram:
    """A histogram from 1 us to 1 h with 3 significant digits."""
    return HdrHistogram(1, MAX_US, 3)


@dataclass
class Recorder:
    """Samples of one process (or the merge of several)."""

    # "endpoint|second" -> histogram of that endpoint's latencies in that second of the run
    histograms: dict[str, HdrHistogram] = field(default_factory=dict)
    series: dict[int, dict[str, list[int]]] = field(default_factory=dict)  # sec -> name -> [n, f]

    def record(self, name: str, latency_ms: float, failed: bool, second: int) -> None:
        """One request of endpoint ``name`` that took ``latency_ms``."""
        key = f"{name}|{second}"
        hist = self.histograms.get(key)
        if hist is None:  # not setdefault: a histogram is too costly to build per request
            hist = self.histograms[key] = new_histogram()
        hist.record_value(max(1, min(MAX_US, int(latency_ms * 1000))))
        counts = self.series.setdefault(second, {}).setdefault(name, [0, 0])
        counts[0] += 1
        counts[1] += int(failed)

    def drain(self) -> dict[str, Any]:
        """Everything recorded since the last drain, as JSON-safe data; resets."""
        data = {"histograms": {n: base64.b64encode(h.encode()).decode()
                               for n, h in self.histograms.items()},
                "series": {str(k): v for k, v in self.series.items()}}
        self.histograms, self.series = {}, {}
        return data

    def merge(self, data: dict[str, Any]) -> None:
        """Add drained data (from this or another process)."""
        for name, encoded in data.get("histograms", {}).items():
            other = HdrHistogram.decode(base64.b64decode(encoded))
            if name in self.histograms:
                self.histograms[name].add(other)
            else:
                self.histograms[name] = other
        for second, names in data.get("series", {}).items():
            bucket = self.series.setdefault(int(second), {})
            for name, (count, failures) in names.items():
                mine = bucket.setdefault(name, [0, 0])
                mine[0] += count
                mine[1] += failures


def split_key(key: str) -> tuple[str, int]:
    """``(endpoint, second)`` of a histogram key."""
    name, _, second = key.rpartition("|")
    return name, int(second)
