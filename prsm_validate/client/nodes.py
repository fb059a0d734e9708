"""Consensus node introspection: ``/status``, ``/log`` and ``/ledger`` of every replica.

The harness reads node state directly (never through the API), so checkers see what each
replica itself committed. A node that does not answer (killed, paused, partitioned from the
harness) reads as ``None``, never as an error.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from prsm_validate.checker.agreement import NodeLog
from prsm_validate.checker.cluster import cluster_safety
from prsm_validate.checker.verdict import Verdict
from prsm_validate.history import Event
from prsm_validate.targets.base import Deployment


class Cluster:
    """The replicas of a deployment, by component name (``node-0`` ...)."""

    def __init__(self, deployment: Deployment, timeout_s: float = 1.0) -> None:
        self.urls = {node.id: node.url for node in deployment.nodes}
        self.names = list(self.urls)
        self.http = httpx.Client(timeout=timeout_s, trust_env=False)

    def close(self) -> None:
        """Release the connection pool."""
        self.http.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def f(self) -> int:
        """Faulty replicas tolerated: (n - 1) // 3."""
        return (len(self.names) - 1) // 3

    def get(self, name: str, path: str, timeout_s: float | None = None) -> Any | None:
        """GET ``path`` from node ``name`` as JSON; None if it does not answer."""
        try:
            response = self.http.get(self.urls[name] + path,
                                     timeout=timeout_s or self.http.timeout)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError):
            return None

    def status(self, name: str) -> dict[str, Any] | None:
        """Node ``name``'s ``/status`` (view, primary, last executed, checkpoint...)."""
        return self.get(name, "/status")

    def statuses(self, names: Iterable[str] | None = None) -> dict[str, dict[str, Any] | None]:
        """``/status`` of every (or the named) node."""
        return {name: self.status(name) for name in (names or self.names)}

    def view(self, exclude: Iterable[str] = ()) -> int | None:
        """The view at least f+1 answering nodes are in (so at least one honest one)."""
        views = Counter(s["view"] for n, s in self.statuses().items()
                        if s is not None and n not in set(exclude) and s.get("view_active"))
        agreed = [view for view, count in views.items() if count >= self.f + 1]
        return max(agreed) if agreed else None

    def primary(self, exclude: Iterable[str] = ()) -> str | None:
        """Component name of the primary of the agreed view, or None if there is none."""
        view = self.view(exclude)
        return None if view is None else self.names[view % len(self.names)]

    def last_executed(self, names: Iterable[str] | None = None) -> dict[str, int | None]:
        """Highest executed sequence number per node (None: no answer)."""
        return {n: (s or {}).get("last_executed") for n, s in self.statuses(names).items()}

    def logs(self, names: Iterable[str] | None = None, since: int | None = None
             ) -> list[NodeLog]:
        """Committed entries and checkpoints of every answering node (from sequence number
        ``since`` on, if given: then state-transfer jumps are not known, nor judged)."""
        found = []
        path = "/log" if since is None else f"/log?from={since}"
        for name in names or self.names:
            data = self.get(name, path, timeout_s=10.0)
            if data is not None:
                found.append(NodeLog.from_json(name, data))
        return found

    def ledger(self, name: str) -> dict[str, Any] | None:
        """Node ``name``'s ledger: balances, applied transfer ids, genesis."""
        return self.get(name, "/ledger", timeout_s=10.0)

    def wait_caught_up(self, names: Iterable[str], timeout_s: float = 30.0) -> dict[str, int]:
        """Wait until every named node has executed as far as the most advanced one was when
        the wait began; returns their last executed sequence numbers (raises TimeoutError)."""
        names = list(names)
        target = max((v for v in self.last_executed().values() if v is not None), default=0)
        deadline = time.monotonic() + timeout_s
        while True:
            seen = self.last_executed(names)
            if all(v is not None and v >= target for v in seen.values()):
                return {n: int(v) for n, v in seen.items() if v is not None}
            if time.monotonic() > deadline:
                raise TimeoutError(f"nodes did not reach sequence {target} within "
                                   f"{timeout_s:g}s: {seen}")
            time.sleep(0.05)

    def ledgers(self, names: Iterable[str] | None = None) -> dict[str, dict[str, Any] | None]:
        """``/ledger`` of every (or the named) node; None for a node that did not answer."""
        return {name: self.ledger(name) for name in (names or self.names)}

    def settled_ledgers(self, timeout_s: float = 30.0) -> dict[str, dict[str, Any] | None]:
        """Every replica's ledger once all have caught up (the "before" of a scenario: a
        replica still applying an earlier test's transfers would blame this one for them).
        A replica that does not catch up in time reads as None, so it is judged "unknown"."""
        try:
            self.wait_caught_up(self.names, timeout_s)
        except TimeoutError:
            behind = self.last_executed()
            top = max((v for v in behind.values() if v is not None), default=0)
            ledgers = self.ledgers()
            return {n: (ledgers[n] if behind[n] == top else None) for n in self.names}
        return self.ledgers()

    def safety(self, events: Sequence[Event], before: dict[str, dict[str, Any] | None],
               honest: Iterable[str] | None = None, catch_up_s: float = 30.0,
               since: int | None = None) -> Verdict:
        """:func:`prsm_validate.checker.cluster.cluster_safety` of these replicas."""
        return cluster_safety(self, events, before, honest, catch_up_s, since)
