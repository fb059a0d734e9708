"""The merged result of a load run, and how it feeds a metric store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram

from prsm_validate.load.recorder import FAILURES, INTERRUPTED, REQUESTS, new_histogram


@dataclass
class LoadResult:
    """Latencies per endpoint per second (HDR, microseconds) and counts, merged over processes.

    Seconds count from ``started`` (wall clock, seconds since the epoch) so results from several
    processes, or machines with synchronised clocks, line up.
    """

    model: str
    duration_s: float
    started: float
    per_second: dict[tuple[str, int], HdrHistogram] = field(default_factory=dict)
    series: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)  # requests per generator process

    def histogram(self, name: str | None = None) -> HdrHistogram:
        """All latencies (of one endpoint, or of every endpoint) over the run."""
        total = new_histogram()
        for (endpoint, _), hist in self.per_second.items():
            if name is None or endpoint == name:
                total.add(hist)
        return total

    def _count(self, position: int, name: str | None) -> int:
        return sum(c[position] for sec in self.series.values() for n, c in sec.items()
                   if name is None or n == name)

    def requests(self, name: str | None = None) -> int:
        """Requests sent (answered, failed or interrupted)."""
        return self._count(REQUESTS, name)

    def failures(self, name: str | None = None) -> int:
        """Requests that failed: HTTP status >= 400, or no answer (refused, timed out)."""
        return self._count(FAILURES, name)

    def interrupted(self, name: str | None = None) -> int:
        """Requests still out when the run ended (their latency is a lower bound)."""
        return self._count(INTERRUPTED, name)

    def endpoints(self) -> list[str]:
        """The endpoints that got requests."""
        return sorted({n for sec in self.series.values() for n in sec})

    def rps_series(self) -> dict[int, int]:
        """Requests per second of the run (throughput over time)."""
        return {s: sum(c[REQUESTS] for c in names.values())
                for s, names in sorted(self.series.items())}

    def quantiles_ms(self, name: str | None = None) -> dict[str, float]:
        """p50, p95, p99, p99.9 and max in milliseconds (3 significant digits)."""
        hist = self.histogram(name)
        out = {f"p{p:g}": hist.get_value_at_percentile(p) / 1000 for p in (50, 95, 99, 99.9)}
        out["max"] = hist.get_max_value() / 1000
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-safe figures for reports, overall and per endpoint."""
        return {"model": self.model, "requests": self.requests(), "failures": self.failures(),
                "interrupted": self.interrupted(),
                "rps": round(self.requests() / max(self.duration_s, 1e-9), 1),
                **{k: round(v, 3) for k, v in self.quantiles_ms().items()},
                "endpoints": {n: {"requests": self.requests(n), "failures": self.failures(n),
                                  **{k: round(v, 3) for k, v in self.quantiles_ms(n).items()}}
                              for n in self.endpoints()},
                "processes": len(self.sources)}

    def record_into(self, store: Any, prefix: str = "http_req") -> None:
        """Feed latencies, failures and request counts into a metric store, per endpoint and
        second: ``http_req_duration`` (trend), ``http_req_failed`` (rate), ``http_reqs``
        (counter), each tagged ``name:<endpoint>``, aligned with the store's own seconds."""
        offset = store.second_of(self.started)
        for (endpoint, second), hist in self.per_second.items():
            store.add_histogram(f"{prefix}_duration", offset + second, hist, name=endpoint)
        for second, names in self.series.items():
            for endpoint, counts in names.items():
                store.add_rate(f"{prefix}_failed", offset + second, counts[FAILURES],
                               counts[REQUESTS], name=endpoint)
                store.add_count(f"{prefix}s", offset + second, counts[REQUESTS], name=endpoint)
