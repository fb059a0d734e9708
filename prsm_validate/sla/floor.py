"""Calibrated SLAs: a latency threshold is judged beside this machine's own floor.

Every latency condition on ``http_req_duration`` (``avg min max med p(N)`` with ``<`` or
``<=``) gets a floor: requests made with the same HTTP client to a no-op endpoint on this
machine (:mod:`prsm_validate.sla.floor_server`). When the floor alone breaks the threshold, no
system could meet it here: the verdict is ``unknown`` with that reason (a skip in a plain run,
not-measured in a gate). Otherwise the verdict stands and the floor is reported beside it.

The floor is *paired* when the test's metric store was (:meth:`FloorServer.sampler`, set up by
the ``prsm_metrics`` fixture): one no-op request right after each of the test's requests, in
the same thread. It then shares the test's seconds: a burst of contention on a busy machine
(another job, a compaction) that slows the system's requests slows its neighbours too, where a
floor measured after the test would have seen a quiet machine and let the burst fail the
system. Without pairing (a store filled another way), the floor is the same number of
requests from as many client threads, measured after the test.

The decision rule is a guard band, as in ISO 14253-1's rules for proving conformance with a
measuring instrument's uncertainty: the machine's overhead only ever adds latency, so a
measured value within the threshold proves the system met it (pass), but a breach proves a
defect only when it exceeds the threshold by more than the floor (fail). A breach within the
floor is ``unknown`` with that reason.

For a remote target the floor is the harness's host and its HTTP client only: it excludes the
network to the target, so it can explain a breach by this machine, never by the network.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from hdrh.histogram import HdrHistogram

from prsm_validate.sla.evaluate import Result, duration_text, measure_histogram
from prsm_validate.sla.store import MetricStore, Trend, new_histogram, to_us
from prsm_validate.sla.thresholds import Condition, Threshold

FLOORED_METRICS = frozenset({"http_req_duration"})
LATENCY_AGGREGATIONS = frozenset({"avg", "min", "max", "med", "p"})
MIN_SAMPLES, MAX_SAMPLES = 100, 2_000
Measure = Callable[[int, int], HdrHistogram]  # (samples, threads) -> histogram (us)


def applies(threshold: Threshold, condition: Condition) -> bool:
    """True for an upper bound on a latency aggregation of a floored metric."""
    return (threshold.selector.name in FLOORED_METRICS and condition.op in ("<", "<=")
            and condition.aggregation in LATENCY_AGGREGATIONS)


def calibrate(thresholds: list[Threshold], results: list[Result], store: MetricStore,
              measure: Measure, remote: bool = False) -> list[Result]:
    """``results`` (as :func:`~prsm_validate.sla.evaluate.evaluate` returned them for
    ``thresholds``) with the floor of every latency condition measured and applied: the
    store's paired floor where it has one, else measured now."""
    floors: dict[tuple[int, int], HdrHistogram] = {}
    pairs = [(t, c) for t in thresholds for c in t.conditions]
    calibrated = []
    for (threshold, condition), result in zip(pairs, results, strict=True):
        shape = _shape(threshold, store)
        if not applies(threshold, condition) or shape is None or result.measured is None:
            calibrated.append(result)
            continue
        paired = _paired(threshold, store)
        if paired is not None:
            calibrated.append(_apply(result, condition, paired, shape, remote, paired=True))
            continue
        if shape not in floors:
            floors[shape] = measure(*shape)
        calibrated.append(_apply(result, condition, floors[shape], shape, remote))
    return calibrated


def _paired(threshold: Threshold, store: MetricStore) -> HdrHistogram | None:
    """The paired floor of the threshold's series, if every one of their samples has its
    pair (a partial pairing would compare the system with a different stretch of time)."""
    if store.paired is None:
        return None
    mine = store.matching(threshold.selector.name, threshold.selector.tags)
    theirs = store.paired.matching(threshold.selector.name, threshold.selector.tags)
    merged = new_histogram()
    for series in theirs:
        if isinstance(series, Trend):
            merged.add(series.total())
    wanted = sum(s.total().get_total_count() for s in mine if isinstance(s, Trend))
    return merged if wanted and merged.get_total_count() == wanted else None


def _shape(threshold: Threshold, store: MetricStore) -> tuple[int, int] | None:
    """(samples, threads) of the workload behind a metric; None for load-run histograms
    (their concurrency is Locust's, not a thread count)."""
    series = [s for s in store.matching(threshold.selector.name, threshold.selector.tags)
              if isinstance(s, Trend)]
    if not series or any(s.merged_from_load for s in series):
        return None
    samples = sum(s.total().get_total_count() for s in series)
    threads = len(set().union(*(s.recorders for s in series))) or 1
    return max(MIN_SAMPLES, min(MAX_SAMPLES, samples)), threads


def _apply(result: Result, condition: Condition, floor: HdrHistogram, shape: tuple[int, int],
           remote: bool, paired: bool = False) -> Result:
    value = measure_histogram(condition, floor)
    if value is None:
        return result
    samples, threads = shape
    where = ("the harness's host (the network to the target is not included)" if remote
             else "this machine")
    how = (f"one right after each of the test's {floor.get_total_count()} requests, in the "
           "same thread" if paired else f"{threads} thread(s), {samples} requests after the test")
    note = f"floor: a no-op HTTP endpoint on {where}, same client, {how}"
    threshold = duration_text(condition.value)
    if not _within(value, condition):
        reason = (f"{where}'s floor for {result.aggregation} is {duration_text(value)}, above "
                  f"the {threshold} threshold: the verdict would be about the machine, not the "
                  f"system ({note})")
    elif (result.verdict == "fail" and result.measured is not None
          and _within(result.measured - value, condition)):
        reason = (f"the breach is smaller than {where}'s floor for {result.aggregation} "
                  f"({duration_text(value)}): measured minus floor is within the {threshold} "
                  f"threshold, so the breach cannot be told from the machine; a breach beyond "
                  f"threshold plus floor fails ({note})")
    else:
        return replace(result, floor=value, floor_note=note)
    return replace(result, verdict="unknown", floor=value, floor_note=note, reason=reason,
                   machine_floor=True)


def _within(value: float, condition: Condition) -> bool:
    return value < condition.value if condition.op == "<" else value <= condition.value


class FloorServer:
    """The no-op server in its own process, started on first use, stopped with the session."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self.url: str | None = None
        self._lock = threading.Lock()

    def start(self) -> str:
        """Start (once) and wait until it answers; returns its URL."""
        with self._lock:
            if self.url is None:
                self.url = self._launch()
            return self.url

    def _launch(self) -> str:
        from prsm_validate.targets.probes import http_ok
        from prsm_validate.waiting import eventually
        from reference_system.ports import free_ports

        port = free_ports(1)[0]
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "prsm_validate.sla.floor_server", "--port", str(port),
             "--parent", str(os.getpid())], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        eventually(lambda: self._ready(url, http_ok), 30.0, what="the SLA floor server")
        return url

    def _ready(self, url: str, http_ok: Callable[[str], bool]) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"the SLA floor server exited ({self._proc.returncode})")
        try:
            return http_ok(url + "/")
        except OSError:
            return False

    def measure(self, samples: int, threads: int) -> HdrHistogram:
        """``samples`` GETs split over ``threads`` client threads; latencies in us."""
        url = self.start()
        merged = new_histogram()
        lock = threading.Lock()
        share = [samples // threads + (i < samples % threads) for i in range(threads)]
        workers = [threading.Thread(target=_client, args=(url, n, merged, lock))
                   for n in share]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return merged

    def sampler(self) -> PairedSampler:
        """A paired sampler: each call is one no-op request from the calling thread (ms)."""
        return PairedSampler(self.start())

    def stop(self) -> None:
        """Stop the server process."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc, self.url = None, None


class PairedSampler:
    """One no-op request per call, from the calling thread's own keep-alive client (the
    harness's HTTP client, timed as the API client times its calls)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()
        self._clients: list[Any] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        http = getattr(self._local, "http", None)
        if http is None:
            import httpx

            http = self._local.http = httpx.Client(base_url=self.url, timeout=10.0,
                                                   trust_env=False)
            with self._lock:
                self._clients.append(http)
        return http.get("/floor").elapsed.total_seconds() * 1000

    def close(self) -> None:
        """Close every thread's client."""
        with self._lock:
            clients, self._clients = self._clients, []
        for http in clients:
            http.close()


def _client(url: str, count: int, merged: HdrHistogram, lock: threading.Lock) -> None:
    """One client thread, with the harness's HTTP client (httpx, keep-alive)."""
    import httpx

    mine = new_histogram()
    with httpx.Client(base_url=url, timeout=10.0, trust_env=False) as http:
        for _ in range(count):  # timed as the API client times its calls
            response = http.get("/floor")
            mine.record_value(to_us(response.elapsed.total_seconds() * 1000))
    with lock:
        merged.add(mine)
