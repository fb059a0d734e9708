"""Inline SVG plots for the HTML report: latency scatter and throughput over time with fault
windows shaded (as Jepsen's perf plots do), and small trend lines across runs."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

W, H = 760, 250
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 30, 40  # the top band holds fault labels
LABEL_ROWS = 2
COLORS = {"ok": "#1a7f37", "fail": "#cf222e", "info": "#9a6700"}


@dataclass(frozen=True)
class Sample:
    """One completed operation: when it started (s), how long it took (ms), how it ended."""

    start_s: float
    latency_ms: float
    f: str
    type: str


@dataclass(frozen=True)
class FaultWindow:
    """A fault in force from ``start_s`` to ``end_s`` (None = until the end)."""

    kind: str
    target: str
    start_s: float
    end_s: float | None


def read_history(path: Path) -> tuple[list[Sample], list[FaultWindow]]:
    """Operations and fault windows of one history file."""
    invokes: dict[object, dict] = {}
    samples, opened, windows = [], {}, []
    for line in path.read_text().splitlines():
        event = json.loads(line)
        if event.get("process") == "nemesis":
            _nemesis_event(event, opened, windows)
        elif event["type"] == "invoke":
            invokes[event["process"]] = event
        elif event["process"] in invokes:
            start = invokes.pop(event["process"])
            samples.append(Sample(start["time"] / 1e9, (event["time"] - start["time"]) / 1e6,
                                  event["f"], event["type"]))
    windows += [FaultWindow(k[0], k[1], s, None) for k, s in opened.items()]
    return samples, windows


def _nemesis_event(event: dict, opened: dict, windows: list[FaultWindow]) -> None:
    value = event.get("value") or {}
    key = (event["f"], str(value.get("target")))
    t = event["time"] / 1e9
    if value.get("phase") == "start":
        opened[key] = t
    elif key in opened:
        windows.append(FaultWindow(key[0], key[1], opened.pop(key), t))
    else:
        windows.append(FaultWindow(key[0], key[1], t, t))


def _scale(lo: float, hi: float, out_lo: float, out_hi: float):
    span = (hi - lo) or 1.0
    return lambda v: out_lo + (v - lo) / span * (out_hi - out_lo)


def nice_ticks(hi: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``hi`` (1, 2 or 5 times a power of ten apart)."""
    if hi <= 0:
        return [0.0, 1.0]
    raw = hi / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(math.ceil(hi / step - 1e-9) + 1)]


def _tick_text(value: float) -> str:
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def _frame(title: str, x_label: str, y_label: str, x_ticks: list[float],
           y_ticks: list[float], sx, sy) -> list[str]:
    """Axes with ticks and grid lines, axis titles outside the plot area."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" '
             f'style="max-width:{W}px" role="img" aria-label="{html.escape(title)}">',
             f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" '
             f'height="{H - TOP - BOTTOM}" fill="#fff" stroke="#d0d7de"/>']
    for y in y_ticks:
        py = sy(y)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{py:.1f}" y2="{py:.1f}" '
                     'stroke="#eaeef2"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{py + 4:.1f}" font-size="11" '
                     f'text-anchor="end" fill="#57606a">{_tick_text(y)}</text>')
    for x in x_ticks:
        px = sx(x)
        parts.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{H - BOTTOM}" '
                     f'y2="{H - BOTTOM + 4}" stroke="#8c959f"/>')
        parts.append(f'<text x="{px:.1f}" y="{H - BOTTOM + 16}" font-size="11" '
                     f'text-anchor="middle" fill="#57606a">{_tick_text(x)}</text>')
    parts.append(f'<text x="{(LEFT + W - RIGHT) / 2:.0f}" y="{H - 4}" font-size="11" '
                 f'text-anchor="middle">{html.escape(x_label)}</text>')
    parts.append(f'<text transform="translate(12,{(TOP + H - BOTTOM) / 2:.0f}) rotate(-90)" '
                 f'font-size="11" text-anchor="middle">{html.escape(y_label)}</text>')
    return parts


def _shade(windows: Sequence[FaultWindow], sx, x_max: float) -> list[str]:
    """Fault windows shaded on the plot; their labels in rows above it, never on the data
    and never on each other (a label that would overlap moves to the next row)."""
    parts, row_ends = [], [float("-inf")] * LABEL_ROWS
    for w in windows:
        x0, x1 = sx(w.start_s), sx(w.end_s if w.end_s is not None else x_max)
        label = html.escape(f"{w.kind} {w.target}")
        parts.append(f'<rect x="{x0:.1f}" y="{TOP}" width="{max(2.0, x1 - x0):.1f}" '
                     f'height="{H - TOP - BOTTOM}" fill="#ffd8b5" opacity="0.6">'
                     f"<title>{label}</title></rect>")
        width = 6.2 * len(label)
        row = next((r for r, end in enumerate(row_ends) if x0 > end + 4), None)
        if row is None:
            continue  # no room: the shaded window still carries its label as a tooltip
        row_ends[row] = x0 + width
        parts.append(f'<text x="{x0:.1f}" y="{12 + 12 * row}" font-size="10" '
                     f'fill="#953800">{label}</text>')
    return parts


def latency_plot(samples: Sequence[Sample], windows: Sequence[FaultWindow]) -> str:
    """Latency of every operation against its start time, coloured by outcome."""
    x_max = max([s.start_s for s in samples] + [w.end_s or 0 for w in windows] + [1e-3])
    x_ticks = nice_ticks(x_max)
    y_ticks = nice_ticks(max([s.latency_ms for s in samples] + [1e-3]))
    sx = _scale(0, x_ticks[-1], LEFT, W - RIGHT)
    sy = _scale(0, y_ticks[-1], H - BOTTOM, TOP)
    parts = _frame("latency", "time since the test began (s)", "latency (ms)", x_ticks,
                   y_ticks, sx, sy)
    parts += _shade(windows, sx, x_max)
    for s in samples:
        parts.append(f'<circle cx="{sx(s.start_s):.1f}" cy="{sy(s.latency_ms):.1f}" r="2" '
                     f'fill="{COLORS.get(s.type, "#57606a")}"/>')
    return "".join(parts) + _legend() + "</svg>"


def _legend() -> str:
    items = []
    for i, (kind, colour) in enumerate(COLORS.items()):
        x = W - RIGHT - 150 + 50 * i
        items.append(f'<circle cx="{x}" cy="{H - 6}" r="3" fill="{colour}"/>'
                     f'<text x="{x + 6}" y="{H - 2}" font-size="10">{kind}</text>')
    return "".join(items)


def throughput_plot(samples: Sequence[Sample], windows: Sequence[FaultWindow],
                    bucket_s: float | None = None) -> str:
    """Completed operations per second, with fault windows shaded.

    The bucket adapts to the run (about 40 buckets, at least 100 ms); the last, partial bucket
    is divided by the time it actually covers.
    """
    x_max = max([s.start_s for s in samples] + [w.end_s or 0 for w in windows] + [0.1])
    bucket_s = bucket_s or max(0.1, x_max / 40)
    counts = [0] * (int(x_max / bucket_s) + 1)
    for s in samples:
        counts[int(s.start_s / bucket_s)] += 1
    last = max(x_max - (len(counts) - 1) * bucket_s, bucket_s / 10)
    rates = [c / bucket_s for c in counts[:-1]] + [counts[-1] / last]
    x_ticks, y_ticks = nice_ticks(x_max), nice_ticks(max([*rates, 1.0]))
    sx = _scale(0, x_ticks[-1], LEFT, W - RIGHT)
    sy = _scale(0, y_ticks[-1], H - BOTTOM, TOP)
    parts = _frame("throughput", "time since the test began (s)", "operations / s", x_ticks,
                   y_ticks, sx, sy)
    parts += _shade(windows, sx, x_max)
    points = " ".join(f"{sx(i * bucket_s):.1f},{sy(r):.1f}" for i, r in enumerate(rates))
    parts.append(f'<polyline points="{points}" fill="none" stroke="#0969da" stroke-width="2"/>')
    return "".join(parts) + "</svg>"


def trend_plot(values: Iterable[float | None], label: str) -> str:
    """A small line of one figure across runs (oldest left)."""
    points = [v for v in values if v is not None]
    if len(points) < 2:
        return f"<p>{html.escape(label)}: not enough runs yet for a trend.</p>"
    width, height = 360, 80
    sx = _scale(0, len(points) - 1, 8, width - 8)
    sy = _scale(min(points), max(points) or 1, height - 14, 8)
    line = " ".join(f"{sx(i):.1f},{sy(v):.1f}" for i, v in enumerate(points))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'role="img" aria-label="{html.escape(label)}"><polyline points="{line}" fill="none"'
            f' stroke="#8250df" stroke-width="2"/><text x="8" y="{height - 2}" font-size="10">'
            f"{html.escape(label)}: last {points[-1]:.3g}, min {min(points):.3g}, "
            f"max {max(points):.3g}</text></svg>")
