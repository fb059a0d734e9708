"""Per-endpoint, per-second HDR histograms and counts, mergeable across processes.

Used inside Locust processes (no gevent-specific code here) and in pytest to merge results.
Latencies are microseconds in the histograms (encoded, base64, for transport between the
Locust workers, the master and pytest); series count requests, failures and interrupted
requests per endpoint per second of the run.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from prsm_validate.sla.store import new_histogram, to_us

__all__ = ["SPEC_FILE_ENV", "Recorder", "new_histogram", "split_key"]
SPEC_FILE_ENV = "PRSM_LOAD_SPEC_FILE"  # where the engine's master finds the run's plan
REQUESTS, FAILURES, INTERRUPTED = 0, 1, 2  # positions in a series entry


@dataclass
class Recorder:
    """Samples of one process (or the merge of several)."""

    # "endpoint|second" -> histogram of that endpoint's latencies in that second of the run
    histograms: dict[str, HdrHistogram] = field(default_factory=dict)
    # second -> endpoint -> [requests, failures, interrupted]
    series: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    # requests per generator process (a worker's id, "local" without workers)
    sources: dict[str, int] = field(default_factory=dict)
    drained: int = 0  # requests handed on by earlier drains
    own: int = 0  # requests this process sent since the last drain

    def record(self, name: str, latency_ms: float, failed: bool, second: int,
               interrupted: bool = False) -> None:
        """One request of endpoint ``name`` that took ``latency_ms`` (a lower bound when the
        end of the run ``interrupted`` it)."""
        key = f"{name}|{second}"
        hist = self.histograms.get(key)
        if hist is None:  # not setdefault: a histogram is too costly to build per request
            hist = self.histograms[key] = new_histogram()
        hist.record_value(to_us(latency_ms))
        counts = self.series.setdefault(second, {}).get(name)
        if counts is None:
            counts = self.series[second][name] = [0, 0, 0]
        counts[REQUESTS] += 1
        self.own += 1
        counts[FAILURES] += failed
        counts[INTERRUPTED] += interrupted

    def drain(self, source: str | None = None) -> dict[str, Any]:
        """Everything recorded since the last drain, as JSON-safe data; resets."""
        self.drained += self._recorded()
        sources = dict(self.sources)
        if source is not None and self.own:
            sources[source] = sources.get(source, 0) + self.own
        self.own = 0
        data = {"histograms": {n: base64.b64encode(h.encode()).decode()
                               for n, h in self.histograms.items()},
                "series": {str(k): v for k, v in self.series.items()}, "sources": sources}
        self.histograms, self.series, self.sources = {}, {}, {}
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
            for name, counts in names.items():
                mine = bucket.setdefault(name, [0, 0, 0])
                for index, value in enumerate(counts):
                    mine[index] += value
        for source, requests in data.get("sources", {}).items():
            self.sources[source] = self.sources.get(source, 0) + requests

    def requests_so_far(self) -> int:
        """Requests recorded or merged by this recorder since it was made."""
        return self.drained + self._recorded()

    def _recorded(self) -> int:
        return sum(c[REQUESTS] for names in list(self.series.values()) for c in names.values())


def split_key(key: str) -> tuple[str, int]:
    """``(endpoint, second)`` of a histogram key."""
    name, _, second = key.rpartition("|")
    return name, int(second)
