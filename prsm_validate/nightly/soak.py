"""The load soak: a fixed arrival rate against the API for the whole chaos phase, judged by
SLA thresholds (k6 syntax, :mod:`prsm_validate.sla`).

Load runs in consecutive segments of the open-model engine (Locust in its own processes, up to
two minutes each, so no run holds a night of per-second histograms; between two segments the
API gets no soak load for the few seconds Locust takes to start); each
segment logs in afresh (tokens expire on long nights) and is folded into one
:class:`~prsm_validate.sla.store.MetricStore` for the night (per-second histograms, packed as
they age, so memory stays small over hours) and into a per-second series for the plot. The
last segment ends when chaos ends; a segment that cannot run makes the soak "unknown".
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from prsm_validate.nightly.budget import Budget
from prsm_validate.nightly.resources import release_free_memory
from prsm_validate.targets.base import Deployment

# Judged while faults are in force (on the replicas, the pipeline and the edge, not on the API
# these endpoints need) and on the machine that runs the chaos and the load generator: the
# error-rate seed target as it is, latency bounds that catch a stall or a collapse, not the
# steady-state targets (API p95 < 100 ms, memory p99 < 50 ms: scenarios/sla judges those).
DEFAULT_THRESHOLDS = (
    "http_req_failed: rate<0.01",  # error rate < 1% (seed target)
    "http_req_duration{name:me}: p(95)<250ms",
    "http_req_duration{name:memory_get}: p(99)<500ms",
    "http_reqs: count>0",  # the soak ran
)
HOT_KEY = "nightly-soak-hot"
STARTUP_S = 5.0  # what a Locust segment takes to start on a busy machine


@dataclass
class SoakPoint:
    """One second of the soak: when (seconds since the night began), requests, p99 (ms)."""

    at_s: float
    requests: int
    failures: int
    p99_ms: float


@dataclass
class Soak:
    """Runs the soak in a thread; :meth:`finish` stops it and returns the SLA results."""

    deployment: Deployment
    budget: Budget
    rate: float
    thresholds: tuple[str, ...] = DEFAULT_THRESHOLDS
    segment_s: float = 60.0
    night_started_wall: float = field(default_factory=time.time)
    points: list[SoakPoint] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    segments: int = 0

    def __post_init__(self) -> None:
        from prsm_validate.sla.store import MetricStore

        self.store = MetricStore()
        self.stop = threading.Event()
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True, name="nightly-soak")

    def start(self) -> Soak:
        """Begin the soak."""
        self.thread.start()
        return self

    def finish(self, now: bool = False) -> list[dict[str, Any]]:
        """Stop after the running segment (it ends with chaos), or ``now`` (an interrupted
        night: that segment is dropped), and judge the thresholds."""
        from prsm_validate.sla.evaluate import evaluate_lines

        self.stop.set()
        if now:
            self.cancel.set()
        self.thread.join(self.budget.cap(self.segment_s + 45))
        if self.thread.is_alive():  # a segment still going past the cap: killed, dropped
            self.cancel.set()
            self.thread.join(10)
        results = [r.to_json() for r in evaluate_lines(self.thresholds, self.store)]
        if self.errors:  # a segment that did not run leaves the soak undecided
            results.append({"source": "sla", "name": "soak", "threshold": "every segment ran",
                            "verdict": "unknown", "measured": None, "window": "the night",
                            "reason": self.errors[0]})
        return results

    def _main(self) -> None:
        # A segment ends with chaos: its length leaves room for Locust's own start-up.
        while not self.stop.is_set() and self.budget.chaos_left() >= STARTUP_S + 5:
            length = min(self.segment_s, self.budget.chaos_left() - STARTUP_S)
            try:
                self._segment(length)
            except Exception as exc:  # recorded; the soak goes on with the next segment
                if self.cancel.is_set():
                    return
                self.errors.append(f"segment {self.segments + 1}: {type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0] if str(exc) else ''}")
                self.stop.wait(2.0)
            self.segments += 1

    def _segment(self, length: float) -> None:
        from prsm_validate.load.engine import run_load

        headers, endpoints = self._prepare()
        result = run_load(self.deployment.api_url, endpoints, model="open", rate=self.rate,
                          duration_s=max(1.0, round(length)), headers=headers, progress=False,
                          max_requests=int(self.rate * length) + 10, timeout_s=5.0,
                          cancel=self.cancel)
        result.record_into(self.store)
        self._fold(result)
        del result
        release_free_memory()

    def _prepare(self) -> tuple[dict[str, str], list[Any]]:
        """A fresh token and the endpoints the target's profile has (the hot key is set)."""
        from prsm_validate.client.api import ApiClient
        from prsm_validate.client.profiles import PROFILES
        from prsm_validate.load.engine import Endpoint

        routes = PROFILES[self.deployment.profile]
        with ApiClient(self.deployment.api_url, self.deployment.profile) as api:
            if self.deployment.credentials is not None:
                login = api.login(self.deployment.credentials)
                if not login.ok:
                    raise RuntimeError(f"soak login failed: HTTP {login.status}")
            if "memory_set" in routes:
                api.call("memory_set", {"key": HOT_KEY, "value": {"hot": True}})
            token = api.token
        endpoints = [Endpoint("me", routes["me"].method, routes["me"].path, weight=1)]
        if "memory_get" in routes:
            get = routes["memory_get"]
            endpoints.append(Endpoint("memory_get", get.method, get.path, {"key": HOT_KEY}, 2))
        return ({"Authorization": f"Bearer {token}"} if token else {}), endpoints

    def _fold(self, result: Any) -> None:
        from prsm_validate.sla.store import new_histogram

        offset = result.started - self.night_started_wall
        by_second: dict[int, Any] = {}
        for (_, second), hist in result.per_second.items():
            by_second.setdefault(second, new_histogram()).add(hist)
        for second, names in sorted(result.series.items()):
            hist = by_second.get(second)
            p99 = hist.get_value_at_percentile(99) / 1000 if hist is not None else 0.0
            self.points.append(SoakPoint(round(offset + second, 3),
                                         sum(c[0] for c in names.values()),
                                         sum(c[1] for c in names.values()), p99))

    def figures(self) -> dict[str, Any]:
        """Whole-soak figures for the summary and the trend."""
        from prsm_validate.sla.store import new_histogram

        out: dict[str, Any] = {"segments": self.segments, "rate": self.rate}
        failed = self.store.matching("http_req_failed", ())
        hits = sum(s.window(0, 1 << 62)[0] for s in failed)  # type: ignore[union-attr]
        trials = sum(s.window(0, 1 << 62)[1] for s in failed)  # type: ignore[union-attr]
        out.update(requests=trials, failed_rate=round(hits / trials, 5) if trials else None)
        for name in ("me", "memory_get"):
            series = self.store.matching("http_req_duration", (("name", name),))
            total = new_histogram()
            for trend in series:
                total.add(trend.total())  # type: ignore[union-attr]
            if total.get_total_count():
                out[f"{name}_p95_ms"] = round(total.get_value_at_percentile(95) / 1000, 3)
                out[f"{name}_p99_ms"] = round(total.get_value_at_percentile(99) / 1000, 3)
        seconds = [p.requests for p in self.points]
        out["achieved_rps"] = round(sum(seconds) / len(seconds), 2) if seconds else None
        return out
