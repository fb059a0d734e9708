"""Toxics: their Toxiproxy JSON form, validation, and what each does to one direction of a link.

A :class:`ToxicSpec` is what the API stores and shows (``name, type, stream, toxicity,
attributes``). Each live connection direction gets its own :class:`LinkToxic` per spec, holding
per-connection state (bytes sent so far, the bandwidth clock, timers); whether it is active on
that connection is drawn once from ``toxicity`` when it is attached, as Toxiproxy does.

Toxics never sleep: they stamp each chunk with the (monotonic) time it may be written (``due``), and
the link's writer waits for it. That keeps delays pipelined (a latency toxic delays every chunk
by its latency instead of dividing throughput by it) and lets toxics change under live traffic.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from prsm_validate.errors import UsageProblem

STREAMS = ("upstream", "downstream")

#: Attribute names and defaults per toxic type, in Toxiproxy's JSON names and units:
#: latency/jitter/delay/timeout in ms, except slicer's delay in microseconds; rate in KB/s.
ATTRIBUTES: dict[str, dict[str, int]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
}

DATA, EOF, CLOSE = "data", "eof", "close"


class ToxicError(UsageProblem, ValueError):
    """A toxic definition the API must refuse; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Chunk:
    """Bytes read from one side, to be written to the other no earlier than ``due``
    (``time.monotonic()`` seconds: uvloop's loop clock has only millisecond resolution).

    ``kind`` is ``data``, ``eof`` (the source closed its side) or ``close`` (a toxic ends the
    connection here)."""

    data: bytes
    due: float
    kind: str = DATA


class LinkActions(Protocol):
    """What a toxic may do to the connection it sits on."""

    def call_later(self, delay_s: float, action: Callable[[], None]) -> Any:
        """Schedule ``action`` on the link's loop; returns a handle with ``cancel()``."""

    def close(self) -> None:
        """Close both sides of the connection (FIN)."""

    def reset(self) -> None:
        """Abort both sides of the connection with a TCP RST."""


@dataclass
class ToxicSpec:
    """A toxic as the API stores and shows it."""

    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Toxiproxy's JSON form of a toxic."""
        return {"attributes": dict(self.attributes), "name": self.name, "type": self.type,
                "stream": self.stream, "toxicity": self.toxicity}


HOUR_MS = 3_600_000
#: The largest value each attribute may take: a fault meant for a test run, not a value that
#: overflows a timer (latency 1e30 ms) or never ends. Units as in :data:`ATTRIBUTES`.
LIMITS: dict[str, int] = {"latency": HOUR_MS, "jitter": HOUR_MS, "timeout": HOUR_MS,
                          "rate": 10**9, "average_size": 1 << 30, "size_variation": 1 << 30,
                          "bytes": 1 << 53}
DELAY_LIMITS = {"slow_close": HOUR_MS, "slicer": HOUR_MS * 1000}  # slicer's delay is in us


def _integer(name: str, value: Any, limit: int) -> int:
    """An attribute value: a finite, non-negative integer (JSON may say 3 or 3.0) <= limit."""
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))):
        raise ToxicError(f"bad request body: attribute {name} must be a finite integer, "
                         f"got {value!r}")
    if value != int(value):
        raise ToxicError(f"bad request body: attribute {name} must be an integer, got {value!r}")
    if value < 0:
        raise ToxicError(f"bad request body: attribute {name} must not be negative")
    if value > limit:
        raise ToxicError(f"bad request body: attribute {name} must be at most {limit}, "
                         f"got {value!r}")
    return int(value)


def parse_attributes(toxic_type: str, given: Any, base: dict[str, int] | None = None
                     ) -> dict[str, int]:
    """Attributes of ``toxic_type`` from JSON ``given`` over ``base`` (defaults if None);
    unknown attribute names are ignored, as Toxiproxy's JSON decoding does."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ToxicError("bad request body: attributes must be an object")
    attributes = dict(base if base is not None else ATTRIBUTES[toxic_type])
    for key in sorted(attributes.keys() & given.keys()):
        limit = DELAY_LIMITS[toxic_type] if key == "delay" else LIMITS[key]
        attributes[key] = _integer(key, given[key], limit)
    if toxic_type == "slicer" and attributes["average_size"] < 1:
        raise ToxicError("bad request body: slicer average_size must be at least 1")
    return attributes


def parse_toxicity(value: Any) -> float:
    """A toxicity from JSON: a number in [0, 1]."""
    # NaN fails both comparisons, infinities the bounds.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ToxicError(f"bad request body: toxicity must be a number in [0, 1], got {value!r}")
    return float(value)


def parse_toxic(body: Any) -> ToxicSpec:
    """A new toxic from a ``POST /proxies/{proxy}/toxics`` body, with Toxiproxy's defaults."""
    if not isinstance(body, dict):
        raise ToxicError("bad request body: expected a JSON object")
    stream = body.get("stream") or "downstream"
    if stream not in STREAMS:
        raise ToxicError("stream was invalid, can be either upstream or downstream")
    toxic_type = body.get("type")
    if toxic_type not in ATTRIBUTES:
        raise ToxicError("invalid toxic type")
    name = body.get("name") or f"{toxic_type}_{stream}"
    if not isinstance(name, str):
        raise ToxicError("bad request body: name must be a string")
    toxicity = parse_toxicity(body.get("toxicity", 1.0))
    return ToxicSpec(name, toxic_type, stream, toxicity,
                     parse_attributes(toxic_type, body.get("attributes")))


class LinkToxic:
    """One toxic on one direction of one connection; the base class passes data through."""

    def __init__(self, spec: ToxicSpec, actions: LinkActions, rng: random.Random) -> None:
        self.spec = spec
        self.actions = actions
        self.rng = rng
        self.active = rng.random() < spec.toxicity

    def attr(self, name: str) -> int:
        """The current value of attribute ``name`` (specs are updated in place)."""
        return self.spec.attributes[name]

    def attach(self) -> None:
        """Called once when the toxic starts acting on this link (only if active)."""

    def detach(self, removed: bool) -> None:
        """Called when the toxic stops acting on this link (only if active): ``removed`` if it
        was deleted, else it is being replaced by an update or the connection is closing."""

    def inherit(self, old: LinkToxic) -> None:
        """Take over per-connection state from the toxic this one replaces (an update)."""

    def feed(self, chunk: Chunk) -> list[Chunk]:
        """Transform one chunk into the chunks that go on down the chain."""
        return [chunk]


class Latency(LinkToxic):
    """Delays every chunk by ``latency`` +/- ``jitter`` ms, counted from when it was read."""

    def feed(self, chunk: Chunk) -> list[Chunk]:
        jitter = self.attr("jitter")
        delay_ms = self.attr("latency") + (self.rng.uniform(-jitter, jitter) if jitter else 0)
        chunk.due += max(delay_ms, 0) / 1000
        return [chunk]


class Bandwidth(LinkToxic):
    """Paces data at ``rate`` KB/s (1 KB = 1000 bytes), sending at most 100 ms worth at once."""

    free_at = 0.0

    def inherit(self, old: LinkToxic) -> None:
        self.free_at = getattr(old, "free_at", 0.0)

    def feed(self, chunk: Chunk) -> list[Chunk]:
        rate = self.attr("rate") * 1000  # bytes per second
        if rate <= 0 or chunk.kind != DATA:
            return [chunk]
        step = max(rate // 10, 1)
        pieces = []
        for offset in range(0, len(chunk.data), step):
            piece = chunk.data[offset:offset + step]
            self.free_at = max(self.free_at, chunk.due) + len(piece) / rate
            pieces.append(Chunk(piece, self.free_at))
        return pieces


class SlowClose(LinkToxic):
    """Holds the close of the connection for ``delay`` ms after the source closed."""

    def feed(self, chunk: Chunk) -> list[Chunk]:
        if chunk.kind != DATA:
            chunk.due += self.attr("delay") / 1000
        return [chunk]


class Timeout(LinkToxic):
    """Drops all data; closes the connection after ``timeout`` ms, or never if 0 (blackhole).

    Removing it closes the connection, as Toxiproxy does: bytes were dropped from the middle of
    the stream, so what would follow is not the stream the peer sent."""

    timer: Any = None

    def attach(self) -> None:
        if self.attr("timeout") > 0:
            self.timer = self.actions.call_later(self.attr("timeout") / 1000, self.actions.close)

    def detach(self, removed: bool) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if removed:
            self.actions.close()

    def feed(self, chunk: Chunk) -> list[Chunk]:
        return [] if chunk.kind == DATA else [chunk]


class ResetPeer(LinkToxic):
    """On the first data, waits ``timeout`` ms then resets the connection (RST, SO_LINGER 0)."""

    timer: Any = None

    def detach(self, removed: bool) -> None:
        if self.timer is not None:
            self.timer.cancel()

    def feed(self, chunk: Chunk) -> list[Chunk]:
        if self.timer is None:
            self.timer = self.actions.call_later(self.attr("timeout") / 1000, self.actions.reset)
        return []


def slice_bounds(size: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """Cut points splitting ``size`` bytes into pieces of about ``average`` +/- ``variation``:
    halve around the middle (moved by up to +/- variation) until pieces are small enough."""
    if size - average <= variation:
        return [size]
    middle = size // 2 + (rng.randint(-variation, variation) if variation else 0)
    middle = min(max(middle, 1), size - 1)
    left = slice_bounds(middle, average, variation, rng)
    right = slice_bounds(size - middle, average, variation, rng)
    return left + [middle + cut for cut in right]


class Slicer(LinkToxic):
    """Slices data into pieces of ``average_size`` +/- ``size_variation`` bytes, ``delay`` us
    apart."""

    def feed(self, chunk: Chunk) -> list[Chunk]:
        if chunk.kind != DATA:
            return [chunk]
        cuts = slice_bounds(len(chunk.data), self.attr("average_size"),
                            self.attr("size_variation"), self.rng)
        gap = self.attr("delay") / 1_000_000
        pieces, start = [], 0
        for index, end in enumerate(cuts):
            pieces.append(Chunk(chunk.data[start:end], chunk.due + index * gap))
            start = end
        return pieces


class LimitData(LinkToxic):
    """Passes ``bytes`` bytes, then closes the connection."""

    sent = 0

    def inherit(self, old: LinkToxic) -> None:
        self.sent = getattr(old, "sent", 0)

    def feed(self, chunk: Chunk) -> list[Chunk]:
        if chunk.kind != DATA:
            return [chunk]
        piece = chunk.data[:max(self.attr("bytes") - self.sent, 0)]
        self.sent += len(piece)
        out = [Chunk(piece, chunk.due)] if piece else []
        if self.sent >= self.attr("bytes"):
            out.append(Chunk(b"", chunk.due, CLOSE))
        return out


BEHAVIOURS: dict[str, type[LinkToxic]] = {
    "latency": Latency, "bandwidth": Bandwidth, "slow_close": SlowClose, "timeout": Timeout,
    "reset_peer": ResetPeer, "slicer": Slicer, "limit_data": LimitData,
}


def link_toxic(spec: ToxicSpec, actions: LinkActions, rng: random.Random) -> LinkToxic:
    """The per-connection behaviour of ``spec``."""
    return BEHAVIOURS[spec.type](spec, actions, rng)
