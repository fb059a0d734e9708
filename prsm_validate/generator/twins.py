"""Twins schedules: a replica's identity run by two processes, plus a partition per round,
enumerated systematically over the small-scope space and sampled when it is too large.

Twins (Bano et al., "Twins: BFT Systems Made Robust", OPODIS 2022) emulates Byzantine
behaviour with honest code: up to f identities are run by two processes each (same keys),
and in every round the n + twins processes are split into at most three groups that only
talk within themselves. Each copy then says what an honest node would say to a different
part of the cluster: equivocation, double votes and amnesia, with no Byzantine code at all.

Here a round is a PBFT view. The leader of a round is fixed by the protocol (the primary of
view v is replica v mod n), so "leader choice" is which identity is twinned: the enumeration
covers every twinned identity, hence a twinned primary in each round. Two copies of one
identity are never in the same group: a link reaches one end, so on real processes a group
holding both copies could not be reproduced. The text form, one token per field::

    twins=1 @0=0,1|1',2,3 @1=0,1,2|1',3 net=42

- ``twins=I[,J]``: the twinned identities; ``I'`` names the second process of ``I``;
- ``@R=groups``: the arrangement of round R, groups separated by ``|``; rounds 0..R all
  given. Before round 0 and after the last round the twin hears nobody and is heard by all
  (on real processes every other link reaches the original);
- ``net=SEED``: the simulator's message-order seed (real processes ignore it).

The enumeration is a mixed-radix numbering of (twinned identity, arrangement of round 0,
arrangement of round 1, ...), so schedule ``k`` of a space is computed directly and a seeded
sample draws distinct indices. Written here because no library enumerates this space.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prsm_validate.generator.schedule import RoundPartition

Arrangement = tuple[tuple[str, ...], ...]
TWIN_MARK = "'"


def process_names(n: int, twins: tuple[int, ...]) -> list[str]:
    """The processes of a run: ``"0"`` .. ``"n-1"`` and ``"I'"`` for each twinned ``I``."""
    return [*map(str, range(n)), *(f"{i}{TWIN_MARK}" for i in twins)]


def identity(process: str) -> int:
    """The replica a process runs (``"1'"`` runs replica 1)."""
    return int(process.rstrip(TWIN_MARK))


def set_partitions(items: list[str], max_groups: int) -> Iterator[Arrangement]:
    """Every partition of ``items`` into 1..``max_groups`` non-empty groups, in a fixed order
    (restricted growth strings), each group and the partition sorted."""
    def grow(index: int, groups: list[list[str]]) -> Iterator[Arrangement]:
        if index == len(items):
            yield tuple(sorted(tuple(sorted(g)) for g in groups))
            return
        for group in groups:
            group.append(items[index])
            yield from grow(index + 1, groups)
            group.pop()
        if len(groups) < max_groups:
            groups.append([items[index]])
            yield from grow(index + 1, groups)
            groups.pop()

    yield from grow(0, [])


def arrangements(n: int, twins: tuple[int, ...], max_groups: int = 3) -> list[Arrangement]:
    """The arrangements of one round: partitions of the processes into at most
    ``max_groups`` groups, the two copies of a twinned identity in different groups."""
    return [a for a in set_partitions(process_names(n, twins), max_groups)
            if all(len({identity(p) for p in g}) == len(g) for g in a)]


@dataclass(frozen=True)
class TwinsSchedule:
    """One Twins schedule on ``n`` replicas: ``rounds[r]`` is round r's arrangement."""

    n: int
    twins: tuple[int, ...]
    rounds: tuple[Arrangement, ...]
    net: int = 0

    @property
    def processes(self) -> list[str]:
        """Every process of the run."""
        return process_names(self.n, self.twins)

    @property
    def last_round(self) -> int:
        """The last scheduled round (liveness is judged after it)."""
        return len(self.rounds) - 1

    def partitions(self) -> tuple[RoundPartition, ...]:
        """The arrangements as round-scoped partitions of the processes."""
        return tuple(RoundPartition(r, r, a) for r, a in enumerate(self.rounds))

    def delivers(self, round_number: int, src: str, dst: str) -> bool:
        """Whether a message of ``round_number`` from process ``src`` reaches ``dst``."""
        if not 0 <= round_number < len(self.rounds):
            return not dst.endswith(TWIN_MARK)
        return not self.partitions()[round_number].drops(round_number, src, dst)

    def text(self) -> str:
        """The compact text form (see the module docstring)."""
        rounds = [f"@{r}=" + "|".join(",".join(g) for g in a) for r, a in enumerate(self.rounds)]
        return " ".join([f"twins={','.join(map(str, self.twins))}", *rounds, f"net={self.net}"])


def parse(text: str, n: int = 4) -> TwinsSchedule:
    """Read :meth:`TwinsSchedule.text` back; raises ValueError naming the bad token."""
    twins: tuple[int, ...] | None = None
    net, given = 0, {}
    for token in text.split():
        key, _, value = token.partition("=")
        try:
            if key == "twins":
                twins = tuple(int(i) for i in value.split(","))
            elif key == "net":
                net = int(value)
            elif key.startswith("@"):
                given[int(key[1:])] = tuple(tuple(g.split(",")) for g in value.split("|"))
            else:
                raise ValueError("expected twins=, @ROUND= or net=")
        except ValueError as exc:
            raise ValueError(f"bad Twins token {token!r}: {exc}") from None
    if not twins or any(not 0 <= i < n for i in twins) or len(set(twins)) != len(twins):
        raise ValueError(f"Twins schedule {text!r} needs twins=I[,J] with distinct 0 <= I < {n}")
    if len(twins) > (n - 1) // 3:
        raise ValueError(f"{len(twins)} twinned identities exceed f = {(n - 1) // 3} for n = {n}")
    if sorted(given) != list(range(len(given))) or not given:
        raise ValueError(f"Twins schedule {text!r} needs rounds @0=..@R=, each once, in order")
    rounds = tuple(_checked(given[r], n, twins, r) for r in range(len(given)))
    return TwinsSchedule(n, twins, rounds, net)


def _checked(arrangement: Arrangement, n: int, twins: tuple[int, ...], r: int) -> Arrangement:
    members = sorted(p for g in arrangement for p in g)
    if members != sorted(process_names(n, twins)):
        raise ValueError(f"round {r}'s groups {arrangement} must hold each of "
                         f"{process_names(n, twins)} exactly once")
    if any(len({identity(p) for p in g}) != len(g) for g in arrangement):
        raise ValueError(f"round {r} puts both copies of an identity in one group")
    return tuple(sorted(tuple(sorted(g)) for g in arrangement))


@dataclass(frozen=True)
class TwinsSpace:
    """Every schedule of ``rounds`` rounds with one twinned identity on ``n`` replicas."""

    n: int = 4
    rounds: int = 2
    max_groups: int = 3

    def __post_init__(self) -> None:
        if self.n < 4 or self.rounds < 1 or not 1 <= self.max_groups <= 3:
            raise ValueError("a Twins space needs n >= 4, rounds >= 1 and 1..3 groups")

    def per_round(self, twin: int) -> list[Arrangement]:
        """The arrangements of one round when ``twin`` is twinned."""
        return arrangements(self.n, (twin,), self.max_groups)

    @property
    def size(self) -> int:
        """How many schedules the space holds (message orders aside)."""
        return self.n * len(self.per_round(0)) ** self.rounds

    def schedule(self, index: int, net: int = 0) -> TwinsSchedule:
        """Schedule ``index`` (0 <= index < size): mixed radix over (twin, round 0, ...)."""
        if not 0 <= index < self.size:
            raise ValueError(f"schedule index {index} outside 0..{self.size - 1}")
        twin, index = index % self.n, index // self.n
        choices, rounds = self.per_round(twin), []
        for _ in range(self.rounds):
            index, digit = divmod(index, len(choices))
            rounds.append(choices[digit])
        return TwinsSchedule(self.n, (twin,), tuple(rounds), net)

    def indices(self, seed: int, count: int) -> list[int]:
        """All indices in order when ``count`` covers the space, else ``count`` distinct
        indices drawn with ``seed``."""
        if count >= self.size:
            return list(range(self.size))
        return random.Random(seed).sample(range(self.size), count)


def simulate(schedule: TwinsSchedule, **options: Any) -> list[str]:
    """Run ``schedule`` in the sans-IO simulator; the violated properties (none: passed).

    Agreement, validity, exactly-once, supply and client results are judged among the
    replicas that are not twinned; liveness once the chaotic phase is over and the twins
    stopped. ``options`` are :class:`~reference_system.consensus.sim.SimConfig` fields.
    """
    from reference_system.consensus.sim import simulate as run

    names = {p: name for p, name in enumerate(schedule.processes)}

    def cut(view: int, seq: int, src: int, dst: int) -> bool:
        return not schedule.delivers(view, names[src], names[dst])

    return run(schedule.net, n=schedule.n, twins=schedule.twins, cut=cut,
               **options).violations()


SIM_DEFAULTS: dict[str, Any] = {"clients": 2, "ops_per_client": 4, "drop": 0.0,
                                "params": {"checkpoint_interval": 2}}


@dataclass(frozen=True)
class Found:
    """A schedule that violated a property in simulation."""

    index: int  # in the space
    ran: int  # schedules run up to and including this one
    schedule: TwinsSchedule
    problems: tuple[str, ...]


@dataclass
class SearchResult:
    """What a search ran and found."""

    space: int
    schedules: int = 0
    seconds: float = 0.0
    found: tuple[Found, ...] = ()

    @property
    def rate(self) -> float:
        """Schedules per second."""
        return self.schedules / self.seconds if self.seconds > 0 else 0.0


def search(space: TwinsSpace, seed: int, schedules: int, budget_s: float, stop_at: int = 0,
           on_found: Callable[[Found], None] | None = None, **options: Any) -> SearchResult:
    """Run the space's schedules (all of them in order when ``schedules`` covers it, else a
    seeded sample), each with a message-order seed drawn from ``seed``, within ``budget_s``;
    stop after ``stop_at`` violations (0: never)."""
    import time

    rng, started = random.Random(seed), time.monotonic()
    result, found = SearchResult(space.size), []
    settings = {**SIM_DEFAULTS, **options}
    for count, index in enumerate(space.indices(seed, schedules), start=1):
        if time.monotonic() - started > budget_s:
            break
        schedule = space.schedule(index, net=rng.randrange(2**31))
        problems = simulate(schedule, **settings)
        result.schedules = count
        if problems:
            found.append(Found(index, count, schedule, tuple(problems)))
            if on_found is not None:
                on_found(found[-1])
            if stop_at and len(found) >= stop_at:
                break
    result.seconds, result.found = time.monotonic() - started, tuple(found)
    return result
