"""Memory over the night: the harness process's RSS (and the whole process tree's), sampled
in a thread, with the peak and the slope of a least-squares line (MB per hour).

The slope is fitted after a warm-up (the first tenth of the samples, at least one minute),
when imports, connection pools and the first histograms have settled; a bounded process has a
slope near zero however long it runs.

:func:`release_free_memory` hands freed heap back to the system after each soak segment and
trial: merging a segment decodes hundreds of HDR histograms (~90 KB each, under glibc's mmap
threshold, in the soak thread's own arena); freed but not trimmed, the arenas fragment and the
RSS creeps up by tens of MB an hour although the Python heap stays flat (tracemalloc shows it).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psutil

MB = 1024 * 1024


@dataclass
class RssSampler:
    """Samples ``(seconds, harness MB, tree MB)`` every ``interval_s``."""

    interval_s: float = 5.0
    samples: list[tuple[float, float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.process = psutil.Process(os.getpid())
        self.started = time.monotonic()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True, name="nightly-rss")

    def start(self) -> RssSampler:
        """Begin sampling."""
        self.sample()
        self.thread.start()
        return self

    def finish(self) -> dict[str, Any]:
        """Stop; the figures for the summary."""
        self.stop.set()
        self.thread.join(self.interval_s + 1)
        self.sample()
        return self.figures()

    def _main(self) -> None:
        while not self.stop.wait(self.interval_s):
            self.sample()

    def sample(self) -> None:
        """Take one sample now."""
        own = self.process.memory_info().rss / MB
        tree = own
        for child in self.process.children(recursive=True):
            try:
                tree += child.memory_info().rss / MB
            except psutil.Error:
                continue
        self.samples.append((time.monotonic() - self.started, own, tree))

    def figures(self) -> dict[str, Any]:
        """Peak and slope of the harness's RSS, peak of the tree's."""
        if not self.samples:
            return {}
        harness = [(t, own) for t, own, _ in self.samples]
        return {"harness_peak_rss_mb": round(max(v for _, v in harness), 1),
                "harness_rss_mb_per_hour": slope_per_hour(harness),
                "tree_peak_rss_mb": round(max(tree for _, _, tree in self.samples), 1),
                "rss_samples": len(self.samples),
                "rss_span_s": round(self.samples[-1][0], 1),
                "rss_series": [[round(t, 1), round(own, 1)] for t, own, _ in self.samples]}


def release_free_memory() -> None:
    """``malloc_trim(0)`` where the C library has it (glibc); nothing elsewhere."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    trim = getattr(libc, "malloc_trim", None)
    if trim is not None:
        trim(0)


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of ``(seconds, MB)`` after the warm-up, in MB per hour."""
    warm = max(len(points) // 10, sum(1 for t, _ in points if t < 60))
    fitted = points[warm:]
    if len(fitted) < 3:
        return None
    n = len(fitted)
    mean_t = sum(t for t, _ in fitted) / n
    mean_v = sum(v for _, v in fitted) / n
    var = sum((t - mean_t) ** 2 for t, _ in fitted)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in fitted)
    return round(cov / var * 3600, 2)


def plot_points(samples: list[tuple[float, float, float]]) -> list[tuple[float, float]]:
    """``(seconds, harness MB)`` of every sample."""
    return [(t, own) for t, own, _ in samples]
