"""Seeded fault schedules: timelines of faults, and round-scoped partitions (ByzzFuzz style).

:func:`generate` turns ``(seed, nodes, duration, config)`` into a :class:`Schedule`: faults
(kind, targets, start, duration, params) drawn from a weighted vocabulary, on ``lanes``
independent sequential timelines (faults on one lane never overlap; a quiet gap separates
them). Process faults (kill, pause, restart) never have more than ``max_faulty`` nodes down at
once (default f = (n - 1) // 3). The same arguments always give the same schedule; the schedule
is plain data (:meth:`Schedule.to_json`) for run reports, and :meth:`Schedule.from_json` reads
it back for a replay.

Round-scoped partitions follow ByzzFuzz (Winter et al., "Randomized Testing of Byzantine Fault
Tolerant Algorithms", OOPSLA 2023): a network fault is a partition of the nodes into blocks
that holds for protocol rounds (views) ``first_round..last_round``; a message of such a round
between nodes of different blocks is dropped (:meth:`RoundPartition.drops`).
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from prsm_validate.nemesis import partitions

PROCESS_KINDS = ("kill", "pause", "restart")
LINK_KINDS = ("latency", "bandwidth", "blackhole-link", "reset-link")
# "cut": a link between two components that is not a consensus link (pipeline -> nats), cut by
# the target's own link control; never drawn unless its weight is set.
KINDS = (*PROCESS_KINDS, "partition", *LINK_KINDS, "cut")
PRIMARY = "@primary"  # a process fault's target resolved when it starts: the current primary


@dataclass(frozen=True)
class Fault:
    """One fault: what, on which nodes (a link fault: ``[src, dst]``), from ``start`` for
    ``duration`` seconds (relative to the schedule's start), with kind-specific ``params``."""

    kind: str
    targets: tuple[str, ...]
    start: float
    duration: float
    params: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def end(self) -> float:
        """When the fault is healed."""
        return self.start + self.duration

    def active_at(self, moment: float) -> bool:
        """Whether the fault is in force at ``moment``."""
        return self.start <= moment < self.end

    def to_json(self) -> dict[str, Any]:
        """Plain-data form."""
        return {"kind": self.kind, "targets": list(self.targets), "start": self.start,
                "duration": self.duration, "params": self.params}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        """Read :meth:`to_json` back."""
        return cls(data["kind"], tuple(data["targets"]), data["start"], data["duration"],
                   data.get("params", {}))


@dataclass(frozen=True)
class RoundPartition:
    """Blocks of nodes that cannot exchange messages during rounds ``first_round`` to
    ``last_round`` (inclusive); rounds are views, or sequence numbers when ``axis`` is
    ``"seq"``."""

    first_round: int
    last_round: int
    blocks: tuple[tuple[str, ...], ...]
    axis: str = "view"

    def drops(self, round_number: int, src: str, dst: str) -> bool:
        """Whether a message of ``round_number`` from ``src`` to ``dst`` is dropped."""
        if not self.first_round <= round_number <= self.last_round:
            return False
        return not any(src in block and dst in block for block in self.blocks)

    def grudge(self, nodes: Sequence[str]) -> partitions.Grudge:
        """The partition as a grudge, to apply on link proxies while its rounds last."""
        return partitions.complete_grudge(nodes, self.blocks)

    def to_json(self) -> dict[str, Any]:
        """Plain-data form."""
        data = {"first_round": self.first_round, "last_round": self.last_round,
                "blocks": [list(block) for block in self.blocks]}
        return data if self.axis == "view" else {**data, "axis": self.axis}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoundPartition:
        """Read :meth:`to_json` back."""
        return cls(data["first_round"], data["last_round"],
                   tuple(tuple(block) for block in data["blocks"]), data.get("axis", "view"))


@dataclass(frozen=True)
class ScheduleConfig:
    """The vocabulary and pacing of generated schedules (durations in seconds)."""

    weights: dict[str, float] = field(default_factory=lambda: {
        "kill": 1, "pause": 1, "restart": 0.5, "partition": 2, "latency": 1,
        "bandwidth": 0.5, "blackhole-link": 0.5, "reset-link": 0.5}, hash=False)
    min_duration: float = 1.0
    max_duration: float = 10.0
    min_gap: float = 1.0
    max_gap: float = 5.0
    lanes: int = 1
    max_faulty: int | None = None
    shapes: tuple[str, ...] = ("isolate", "isolate-primary", "halves", "majority-minority",
                               "majorities-ring", "bridge")
    primary: str | None = None
    latencies_ms: tuple[int, ...] = (50, 100, 200, 500)
    rates_kb_s: tuple[int, ...] = (10, 100, 1000)
    # Chance that a kill or pause targets the primary of the moment (PRIMARY) instead of
    # drawn nodes; such a fault counts as one node down, distinct from every named one.
    primary_faults: float = 0.0
    links: tuple[tuple[str, str], ...] = ()  # what "cut" may cut (default: any node pair)

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {list(KINDS)}")
        if not any(weight > 0 for weight in self.weights.values()):
            raise ValueError("at least one fault kind needs a positive weight")
        if not 0 < self.min_duration <= self.max_duration or not 0 <= self.min_gap <= \
                self.max_gap or self.lanes < 1:
            raise ValueError("need 0 < min_duration <= max_duration, "
                             "0 <= min_gap <= max_gap and lanes >= 1")

    def to_json(self) -> dict[str, Any]:
        """Plain-data form."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScheduleConfig:
        """Read :meth:`to_json` back."""
        tuples = {key: tuple(data[key]) for key in ("shapes", "latencies_ms", "rates_kb_s")
                  if key in data}
        if "links" in data:
            tuples["links"] = tuple(tuple(link) for link in data["links"])
        return cls(**(data | tuples))


@dataclass(frozen=True)
class Schedule:
    """A reproducible fault timeline: the generator's inputs and what they produced."""

    seed: int
    nodes: tuple[str, ...]
    duration: float
    faults: tuple[Fault, ...]
    config: ScheduleConfig = field(default_factory=ScheduleConfig)
    round_partitions: tuple[RoundPartition, ...] = ()

    def active_at(self, moment: float) -> list[Fault]:
        """Faults in force at ``moment``."""
        return [fault for fault in self.faults if fault.active_at(moment)]

    def replay_option(self) -> str:
        """The pytest option that replays this schedule."""
        return f"--prsm-seed={self.seed}"

    def describe(self) -> list[str]:
        """One human-readable line per fault, in start order."""
        return [f"{f.start:8.2f}s +{f.duration:6.2f}s {f.kind:<15} {','.join(f.targets)}"
                f"{' ' + json.dumps(f.params, sort_keys=True) if f.params else ''}"
                for f in self.faults]

    def to_json(self) -> dict[str, Any]:
        """Plain-data form, for run reports."""
        return {"seed": self.seed, "nodes": list(self.nodes), "duration": self.duration,
                "config": self.config.to_json(),
                "faults": [fault.to_json() for fault in self.faults],
                "round_partitions": [rp.to_json() for rp in self.round_partitions]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schedule:
        """Read :meth:`to_json` back."""
        return cls(data["seed"], tuple(data["nodes"]), data["duration"],
                   tuple(Fault.from_json(f) for f in data["faults"]),
                   ScheduleConfig.from_json(data["config"]),
                   tuple(RoundPartition.from_json(r) for r in data.get("round_partitions", ())))


class _Generator:
    """The state of one generation run (the random source and faults so far)."""

    def __init__(self, seed: int, nodes: Sequence[str], config: ScheduleConfig) -> None:
        self.rng = random.Random(seed)
        self.nodes = list(nodes)
        self.config = config
        self.max_faulty = (config.max_faulty if config.max_faulty is not None
                           else (len(self.nodes) - 1) // 3)
        self.faults: list[Fault] = []

    def kind(self) -> str:
        kinds = [k for k, w in sorted(self.config.weights.items()) if w > 0]
        return self.rng.choices(kinds, [self.config.weights[k] for k in kinds])[0]

    def down_during(self, start: float, end: float) -> set[str]:
        return {node for f in self.faults if f.kind in PROCESS_KINDS
                and f.start < end and start < f.end for node in f.targets}

    def build(self, kind: str, start: float, duration: float) -> Fault | None:
        if kind in PROCESS_KINDS:
            return self.process_fault(kind, start, duration)
        if kind == "partition":
            return self.partition(start, duration)
        return self.link_fault(kind, start, duration)

    def process_fault(self, kind: str, start: float, duration: float) -> Fault | None:
        down = self.down_during(start, start + duration)  # by faults on other lanes
        free = [n for n in self.nodes if n not in down]
        room = min(self.max_faulty - len(down), len(free))
        if room < 1:
            return None
        if kind != "restart" and self.config.primary_faults and \
                self.rng.random() < self.config.primary_faults:
            return Fault(kind, (PRIMARY,), start, duration)
        count = 1 if kind == "restart" else self.rng.randint(1, room)
        return Fault(kind, tuple(sorted(self.rng.sample(free, count))), start, duration)

    def partition(self, start: float, duration: float) -> Fault | None:
        shapes = [s for s in self.config.shapes
                  if s != "isolate-primary" or self.config.primary is not None]
        overlapping = any(f.kind == "partition" and f.start < start + duration
                          and start < f.end for f in self.faults)
        if not shapes or len(self.nodes) < 3 or overlapping:  # one grudge in force at a time
            return None
        name = self.rng.choice(sorted(shapes))
        order = self.rng.sample(self.nodes, len(self.nodes))
        options: dict[str, Any] = {}
        if name == "isolate":
            options["node"] = order[0]
        elif name == "isolate-primary":
            options["primary"] = self.config.primary
        grudge = partitions.shape(name, order, **options)
        params = {"shape": name, "grudge": {n: sorted(g) for n, g in sorted(grudge.items())}}
        targets = tuple(sorted(n for n, g in grudge.items() if g))
        return Fault("partition", targets, start, duration, params)

    def link_fault(self, kind: str, start: float, duration: float) -> Fault | None:
        if kind == "cut" and self.config.links:
            src, dst = self.rng.choice(sorted(self.config.links))
        elif len(self.nodes) < 2:
            return None
        else:
            src, dst = self.rng.sample(self.nodes, 2)
        if any(f.kind == kind and f.targets == (src, dst) and f.start < start + duration
               and start < f.end for f in self.faults):
            return None  # the same toxic twice on one link
        params: dict[str, Any] = {}
        if kind == "latency":
            latency = self.rng.choice(self.config.latencies_ms)
            params = {"latency_ms": latency, "jitter_ms": self.rng.randint(0, latency // 2)}
        elif kind == "bandwidth":
            params = {"rate_kb_s": self.rng.choice(self.config.rates_kb_s)}
        return Fault(kind, (src, dst), start, duration, params)

    def lane(self, duration: float) -> None:
        config, moment = self.config, self.rng.uniform(self.config.min_gap, self.config.max_gap)
        while moment < duration:
            length = self.rng.uniform(config.min_duration, config.max_duration)
            kind = self.kind()
            # Millisecond times, the end rounded down so that no fault outlasts the schedule.
            start = round(moment, 3)
            end = math.floor(min(moment + length, duration) * 1000) / 1000
            fault = self.build(kind, start, round(end - start, 3)) if end > start else None
            if fault is not None:
                self.faults.append(fault)
            moment += length + self.rng.uniform(config.min_gap, config.max_gap)


def generate(seed: int, nodes: Sequence[str], duration: float,
             config: ScheduleConfig | None = None, rounds: int = 0,
             round_faults: int = 0) -> Schedule:
    """A fault schedule for ``nodes`` over ``duration`` seconds, from ``seed`` only; with
    ``rounds`` and ``round_faults``, also that many round-scoped partitions."""
    config = config or ScheduleConfig()
    if len(set(nodes)) != len(nodes) or not nodes:
        raise ValueError(f"need distinct node names, got {list(nodes)}")
    generator = _Generator(seed, nodes, config)
    for _ in range(config.lanes):
        generator.lane(duration)
    faults = tuple(sorted(generator.faults, key=lambda f: (f.start, f.kind, f.targets)))
    scoped = round_scoped_partitions(generator.rng.randrange(2**32), nodes, rounds,
                                     round_faults) if round_faults else ()
    return Schedule(seed, tuple(nodes), duration, faults, config, scoped)


def round_scoped_partitions(seed: int, nodes: Sequence[str], rounds: int, count: int,
                            max_span: int = 1, max_blocks: int = 3
                            ) -> tuple[RoundPartition, ...]:
    """``count`` ByzzFuzz network faults among ``rounds`` rounds: each a random partition of
    the nodes into 2..``max_blocks`` non-empty blocks, for 1..``max_span`` rounds."""
    if rounds < 1 or len(nodes) < 2:
        raise ValueError("round-scoped partitions need rounds >= 1 and at least 2 nodes")
    rng = random.Random(seed)
    faults = []
    for _ in range(count):
        first = rng.randrange(rounds)
        last = min(first + rng.randint(1, max_span) - 1, rounds - 1)
        faults.append(RoundPartition(first, last, _random_blocks(rng, nodes, max_blocks)))
    return tuple(sorted(faults, key=lambda f: (f.first_round, f.last_round, f.blocks)))


def _random_blocks(rng: random.Random, nodes: Sequence[str], max_blocks: int
                   ) -> tuple[tuple[str, ...], ...]:
    """A random partition of ``nodes`` into at least two non-empty blocks."""
    order = rng.sample(list(nodes), len(nodes))
    count = rng.randint(2, max(2, min(max_blocks, len(order))))
    cuts = sorted(rng.sample(range(1, len(order)), count - 1))
    bounds = [0, *cuts, len(order)]
    return tuple(tuple(sorted(order[a:b])) for a, b in itertools.pairwise(bounds))


def dropped(scoped: Iterable[RoundPartition], round_number: int, src: str, dst: str) -> bool:
    """Whether any round-scoped partition drops this message."""
    return any(fault.drops(round_number, src, dst) for fault in scoped)
