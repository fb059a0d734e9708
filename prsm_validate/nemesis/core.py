"""The nemesis: one fault vocabulary for every scenario and every target that supports it.

Each fault checks the target's capabilities first (a fault the target cannot do skips the
scenario, naming the capability and the target), is recorded in the test's history as a
``nemesis`` event (Jepsen style: ``:info`` ops of process ``nemesis``), and is undone when its
scope exits, also on failure. Whatever is still in force when the test ends is healed by
:meth:`Nemesis.heal_all`, which the fixture always calls.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from prsm_validate.history import History
from prsm_validate.targets import base

NEMESIS = "nemesis"


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
class Nemesis:
    """Process faults on a deployment, with automatic healing."""

    deployment: base.Deployment
    history: History | None = None
    timeline: list[FaultRecord] = field(default_factory=list)
    _undo: list[tuple[FaultRecord, Callable[[], None]]] = field(default_factory=list)

    def _require(self, capability: str) -> base.ProcessControl:
        if not self.deployment.has(capability) or self.deployment.control is None:
            pytest.skip(f"target {self.deployment.target!r} lacks capability {capability}")
        return self.deployment.control

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
        self._require(base.LINK_FAULTS)
        control = self.deployment.control
        if not hasattr(control, "cut_link"):
            pytest.skip(f"target {self.deployment.target!r} cannot cut links")
        control.cut_link(source, dest)  # type: ignore[union-attr]
        return self._begin("partition", f"{source}<->{dest}",
                           lambda: control.heal_link(source, dest))  # type: ignore[union-attr]

    @contextlib.contextmanager
    def partitioned(self, source: str, dest: str) -> Iterator[FaultRecord]:
        """``source`` and ``dest`` cannot talk for the ``with`` block; healed after it."""
        record = self.cut(source, dest)
        try:
            yield record
        finally:
            self._end(record)

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
        return errors
