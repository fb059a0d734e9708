"""Partition shapes as grudges, and grudges applied to directed-link fault proxies.

A *grudge* maps each node to the set of nodes it must not hear from (Jepsen's term). Shapes are
pure functions of the node names (shuffle them first with a seeded ``random.Random`` for
variety). :func:`links_to_cut` turns a grudge into directed links ``(src, dst)``: traffic from
``src`` to ``dst`` is dropped. :func:`apply_grudge` cuts those links on proxies named by
:func:`link_name` (one proxy per directed link, carrying connections ``src`` opens to ``dst``)
with a blackhole (``timeout`` 0) on both streams, or by disabling the proxy.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from prsm_validate.faultproxy.client import ProxyApiError, ProxyClient

Grudge = dict[str, frozenset[str]]
Link = tuple[str, str]

CUT_TOXIC = "partition"  # toxic names: partition_upstream, partition_downstream


def _check(nodes: Sequence[str], at_least: int = 2) -> list[str]:
    names = list(nodes)
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate node names in {names}")
    if len(names) < at_least:
        raise ValueError(f"this partition shape needs at least {at_least} nodes, got {names}")
    return names


def complete_grudge(nodes: Iterable[str], components: Iterable[Collection[str]]) -> Grudge:
    """Each node hears only from nodes sharing a component with it (a node may be in
    several, as a bridge is); nodes in no component hear from nobody."""
    nodes, components = list(nodes), [set(c) for c in components]
    return {node: frozenset(other for other in nodes if other != node and not any(
        node in c and other in c for c in components)) for node in nodes}


def no_partition(nodes: Sequence[str]) -> Grudge:
    """Everyone hears everyone."""
    return {node: frozenset() for node in _check(nodes, 1)}


def isolate(nodes: Sequence[str], node: str) -> Grudge:
    """``node`` hears from nobody and nobody hears from it."""
    names = _check(nodes)
    if node not in names:
        raise ValueError(f"{node!r} is not one of {names}")
    return complete_grudge(names, [[node], [n for n in names if n != node]])


def isolate_primary(nodes: Sequence[str], primary: str) -> Grudge:
    """The current primary (leader) cut off from every replica."""
    return isolate(nodes, primary)


def halves(nodes: Sequence[str]) -> Grudge:
    """Two halves (the first ``n // 2`` nodes and the rest) that cannot hear each other."""
    names = _check(nodes)
    middle = len(names) // 2
    return complete_grudge(names, [names[:middle], names[middle:]])


def majority_minority(nodes: Sequence[str], minority: int | None = None) -> Grudge:
    """The first ``minority`` nodes (default the largest minority, ``(n - 1) // 2``) cut off
    from the majority."""
    names = _check(nodes)
    size = (len(names) - 1) // 2 if minority is None else minority
    if not 0 < size <= (len(names) - 1) // 2:
        raise ValueError(f"a minority of {len(names)} nodes has 1..{(len(names) - 1) // 2} "
                         f"nodes, got {size}")
    return complete_grudge(names, [names[:size], names[size:]])


def majorities_ring(nodes: Sequence[str]) -> Grudge:
    """Each node hears from a majority (itself and its nearest neighbours on a ring of the
    nodes in order), and no two nodes hear from the same majority (Jepsen's majorities ring)."""
    names = _check(nodes, 3)
    count = len(names)
    majority = count // 2 + 1
    grudge: Grudge = {}
    for index, node in enumerate(names):
        first = index - (majority - 1) // 2
        seen = {names[(first + step) % count] for step in range(majority)}
        grudge[node] = frozenset(n for n in names if n not in seen)
    return grudge


def bridge(nodes: Sequence[str]) -> Grudge:
    """Two halves that cannot hear each other, joined by one node (the middle one) that
    hears and is heard by both."""
    names = _check(nodes, 3)
    middle = len(names) // 2
    return complete_grudge(names, [names[:middle + 1], names[middle:]])


def explicit(nodes: Sequence[str], grudge: Mapping[str, Iterable[str]]) -> Grudge:
    """A grudge given as data, checked against the node names and completed with empty sets."""
    names = _check(nodes, 1)
    unknown = (set(grudge) | {n for ns in grudge.values() for n in ns}) - set(names)
    if unknown:
        raise ValueError(f"grudge names unknown nodes {sorted(unknown)}; nodes are {names}")
    return {node: frozenset(grudge.get(node, ())) - {node} for node in names}


SHAPES: dict[str, Callable[..., Grudge]] = {
    "none": no_partition, "isolate": isolate, "isolate-primary": isolate_primary,
    "halves": halves, "majority-minority": majority_minority,
    "majorities-ring": majorities_ring, "bridge": bridge,
}


def shape(name: str, nodes: Sequence[str], **options: object) -> Grudge:
    """A shape by its name in :data:`SHAPES` (``isolate`` takes ``node=``, ``isolate-primary``
    ``primary=``, ``majority-minority`` optionally ``minority=``)."""
    if name not in SHAPES:
        raise ValueError(f"unknown partition shape {name!r}; known: {sorted(SHAPES)}")
    return SHAPES[name](nodes, **options)


def links_to_cut(grudge: Mapping[str, Iterable[str]]) -> set[Link]:
    """Directed links ``(src, dst)`` whose traffic must be dropped: ``dst`` holds a grudge
    against ``src``."""
    return {(src, dst) for dst, sources in grudge.items() for src in sources if src != dst}


def link_name(src: str, dst: str) -> str:
    """Name of the proxy carrying connections that ``src`` opens to ``dst``."""
    return f"{src}-to-{dst}"


@dataclass
class Partition:
    """A grudge in force on link proxies; :meth:`heal` (or leaving the ``with``) undoes it."""

    client: ProxyClient
    grudge: Grudge
    mode: str = "timeout"
    naming: Callable[[str, str], str] = link_name
    cut: list[Link] = field(default_factory=list)

    def apply(self) -> Partition:
        """Cut every link of the grudge; if one fails, heal what was cut and re-raise."""
        try:
            for link in sorted(links_to_cut(self.grudge)):
                self._cut(self.naming(*link))
                self.cut.append(link)
        except BaseException:
            self.heal()
            raise
        return self

    def _cut(self, proxy: str) -> None:
        if self.mode == "disable":
            self.client.disable(proxy)
            return
        for stream in ("upstream", "downstream"):
            self.client.add_toxic(proxy, "timeout", {"timeout": 0}, stream=stream,
                                  name=f"{CUT_TOXIC}_{stream}")

    def heal(self) -> None:
        """Restore every link this partition cut (idempotent; missing toxics are fine)."""
        while self.cut:
            heal_link(self.client, self.naming(*self.cut.pop()), self.mode)

    def __enter__(self) -> Partition:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.heal()


def heal_link(client: ProxyClient, proxy: str, mode: str = "timeout") -> None:
    """Undo a cut on one link proxy: re-enable it, or remove the partition toxics."""
    if mode == "disable":
        client.enable(proxy)
        return
    for stream in ("upstream", "downstream"):
        try:
            client.remove_toxic(proxy, f"{CUT_TOXIC}_{stream}")
        except ProxyApiError as exc:
            if exc.status != 404:
                raise


def apply_grudge(client: ProxyClient, grudge: Grudge, mode: str = "timeout",
                 naming: Callable[[str, str], str] = link_name) -> Partition:
    """Cut the links of ``grudge`` on their proxies (``mode`` ``timeout``: a blackhole on
    both streams, connections held; ``disable``: the proxy closed); returns the partition."""
    if mode not in ("timeout", "disable"):
        raise ValueError(f"partition mode must be 'timeout' or 'disable', got {mode!r}")
    return Partition(client, grudge, mode, naming).apply()


def heal(client: ProxyClient, proxies: Iterable[str]) -> None:
    """Heal every partition on these link proxies, whoever applied it: re-enable each and
    remove its partition toxics."""
    for proxy in proxies:
        client.enable(proxy)
        heal_link(client, proxy)
