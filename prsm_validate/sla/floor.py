"""Calibrated SLAs: a latency threshold is judged beside this machine's own floor.

After a test, every latency condition on ``http_req_duration`` (``avg min max med p(N)`` with
``<`` or ``<=``) gets a floor: the same number of requests, from as many client threads as
recorded the metric, made with the same HTTP client to a no-op endpoint on this machine
(:mod:`prsm_validate.sla.floor_server`). When the floor alone breaks the threshold, no system
could meet it here: the verdict is ``unknown`` with that reason (a skip in a plain run,
not-measured in a gate). Otherwise the verdict stands and the floor is reported beside it.

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
    ``thresholds``) with the floor of every latency condition measured and applied."""
    floors: dict[tuple[int, int], HdrHistogram] = {}
    pairs = [(t, c) for t in thresholds for c in t.conditions]
    calibrated = []
    for (threshold, condition), result in zip(pairs, results, strict=True):
        shape = _shape(threshold, store)
        if not applies(threshold, condition) or shape is None or result.measured is None:
            calibrated.append(result)
            continue
        if shape not in floors:
            floors[shape] = measure(*shape)
        calibrated.append(_apply(result, condition, floors[shape], shape, remote))
    return calibrated


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
           remote: bool) -> Result:
    value = measure_histogram(condition, floor)
    if value is None:
        return result
    samples, threads = shape
    where = ("the harness's host (the network to the target is not included)" if remote
             else "this machine")
    note = (f"floor: a no-op HTTP endpoint on {where}, same client, {threads} thread(s), "
            f"{samples} requests")
    upper_ok = value < condition.value if condition.op == "<" else value <= condition.value
    if upper_ok:
        return replace(result, floor=value, floor_note=note)
    reason = (f"{where}'s floor for {result.aggregation} is {duration_text(value)}, above the "
              f"{duration_text(condition.value)} threshold: the verdict would be about the "
              f"machine, not the system ({note})")
    return replace(result, verdict="unknown", floor=value, floor_note=note, reason=reason,
                   machine_floor=True)


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
