"""Faults on the consensus cluster: partitions, link toxics, Byzantine nodes and twins.

They act on the target's Toxiproxy-compatible fault proxy (one proxy per directed link, named
``<src>-to-<dst>``; see :mod:`prsm_validate.targets.cluster`) and on its process control.
Each returns an undo callable; :class:`~prsm_validate.nemesis.core.Nemesis` records the fault
and calls the undo when the scope exits, also on failure.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from prsm_validate.faultproxy.client import ProxyApiError, ProxyClient
from prsm_validate.nemesis import partitions

Undo = Callable[[], None]
STREAMS = ("upstream", "downstream")


def grudge_for(shape: str, nodes: Sequence[str], rng: random.Random,
               primary: str | None = None, **options: Any) -> partitions.Grudge:
    """The grudge of a named shape over ``nodes`` (shuffled by ``rng`` for the symmetric
    shapes, so different seeds cut different nodes)."""
    if shape == "isolate-primary":
        if primary is None:
            raise ValueError("isolate-primary needs the current primary; none is agreed now")
        return partitions.isolate_primary(nodes, primary)
    if shape == "explicit":
        return partitions.explicit(nodes, options["grudge"])
    order = list(nodes)
    rng.shuffle(order)
    if shape == "isolate":
        options.setdefault("node", order[0])
    return partitions.shape(shape, order, **options)


def describe(grudge: partitions.Grudge) -> str:
    """Who hears whom, as groups: ``node-0|node-1,node-2,node-3`` (a bridge node appears in
    both groups it joins)."""
    groups = {tuple(sorted(n for n in grudge if n not in grudge[node])) for node in grudge}
    return "|".join(",".join(g) for g in sorted(groups))


def partition(client: ProxyClient, grudge: partitions.Grudge) -> Undo:
    """Blackhole every link of ``grudge`` (connections held, as a real partition)."""
    return partitions.apply_grudge(client, grudge).heal


def toxic(client: ProxyClient, src: str, dst: str, kind: str, attributes: dict[str, int],
          stream: str = "upstream", toxicity: float = 1.0) -> Undo:
    """A toxic on the link ``src -> dst`` (``stream`` upstream, downstream or both)."""
    proxy = partitions.link_name(src, dst)
    streams = STREAMS if stream == "both" else (stream,)
    names = []
    try:
        for one in streams:
            names.append(client.add_toxic(proxy, kind, attributes, one, toxicity,
                                          name=f"nemesis_{kind}_{one}")["name"])
    except BaseException:
        _remove(client, proxy, names)
        raise
    return lambda: _remove(client, proxy, names)


def _remove(client: ProxyClient, proxy: str, names: list[str]) -> None:
    for name in names:
        try:
            client.remove_toxic(proxy, name)
        except ProxyApiError as exc:
            if exc.status != 404:
                raise


def redirect(client: ProxyClient, senders: Sequence[str], receiver: str, upstream: str) -> Undo:
    """Make ``senders``' links to ``receiver`` reach ``upstream`` instead (twins); the undo
    points them back. Changing a proxy's upstream restarts it, dropping live connections, so
    senders reconnect to the new end."""
    originals: dict[str, str] = {}
    for sender in senders:
        name = partitions.link_name(sender, receiver)
        originals[name] = client.proxy(name)["upstream"]
        client.update_proxy(name, upstream=upstream)

    def undo() -> None:
        for name, original in originals.items():
            client.update_proxy(name, upstream=original)

    return undo


def twin_arrangement(nodes: Sequence[str], node: str, twin: str,
                     groups: Sequence[Sequence[str]]) -> tuple[list[str], partitions.Grudge]:
    """How to put the replicas ``nodes``, twinned ``node`` and its ``twin`` process in
    ``groups`` that hear only within themselves: the replicas whose links to ``node`` must
    reach the twin (those in the twin's group), and the grudge to apply on the links. A
    replica's link to ``node`` carries its messages to whichever copy it reaches, so it is cut
    when that copy is in another group; the twin's own links are ``<twin>-to-<peer>``."""
    group = {p: k for k, members in enumerate(groups) for p in members}
    missing = {*nodes, twin} - set(group)
    if missing or group[node] == group[twin]:
        raise ValueError(f"groups {groups} must place each of {[*nodes, twin]} once, "
                         f"{node} and {twin} apart")
    sees_twin = [j for j in nodes if j != node and group[j] == group[twin]]
    grudge: dict[str, frozenset[str]] = {}
    for dst in nodes:
        deaf = set()
        for src in [*nodes, twin]:
            if src == dst or {src, dst} == {node, twin}:
                continue
            reached = twin if dst == node and src in sees_twin else dst
            if group[src] != group[reached]:
                deaf.add(src)
        grudge[dst] = frozenset(deaf)
    return sees_twin, grudge
