"""ByzzFuzz schedules: one Byzantine replica's small-scope mutations plus round-scoped
partitions, as a dataclass with a compact text form, drawn by a seeded generator.

ByzzFuzz (Winter et al., "Randomized Testing of Byzantine Fault Tolerant Algorithms", OOPSLA
2023) finds BFT bugs with tiny fault budgets: network faults are partitions that hold for
chosen protocol rounds, process faults are small-scope mutations (round +-1, another value) of
one Byzantine node's messages in chosen rounds to chosen receivers. Here a round is a view
(``@s`` scopes by sequence number). The text form, one token per fault::

    byz=1 mutate-view:2@1 drop-cert@1-2 cut@0=0,1|2,3 net=42

- ``byz=I``: the Byzantine replica (its index);
- ``MODE[:peers][@rounds]``: one of its behaviours, exactly the ``--byzantine`` spec of
  ``prsm-ref node`` (:mod:`reference_system.consensus.byzantine`);
- ``cut@R[-R]=blocks``: a :class:`~.schedule.RoundPartition` of replica indices, blocks
  separated by ``|``;
- ``deaf@R[-R]=I<J,K``: a one-way cut (:class:`RoundDeafness`): replica I does not hear J, K
  in those rounds (they still hear it);
- ``net=SEED``: the simulator's message-order seed (real processes ignore it).

The same schedule drives the sans-IO simulator (:func:`simulate`) and the real node processes
(:mod:`prsm_validate.nemesis.byzzfuzz`). :func:`shrink` minimises a violating schedule's
faults by delta debugging (:func:`~prsm_validate.generator.shrink.ddmin`) in the simulator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from prsm_validate.generator.schedule import RoundPartition, round_scoped_partitions

# Small-scope mutations (ByzzFuzz), lies in catch-up replies, and the Twins-like behaviours a
# single node can show (equivocation, double votes, silence).
SMALL_SCOPE = ("mutate-view", "mutate-seq", "mutate-digest", "drop-cert", "mutate-checkpoint")
BEHAVIOURS = (*SMALL_SCOPE, "mutate-state", "mutate-snapshot", "equivocate", "double-vote",
              "silence", "mutate-batch", "forge-cert", "forge-proof")


@dataclass(frozen=True)
class RoundDeafness:
    """A one-way round-scoped cut: ``deaf`` hears nothing from ``of`` in its rounds."""

    first_round: int
    last_round: int
    deaf: str
    of: tuple[str, ...]
    axis: str = "view"

    def drops(self, round_number: int, src: str, dst: str) -> bool:
        """Whether a message of ``round_number`` from ``src`` to ``dst`` is dropped."""
        return (self.first_round <= round_number <= self.last_round and dst == self.deaf
                and src in self.of)

    def grudge(self, nodes: Any) -> dict[str, frozenset[str]]:
        """As a grudge, to apply on link proxies while its rounds last."""
        return {n: frozenset(self.of) if n == self.deaf else frozenset() for n in nodes}


def node_name(index: int) -> str:
    """The component name of replica ``index``."""
    return f"node-{index}"


@dataclass(frozen=True)
class ByzzSchedule:
    """One ByzzFuzz schedule on ``n`` replicas."""

    n: int
    byzantine: int
    specs: tuple[str, ...]
    cuts: tuple[RoundPartition | RoundDeafness, ...] = ()
    net: int = 0

    @property
    def last_round(self) -> int:
        """The last round in which any fault is scoped (liveness is judged after it)."""
        from reference_system.consensus.byzantine import parse_spec

        rounds = [c.last_round for c in self.cuts if c.axis == "view"]
        for spec in map(parse_spec, self.specs):
            if spec.rounds is not None and spec.rounds[0] == "view":
                rounds.append(spec.rounds[2])
        return max(rounds, default=0)

    def text(self) -> str:
        """The compact text form (see the module docstring)."""
        cuts = [_cut_text(c) for c in self.cuts]
        return " ".join([f"byz={self.byzantine}", *self.specs, *cuts, f"net={self.net}"])

    def shifted(self, views: int, seqs: int = 0, rotation: int | None = None) -> ByzzSchedule:
        """The schedule for a cluster now in view ``views`` having executed ``seqs``: view
        rounds start at ``views``, sequence rounds at ``seqs``, and replica indices rotate
        by ``rotation`` (default ``views``: "the primary of round 0" stays the primary)."""
        rotation = views if rotation is None else rotation
        if views == 0 and seqs == 0 and rotation == 0:
            return self
        from reference_system.consensus.byzantine import parse_spec

        def rotate(i: int) -> int:
            return (i + rotation) % self.n

        specs = []
        for spec in map(parse_spec, self.specs):
            text = spec.mode
            if spec.targets is not None:
                text += ":" + ",".join(str(rotate(t)) for t in sorted(spec.targets))
            if spec.rounds is not None:
                axis, first, last = spec.rounds
                text += "@" + ("s" + _span(first + seqs, last + seqs) if axis == "seq"
                               else _span(first + views, last + views))
            specs.append(text)
        def names(members: Any) -> tuple[str, ...]:
            return tuple(node_name(i) for i in sorted(rotate(_index(m)) for m in members))

        cuts: list[RoundPartition | RoundDeafness] = []
        for c in self.cuts:
            offset = seqs if c.axis == "seq" else views
            if isinstance(c, RoundDeafness):
                cuts.append(RoundDeafness(c.first_round + offset, c.last_round + offset,
                                          node_name(rotate(_index(c.deaf))), names(c.of), c.axis))
            else:
                cuts.append(RoundPartition(c.first_round + offset, c.last_round + offset,
                                           tuple(names(b) for b in c.blocks), c.axis))
        return ByzzSchedule(self.n, rotate(self.byzantine), tuple(specs), tuple(cuts), self.net)

    def with_cuts(self, cuts: tuple[RoundPartition | RoundDeafness, ...]) -> ByzzSchedule:
        """The same schedule with other partitions (for shrinking)."""
        return replace(self, cuts=cuts)


def _cut_text(cut: RoundPartition | RoundDeafness) -> str:
    scope = ("s" if cut.axis == "seq" else "") + _span(cut.first_round, cut.last_round)
    if isinstance(cut, RoundDeafness):
        return (f"deaf@{scope}={_index(cut.deaf)}<"
                + ",".join(str(_index(m)) for m in cut.of))
    return f"cut@{scope}=" + "|".join(",".join(str(_index(m)) for m in b) for b in cut.blocks)


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}-{last}"


def _index(name: str) -> int:
    return int(name.rsplit("-", 1)[-1])


def parse(text: str, n: int = 4) -> ByzzSchedule:
    """Read :meth:`ByzzSchedule.text` back; raises ValueError with the bad token."""
    from reference_system.consensus.byzantine import parse_rounds, parse_spec

    byzantine, net, specs, cuts = None, 0, [], []
    for token in text.split():
        key, _, value = token.partition("=")
        try:
            if key == "byz":
                byzantine = int(value)
            elif key == "net":
                net = int(value)
            elif key.startswith("deaf@"):
                axis, first, last = parse_rounds(key[5:])
                deaf, _, of = value.partition("<")
                cuts.append(RoundDeafness(first, last, node_name(int(deaf)),
                                          tuple(node_name(int(i)) for i in of.split(",")), axis))
            elif key.startswith("cut@"):
                axis, first, last = parse_rounds(key[4:])
                blocks = tuple(tuple(node_name(int(i)) for i in b.split(",")) for b in
                               value.split("|"))
                cuts.append(RoundPartition(first, last, blocks, axis))
            else:
                parse_spec(token)
                specs.append(token)
        except ValueError as exc:
            raise ValueError(f"bad schedule token {token!r}: {exc}") from None
    if byzantine is None or not 0 <= byzantine < n:
        raise ValueError(f"schedule {text!r} needs byz=I with 0 <= I < {n}")
    return ByzzSchedule(n, byzantine, tuple(specs), tuple(cuts), net)


def generate(seed: int, n: int = 4, rounds: int = 3, max_specs: int = 2, max_cuts: int = 2,
             behaviours: tuple[str, ...] = BEHAVIOURS) -> ByzzSchedule:
    """A random schedule: the Byzantine replica (the first primary a third of the time),
    1..``max_specs`` behaviours each to a random non-empty set of receivers in a random span
    of the first ``rounds`` views, and 0..``max_cuts`` round-scoped partitions."""
    rng = random.Random(seed)
    byzantine = 0 if rng.random() < 1 / 3 else rng.randrange(1, n)
    peers = [i for i in range(n) if i != byzantine]
    specs = []
    for _ in range(rng.randint(1, max_specs)):
        receivers = sorted(rng.sample(peers, rng.randint(1, len(peers))))
        first = rng.randrange(rounds)
        last = min(rounds - 1, first + rng.randint(0, 1))
        to = "" if len(receivers) == len(peers) else ":" + ",".join(map(str, receivers))
        specs.append(f"{rng.choice(behaviours)}{to}@{_span(first, last)}")
    cuts = round_scoped_partitions(rng.randrange(2**32), [node_name(i) for i in range(n)],
                                   rounds, rng.randint(0, max_cuts), max_span=2)
    return ByzzSchedule(n, byzantine, tuple(specs), cuts, rng.randrange(2**31))


def simulate(schedule: ByzzSchedule, **options: Any) -> list[str]:
    """Run ``schedule`` in the sans-IO simulator; the violated properties (none: it passed).

    ``options`` are :class:`~reference_system.consensus.sim.SimConfig` fields (clients,
    ops_per_client, drop, ...). Agreement, validity, exactly-once, supply and client results
    are always judged; liveness (every client finished) after the chaotic phase, when the
    network is reliable again and only the Byzantine replica still misbehaves.
    """
    from reference_system.consensus.sim import simulate as run

    def cut(view: int, seq: int, src: int, dst: int) -> bool:
        return any(c.drops(seq if c.axis == "seq" else view, node_name(src), node_name(dst))
                   for c in schedule.cuts)

    faults = {schedule.byzantine: "+".join(schedule.specs)} if schedule.specs else {}
    return run(schedule.net, n=schedule.n, faults=faults, cut=cut, **options).violations()


SIM_DEFAULTS: dict[str, Any] = {"clients": 2, "ops_per_client": 4, "drop": 0.02,
                                "params": {"checkpoint_interval": 2}}


@dataclass(frozen=True)
class Found:
    """A schedule that violated a property in simulation."""

    index: int
    schedule: ByzzSchedule
    problems: tuple[str, ...]

    def replay(self) -> str:
        """The command line that re-runs it in the simulator."""
        return f"prsm-validate byzzfuzz --replay '{self.schedule.text()}'"


@dataclass
class SearchResult:
    """What a search ran and found."""

    schedules: int = 0
    seconds: float = 0.0
    found: list[Found] | None = None

    @property
    def rate(self) -> float:
        """Schedules per second."""
        return self.schedules / self.seconds if self.seconds > 0 else 0.0


def search(seed: int, schedules: int, budget_s: float, stop_at: int = 0,
           on_found: Any = None, **options: Any) -> SearchResult:
    """Run up to ``schedules`` generated schedules (seeds derived from ``seed``) within
    ``budget_s`` seconds; stop after ``stop_at`` violations (0: never)."""
    import time

    rng, result = random.Random(seed), SearchResult(found=[])
    started = time.monotonic()
    settings = {**SIM_DEFAULTS, **options}
    for index in range(schedules):
        if time.monotonic() - started > budget_s:
            break
        schedule = generate(rng.randrange(2**32), n=settings.pop("n", 4))
        problems = simulate(schedule, **settings)
        result.schedules = index + 1
        if problems:
            found = Found(index, schedule, tuple(problems))
            result.found.append(found)  # type: ignore[union-attr]
            if on_found is not None:
                on_found(found)
            if stop_at and len(result.found) >= stop_at:  # type: ignore[arg-type]
                break
    result.seconds = time.monotonic() - started
    return result


def property_of(problem: str) -> str:
    """The property a simulator problem violates: ``agreement``, ``liveness``, ``supply``,
    ``validity``, ``client-results`` or ``exactly-once``."""
    head, colon, _ = problem.partition(":")
    if colon and " " not in head:
        return head
    return "client-results" if problem.startswith("client ") else "exactly-once"


def shrink(schedule: ByzzSchedule, problems: Any, budget_s: float = 30.0,
           **options: Any) -> tuple[ByzzSchedule, Any]:
    """The smallest sub-schedule (fewer behaviours and cuts; the Byzantine replica and the
    network seed kept) that still violates one of the properties ``problems`` name in the
    simulator, found by delta debugging within ``budget_s``; returns it and the
    :class:`~prsm_validate.generator.shrink.ShrinkResult` (``tests`` simulations run)."""
    from prsm_validate.generator.shrink import ddmin

    violated = {property_of(p) for p in problems}
    settings = {**SIM_DEFAULTS, **options}

    def candidate(faults: Any) -> ByzzSchedule:
        return replace(schedule, specs=tuple(f for f in faults if isinstance(f, str)),
                       cuts=tuple(f for f in faults if not isinstance(f, str)))

    def fails(faults: Any) -> bool:
        found = simulate(candidate(faults), **settings)
        return bool(violated & {property_of(p) for p in found})

    result = ddmin((*schedule.specs, *schedule.cuts), fails, budget_s)
    return candidate(result.minimal), result
