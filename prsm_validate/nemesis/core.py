"""The nemesis: one fault vocabulary for every scenario and every target that supports it.

Each fault checks the target's capabilities first (a fault the target cannot do skips the
scenario, naming the capability and the target), is recorded in the test's history as a
``nemesis`` event (Jepsen style: ``:info`` ops of process ``nemesis``), and is undone when its
scope exits, also on failure. Whatever is still in force when the test ends is healed by
:meth:`Nemesis.heal_all`, which the fixture always calls.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from prsm_validate.history import History
from prsm_validate.nemesis import cluster as cluster_faults
from prsm_validate.targets import base

Control = TypeVar("Control")

NEMESIS = "nemesis"
PRIMARY_WAIT_S = 10.0  # isolate-primary right after a heal waits out a view change in progress


@dataclass
class FaultRecord:
    """One fault: what, on which component, from when until when (monotonic seconds)."""

    kind: str
    target: str
    started: float
    ended: float | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON form for reports."""
        return {"kind": self.kind, "target": self.target, "started": self.started,
                "ended": self.ended}


@dataclass
class ActiveFault:
    """A fault in force: ``heal()`` it, or use it as a context manager (healed on exit)."""

    nemesis: Nemesis
    record: FaultRecord

    def heal(self) -> None:
        """Undo the fault now (idempotent)."""
        self.nemesis._end(self.record)

    def __enter__(self) -> ActiveFault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.heal()


@dataclass
class Nemesis:
    """Faults on a deployment (process, link, partition, Byzantine), with automatic healing.

    ``seed`` drives every random choice (which node a shape cuts first...), so a run's faults
    replay with ``--prsm-seed``.
    """

    deployment: base.Deployment
    history: History | None = None
    seed: int = 0
    timeline: list[FaultRecord] = field(default_factory=list)
    _undo: list[tuple[FaultRecord, Callable[[], None]]] = field(default_factory=list)
    _proxy: Any = None
    _byzantine: dict[str, tuple[str, ...]] = field(default_factory=dict)
    _twins: dict[str, tuple[str, str]] = field(default_factory=dict)  # node -> (twin, listen)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def _require(self, capability: str) -> base.ProcessControl:
        return self._control(capability, base.ProcessControl)

    def _control(self, capability: str, protocol: type[Control]) -> Control:
        """The target's control as ``protocol``, or skip naming the capability it lacks."""
        control = self.deployment.control
        if not self.deployment.has(capability) or not isinstance(control, protocol):
            pytest.skip(f"target {self.deployment.target!r} lacks capability {capability}"
                        f"{'' if control is None else f' (its control is no {protocol.__name__})'}")
        return control

    def _record(self, kind: str, target: str, phase: str) -> FaultRecord:
        record = FaultRecord(kind, target, time.monotonic())
        if self.history is not None:
            self.history.append(NEMESIS, "info", kind, {"target": target, "phase": phase})
        return record

    def _begin(self, kind: str, target: str, undo: Callable[[], None] | None) -> FaultRecord:
        record = self._record(kind, target, "start")
        self.timeline.append(record)
        if undo is not None:
            self._undo.append((record, undo))
        else:
            record.ended = record.started
        return record

    def _end(self, record: FaultRecord) -> None:
        for index, (pending, undo) in enumerate(self._undo):
            if pending is record:
                del self._undo[index]
                try:
                    undo()
                finally:
                    record.ended = time.monotonic()
                    self._record(record.kind, record.target, "heal")
                return

    # process faults ----------------------------------------------------------------------

    def kill(self, component: str) -> FaultRecord:
        """SIGKILL ``component``; it is restarted when the test ends (if not before)."""
        control = self._require(base.KILL)
        control.kill(component)
        return self._begin("kill", component, lambda: control.restart(component))

    def start(self, component: str) -> None:
        """Start a killed component again now (ends its kill fault)."""
        for record, _ in list(self._undo):
            if record.kind == "kill" and record.target == component:
                self._end(record)
                return
        self._require(base.RESTART).restart(component)

    def restart(self, component: str) -> FaultRecord:
        """Stop and start ``component`` and wait until it is ready again."""
        self._require(base.RESTART).restart(component)
        return self._begin("restart", component, None)

    def wipe(self, node: str) -> FaultRecord:
        """Kill replica ``node``, delete its durable log and start it empty: it must catch up
        by state transfer (recorded like every fault, in the history and faults.json)."""
        control = self._control(base.WIPE, base.WipeControl)
        record = self._begin("wipe", node, None)
        control.wipe_node(node)
        return record

    @contextlib.contextmanager
    def paused(self, component: str) -> Iterator[FaultRecord]:
        """SIGSTOP ``component`` for the ``with`` block, SIGCONT after it (also on failure)."""
        record = self.pause(component)
        try:
            yield record
        finally:
            self._end(record)

    def pause(self, component: str) -> FaultRecord:
        """SIGSTOP ``component`` until :meth:`resume` or the end of the test."""
        control = self._require(base.PAUSE)
        control.pause(component)
        return self._begin("pause", component, lambda: control.resume(component))

    def resume(self, component: str) -> None:
        """SIGCONT a paused component."""
        for record, _ in list(self._undo):
            if record.kind == "pause" and record.target == component:
                self._end(record)

    @contextlib.contextmanager
    def killed(self, component: str) -> Iterator[FaultRecord]:
        """``component`` is down for the ``with`` block and restarted after it."""
        record = self.kill(component)
        try:
            yield record
        finally:
            self._end(record)

    # link faults -------------------------------------------------------------------------

    def cut(self, source: str, dest: str) -> FaultRecord:
        """Partition ``source`` from ``dest`` until :meth:`heal_link` or the end of the test."""
        control = self._control(base.LINK_FAULTS, base.LinkControl)
        control.cut_link(source, dest)
        return self._begin("partition", f"{source}<->{dest}",
                           lambda: control.heal_link(source, dest))

    @contextlib.contextmanager
    def partitioned(self, source: str, dest: str) -> Iterator[FaultRecord]:
        """``source`` and ``dest`` cannot talk for the ``with`` block; healed after it."""
        record = self.cut(source, dest)
        try:
            yield record
        finally:
            self._end(record)

    # the consensus cluster -----------------------------------------------------------------

    @property
    def nodes(self) -> list[str]:
        """Component names of the consensus replicas (``node-0`` ...)."""
        return [node.id for node in self.deployment.nodes]

    def agreed_primary(self, wait_s: float = 0.0) -> str | None:
        """The current primary as agreed by f+1 replicas, waiting up to ``wait_s`` for one
        (e.g. while a view change completes); None if there is none."""
        from prsm_validate.client.nodes import Cluster

        deadline = time.monotonic() + wait_s
        with Cluster(self.deployment) as nodes:
            primary = nodes.primary()
            while primary is None and time.monotonic() < deadline:
                time.sleep(0.1)
                primary = nodes.primary()
        return primary

    def primary(self, wait_s: float = 0.0) -> str:
        """:meth:`agreed_primary`, failing the test if there is none."""
        primary = self.agreed_primary(wait_s)
        if primary is None:
            pytest.fail(f"no primary is agreed by f+1 replicas now"
                        f"{f' (waited {wait_s:g}s)' if wait_s else ''}", pytrace=False)
        return primary

    def _fault_proxy(self, capability: str) -> Any:
        self._require(capability)
        url = self.deployment.services.get("fault_proxy")
        if not url:
            pytest.skip(f"target {self.deployment.target!r} has no fault proxy on its "
                        f"consensus links (capability {capability})")
        if self._proxy is None:
            from prsm_validate.faultproxy.client import ProxyClient

            self._proxy = ProxyClient(url)
        return self._proxy

    def partition(self, shape: str = "isolate", nodes: Sequence[str] | None = None,
                  **options: Any) -> ActiveFault:
        """Partition the replicas (``nodes``; add ``"api"`` to cut the API's links too) by a
        named shape: isolate, isolate-primary, halves, majority-minority, majorities-ring,
        bridge, or ``explicit`` with ``grudge={node: [nodes it must not hear]}``."""
        proxy = self._fault_proxy(base.PARTITION)
        names = list(nodes or self.nodes)
        primary = self.primary(PRIMARY_WAIT_S) if shape == "isolate-primary" else None
        grudge = cluster_faults.grudge_for(shape, names, self.rng, primary, **options)
        record = self._begin("partition", f"{shape}:{cluster_faults.describe(grudge)}",
                             cluster_faults.partition(proxy, grudge))
        return ActiveFault(self, record)

    def link(self, src: str, dst: str) -> LinkFaults:
        """Toxics on the directed link ``src -> dst``: ``nemesis.link(a, b).latency(ms=200)``."""
        return LinkFaults(self, src, dst)

    def byzantine(self, node: str, *modes: str, negative_control: bool = False) -> ActiveFault:
        """Restart ``node`` with Byzantine behaviours (``equivocate``, ``silence:1,2`` ...);
        at most f nodes at once unless the scenario is a ``negative_control``."""
        control = self._control(base.BYZANTINE, base.ByzantineControl)
        f = (len(self.nodes) - 1) // 3
        faulty = {*self._byzantine, node}
        if len(faulty) > f and not negative_control:
            raise ValueError(f"{len(faulty)} Byzantine nodes {sorted(faulty)} exceed f = {f}; "
                             "pass negative_control=True for a scenario that must see it fail")
        control.restart_node(node, modes)
        self._byzantine[node] = modes

        def undo() -> None:
            self._byzantine.pop(node, None)
            control.restart_node(node, ())

        return ActiveFault(self, self._begin("byzantine", f"{node}:{'+'.join(modes)}", undo))

    def twins(self, node: str, sees_twin: Sequence[str]) -> ActiveFault:
        """Start a second process with ``node``'s identity; ``sees_twin`` (replicas, or
        ``"api"``) talk to the twin from now on, everyone else to the original."""
        proxy = self._fault_proxy(base.BYZANTINE)
        control = self._control(base.BYZANTINE, base.TwinControl)
        twin, listen = control.start_twin(node)
        try:
            back = cluster_faults.redirect(proxy, sees_twin, node, listen)
        except BaseException:
            control.stop_twin(twin)
            raise
        self._twins[node] = (twin, listen)

        def undo() -> None:
            self._twins.pop(node, None)
            try:
                back()
            finally:
                control.stop_twin(twin)

        return ActiveFault(self, self._begin("twins", f"{node}:{','.join(sees_twin)}", undo))

    def twin_of(self, node: str) -> str:
        """The component name of ``node``'s twin while :meth:`twins` is in force."""
        if node not in self._twins:
            raise ValueError(f"{node} has no twin running; start one with nemesis.twins()")
        return self._twins[node][0]

    def twins_round(self, node: str, groups: Sequence[Sequence[str]]) -> ActiveFault:
        """While ``node`` is twinned: arrange the replicas, ``node`` and its twin (named by
        :meth:`twin_of`) in ``groups`` that hear only within themselves (Twins)."""
        proxy = self._fault_proxy(base.PARTITION)
        twin, listen = self.twin_of(node), self._twins[node][1]
        sees_twin, grudge = cluster_faults.twin_arrangement(self.nodes, node, twin, groups)
        back = cluster_faults.redirect(proxy, sees_twin, node, listen)
        try:
            cut = cluster_faults.partition(proxy, grudge)
        except BaseException:
            back()
            raise

        def undo() -> None:
            try:
                cut()
            finally:
                back()

        target = "|".join(",".join(g) for g in groups)
        return ActiveFault(self, self._begin("twins-round", target, undo))

    # healing -----------------------------------------------------------------------------

    def active(self) -> list[FaultRecord]:
        """Faults still in force."""
        return [record for record, _ in self._undo]

    def heal_all(self) -> list[str]:
        """Undo every fault still in force, newest first; returns errors (never raises)."""
        errors = []
        while self._undo:
            record = self._undo[-1][0]
            try:
                self._end(record)
            except Exception as exc:  # keep healing the rest
                errors.append(f"could not heal {record.kind} {record.target}: {exc}")
                if self._undo and self._undo[-1][0] is record:
                    self._undo.pop()
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
        return errors


@dataclass
class LinkFaults:
    """Toxics on one directed link; each returns an :class:`ActiveFault`."""

    nemesis: Nemesis
    src: str
    dst: str

    def _toxic(self, kind: str, attributes: dict[str, int], stream: str,
               toxicity: float = 1.0) -> ActiveFault:
        proxy = self.nemesis._fault_proxy(base.LINK_FAULTS)
        undo = cluster_faults.toxic(proxy, self.src, self.dst, kind, attributes, stream,
                                    toxicity)
        record = self.nemesis._begin(kind, f"{self.src}->{self.dst}", undo)
        return ActiveFault(self.nemesis, record)

    def latency(self, ms: int, jitter: int = 0, stream: str = "upstream",
                toxicity: float = 1.0) -> ActiveFault:
        """Delay every chunk by ``ms`` +- ``jitter`` milliseconds."""
        return self._toxic("latency", {"latency": ms, "jitter": jitter}, stream, toxicity)

    def bandwidth(self, rate_kb_s: int, stream: str = "upstream") -> ActiveFault:
        """Limit the link to ``rate_kb_s`` KB/s."""
        return self._toxic("bandwidth", {"rate": rate_kb_s}, stream)

    def blackhole(self, stream: str = "both") -> ActiveFault:
        """Drop all data, connections held open (Toxiproxy ``timeout`` 0)."""
        return self._toxic("timeout", {"timeout": 0}, stream)

    def reset_peer(self, after_ms: int = 0, stream: str = "upstream") -> ActiveFault:
        """Reset connections (TCP RST) after ``after_ms``."""
        return self._toxic("reset_peer", {"timeout": after_ms}, stream)

    def slicer(self, average_size: int = 64, size_variation: int = 32, delay_us: int = 100,
               stream: str = "upstream") -> ActiveFault:
        """Slice data into small chunks with a delay between them."""
        return self._toxic("slicer", {"average_size": average_size,
                                      "size_variation": size_variation, "delay": delay_us},
                           stream)

    def limit_data(self, nbytes: int, stream: str = "upstream") -> ActiveFault:
        """Close connections after ``nbytes`` bytes."""
        return self._toxic("limit_data", {"bytes": nbytes}, stream)
