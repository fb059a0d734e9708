"""Per-test metrics: trends (HDR histograms), rates and counters, with tags, per second.

Every series keeps one bucket per second of the test (aligned to the store's start), so a
threshold can be evaluated over the whole run or over every window. Trend values are recorded
in milliseconds and kept in HDR histograms with microsecond resolution and 3 significant
digits: one live histogram for the whole run, and one per second, encoded (a few hundred bytes
to a few KB) once its second has passed, so memory stays bounded over long runs.

Client threads record while the evaluation, a report or a load merge reads: every series
guards its own buckets with a lock, and readers get copies (an HDR histogram iterated while
another thread records into it raises ``HdrConcurrentModificationException``).

A store may be *paired* (:meth:`MetricStore.pair_with`): after each value of the named
trends, the recording thread takes one sample of a reference (the SLA floor: a no-op request)
and records it under the same name and tags in :attr:`MetricStore.paired`. The reference then
lives through the same seconds, the same contention and the same client threads as the
workload it is compared with.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from hdrh.histogram import HdrHistogram

MAX_US = 3_600_000_000  # one hour
LIVE_SECONDS = 3  # per-second histograms kept decoded; older ones are encoded
TagKey = tuple[tuple[str, str], ...]


def new_histogram() -> HdrHistogram:
    """A latency histogram from 1 us to 1 h, 3 significant digits."""
    return HdrHistogram(1, MAX_US, 3)


def to_us(value_ms: float) -> int:
    """A millisecond value as the histogram's integer microseconds (clamped to its range)."""
    return max(1, min(MAX_US, round(value_ms * 1000)))


class Trend:
    """Durations (or any positive values) in ms: whole-run and per-second HDR histograms."""

    kind = "trend"

    def __init__(self) -> None:
        self._total = new_histogram()
        self._live: dict[int, HdrHistogram] = {}
        self._packed: dict[int, bytes] = {}
        self._lock = threading.Lock()
        self.recorders: set[int] = set()  # threads that recorded (the workload's concurrency)
        self.merged_from_load = False  # histograms measured elsewhere were merged in

    def add(self, second: int, value_ms: float) -> None:
        """Record one value observed in ``second`` of the test."""
        value = to_us(value_ms)
        with self._lock:
            self.recorders.add(threading.get_ident())
            self._total.record_value(value)
            self._bucket(second).record_value(value)

    def add_histogram(self, second: int, histogram: HdrHistogram) -> None:
        """Merge a histogram (e.g. from a load run) observed in ``second``."""
        with self._lock:
            self.merged_from_load = True
            self._total.add(histogram)
            self._bucket(second).add(histogram)

    def total(self) -> HdrHistogram:
        """A copy of the whole-run histogram."""
        merged = new_histogram()
        with self._lock:
            merged.add(self._total)
        return merged

    def _bucket(self, second: int) -> HdrHistogram:
        bucket = self._live.get(second)
        if bucket is None:
            bucket = self._live[second] = self._unpack(second)
            for old in sorted(self._live)[:-LIVE_SECONDS]:
                self._packed[old] = self._live.pop(old).encode()
        return bucket

    def _unpack(self, second: int) -> HdrHistogram:
        packed = self._packed.pop(second, None)
        return new_histogram() if packed is None else HdrHistogram.decode(packed)

    def seconds(self) -> list[int]:
        """The seconds holding samples."""
        with self._lock:
            return sorted({*self._live, *self._packed})

    def window(self, first: int, end: int) -> HdrHistogram:
        """The merged histogram of seconds ``first <= s < end``."""
        merged = new_histogram()
        with self._lock:
            live = [h for s, h in self._live.items() if first <= s < end]
            for hist in live:
                merged.add(hist)
            packed = [p for s, p in self._packed.items() if first <= s < end]
        for data in packed:  # immutable bytes: decoded outside the lock
            merged.add(HdrHistogram.decode(data))
        return merged


class Rate:
    """Trials and hits (e.g. failed requests) per second; the rate is hits / trials."""

    kind = "rate"

    def __init__(self) -> None:
        self.buckets: dict[int, list[int]] = {}  # second -> [hits, trials]
        self._lock = threading.Lock()

    def add(self, second: int, hits: int, trials: int = 1) -> None:
        """Record ``trials`` trials of which ``hits`` were hits."""
        with self._lock:
            bucket = self.buckets.setdefault(second, [0, 0])
            bucket[0] += hits
            bucket[1] += trials

    def seconds(self) -> list[int]:
        """The seconds holding samples."""
        with self._lock:
            return sorted(self.buckets)

    def window(self, first: int, end: int) -> tuple[int, int]:
        """``(hits, trials)`` over seconds ``first <= s < end``."""
        with self._lock:
            inside = [tuple(b) for s, b in self.buckets.items() if first <= s < end]
        return sum(b[0] for b in inside), sum(b[1] for b in inside)


class Counter:
    """A sum per second (requests sent, bytes received, ...)."""

    kind = "counter"

    def __init__(self) -> None:
        self.buckets: dict[int, float] = {}
        self._lock = threading.Lock()

    def add(self, second: int, amount: float) -> None:
        """Add ``amount`` in ``second``."""
        with self._lock:
            self.buckets[second] = self.buckets.get(second, 0.0) + amount

    def seconds(self) -> list[int]:
        """The seconds holding samples."""
        with self._lock:
            return sorted(self.buckets)

    def window(self, first: int, end: int) -> float:
        """The sum over seconds ``first <= s < end``."""
        with self._lock:
            return sum(v for s, v in self.buckets.items() if first <= s < end)


Series = Trend | Rate | Counter
KINDS: dict[str, type[Trend] | type[Rate] | type[Counter]] = {
    "trend": Trend, "rate": Rate, "counter": Counter}


class MetricStore:
    """Thread-safe named, tagged metrics of one test; seconds count from the store's start.

    The store's lock guards its table of series; each series guards its own data.
    """

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.started_wall = time.time()  # aligns results measured in other processes
        self.stopped: float | None = None
        self.series: dict[tuple[str, TagKey], Series] = {}
        self._lock = threading.Lock()
        self.paired: MetricStore | None = None
        self._pair: Callable[[], float] | None = None
        self._paired_names: frozenset[str] = frozenset()

    def pair_with(self, sample: Callable[[], float], names: Iterable[str]) -> MetricStore:
        """After each value of the trends ``names``, record ``sample()`` (ms) under the same
        name and tags in :attr:`paired`, in the recording thread; returns that store."""
        self.paired = MetricStore()
        self._pair, self._paired_names = sample, frozenset(names)
        return self.paired

    def get(self, name: str, kind: str, tags: dict[str, Any]) -> Series:
        """The series ``name`` with exactly ``tags``, created as ``kind`` if new."""
        key = (name, tuple(sorted((k, str(v)) for k, v in tags.items())))
        with self._lock:
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = KINDS[kind]()
        if series.kind != kind:
            raise TypeError(f"metric {name} is a {series.kind}, not a {kind}")
        return series

    def second(self) -> int:
        """The current second of the test."""
        return int(time.monotonic() - self.started)

    def second_of(self, wall_time: float) -> int:
        """The second of the test at wall-clock ``wall_time`` (from another process)."""
        return max(0, int(wall_time - self.started_wall))

    def trend(self, name: str, value_ms: float, /, **tags: Any) -> None:
        """Record a duration (or any trend value) in milliseconds."""
        trend = self.get(name, "trend", tags)
        trend.add(self.second(), value_ms)
        if self._pair is not None and self.paired is not None and name in self._paired_names:
            self.paired.trend(name, self._pair(), **tags)

    def rate(self, name: str, hit: bool, /, **tags: Any) -> None:
        """Record one trial of a rate (e.g. whether a request failed)."""
        rate = self.get(name, "rate", tags)
        rate.add(self.second(), int(hit))

    def count(self, name: str, n: float = 1, /, **tags: Any) -> None:
        """Add ``n`` to a counter."""
        counter = self.get(name, "counter", tags)
        counter.add(self.second(), float(n))

    def add_histogram(self, name: str, second: int, histogram: HdrHistogram, /,
                      **tags: Any) -> None:
        """Merge a trend histogram in microseconds measured elsewhere (a load run)."""
        trend = self.get(name, "trend", tags)
        trend.add_histogram(second, histogram)

    def add_rate(self, name: str, second: int, hits: int, trials: int, /, **tags: Any) -> None:
        """Add ``trials`` trials with ``hits`` hits measured elsewhere."""
        rate = self.get(name, "rate", tags)
        rate.add(second, hits, trials)

    def add_count(self, name: str, second: int, amount: float, /, **tags: Any) -> None:
        """Add ``amount`` to a counter in ``second`` (measured elsewhere)."""
        counter = self.get(name, "counter", tags)
        counter.add(second, amount)

    @contextlib.contextmanager
    def timer(self, name: str, /, **tags: Any) -> Iterator[None]:
        """Time the ``with`` block into trend ``name``."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.trend(name, (time.perf_counter() - started) * 1000, **tags)

    def stop(self) -> None:
        """Freeze the store's duration (the test body has ended)."""
        self.stopped = self.stopped or time.monotonic()
        self._pair = None

    def duration_s(self) -> float:
        """Seconds from the store's start to its stop (or now)."""
        return (self.stopped or time.monotonic()) - self.started

    def matching(self, name: str, tags: Iterable[tuple[str, str]]) -> list[Series]:
        """Every series of ``name`` carrying ``tags`` (and possibly more)."""
        wanted = tuple(tags)
        with self._lock:
            return [s for (n, key), s in self.series.items()
                    if n == name and all(pair in key for pair in wanted)]

    def summary(self) -> dict[str, Any]:
        """JSON-safe figures per series: count and quantiles for trends, rates, sums."""
        with self._lock:
            items = list(self.series.items())
        return {_label(name, key): _describe(series) for (name, key), series in items}


def _label(name: str, key: TagKey) -> str:
    return name + ("{" + ",".join(f"{k}:{v}" for k, v in key) + "}" if key else "")


def _describe(series: Series) -> dict[str, Any]:
    if isinstance(series, Trend):
        h = series.total()
        if not h.get_total_count():
            return {"count": 0}
        return {"count": h.get_total_count(), "avg_ms": round(h.get_mean_value() / 1000, 3),
                "min_ms": h.get_min_value() / 1000,
                **{f"p{p}_ms": h.get_value_at_percentile(p) / 1000 for p in (50, 95, 99)},
                "max_ms": h.get_max_value() / 1000, "seconds": len(series.seconds())}
    if isinstance(series, Rate):
        hits, trials = series.window(0, 1 << 62)
        return {"rate": round(hits / trials, 6) if trials else None, "hits": hits,
                "trials": trials}
    return {"count": series.window(0, 1 << 62)}
