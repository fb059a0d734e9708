"""What Chaos Toolkit experiments do to a deployment: probes that judge it, faults that are
recorded and healed, all through the harness's own clients, checkers and nemesis.

A :class:`Controller` wraps one :class:`~prsm_validate.targets.base.Deployment`. It runs in
``prsm-validate up`` (served over HTTP by :mod:`.server`, so an experiment can restart what
``up`` started) or in the ``chaos`` process itself for a target named in the targets file.
Every probe returns plain data with a ``verdict`` (``pass``, ``fail`` or ``unknown``: an
undecided probe never passes) that an experiment's tolerance reads; every fault returns its id,
and :meth:`Controller.heal` undoes one or all of them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from prsm_validate.errors import UsageProblem
from prsm_validate.history import History
from prsm_validate.nemesis.core import ActiveFault, Nemesis
from prsm_validate.targets.base import Deployment

PRIMARY = "primary"  # a component alias: the primary agreed by f+1 replicas now
TELEMETRY_BOUND_S = 5.0  # edge -> database within 5 s (seed target)
SLA_SNAPSHOT = ("http_req_failed: rate<0.01", "http_req_duration{name:me}: p(95)<100ms")


class ControlError(UsageProblem, ValueError):
    """A request the controller cannot carry out (named component unknown, capability
    missing...): the activity fails with this message."""


class Controller:
    """Probes and faults on one deployment (thread-safe: one request at a time)."""

    def __init__(self, deployment: Deployment, seed: int = 0) -> None:
        self.deployment = deployment
        self.history = History()
        self.nemesis = Nemesis(deployment, self.history, seed)
        self.faults: dict[str, ActiveFault] = {}
        self.lock = threading.Lock()
        self.counter = 0

    # ---- probes ------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The API's ``/health``: pass when it answers 200."""
        try:
            response = httpx.get(self.deployment.api_url + "/health", timeout=5.0,
                                 trust_env=False)
        except httpx.HTTPError as exc:
            return {"verdict": "fail", "status": None, "reason": type(exc).__name__}
        body = _json(response)
        return {"verdict": "pass" if response.status_code == 200 else "fail",
                "status": response.status_code, "components": body.get("components", body)
                if isinstance(body, dict) else body}

    def consensus(self, catch_up_s: float = 20.0) -> dict[str, Any]:
        """Agreement of every replica's log and ledger conservation on every replica (total
        supply equals genesis, no negative balance, the same balances once caught up)."""
        from prsm_validate.checker.agreement import check_agreement
        from prsm_validate.client.nodes import Cluster

        if not self.deployment.nodes:
            return {"verdict": "unknown", "reason": "the target exposes no consensus nodes"}
        with Cluster(self.deployment) as cluster:
            try:
                cluster.wait_caught_up(cluster.names, catch_up_s)
            except TimeoutError as exc:
                return {"verdict": "fail", "reason": str(exc)}
            agreement = check_agreement(cluster.logs())
            ledgers = cluster.ledgers()
        conservation = _conservation(ledgers)
        verdicts = [agreement.valid, conservation["valid"]]
        verdict = "fail" if False in verdicts else (
            "pass" if all(v is True for v in verdicts) else "unknown")
        return {"verdict": verdict, "agreement": agreement.to_json(),
                "conservation": conservation}

    def telemetry_lag(self, bound_s: float = TELEMETRY_BOUND_S) -> dict[str, Any]:
        """How far the database is behind the edge: readings acknowledged by the broker but
        not landed, and the publish-to-land latency of the last 10 s of readings."""
        import psycopg

        edge, dsn = self.deployment.services.get("edge"), self.deployment.postgres_dsn
        if not edge or not dsn:
            return {"verdict": "unknown", "reason": "the target exposes no edge or database"}
        try:
            acked = httpx.get(edge + "/stats", timeout=5.0, trust_env=False).json()["acked_seq"]
            with psycopg.connect(dsn, connect_timeout=5) as conn:
                landed = dict(conn.execute(
                    "SELECT device, max(seq) FROM telemetry GROUP BY device").fetchall())
                p99 = conn.execute(
                    "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM "
                    "landed_at - published_at)) FROM telemetry WHERE landed_at > "
                    "clock_timestamp() - interval '10 seconds'").fetchone()[0]
        except (httpx.HTTPError, psycopg.Error, KeyError, ValueError) as exc:
            return {"verdict": "unknown", "reason": f"{type(exc).__name__}: {exc}"}
        behind = {d: int(seq) - int(landed.get(d) or 0) for d, seq in acked.items()}
        lag_s = None if p99 is None else round(float(p99), 3)
        ok = lag_s is not None and lag_s < bound_s
        return {"verdict": "pass" if ok else ("unknown" if lag_s is None else "fail"),
                "lag_s": lag_s, "bound_s": bound_s, "behind": behind,
                "max_behind": max(behind.values(), default=0)}

    def sla_snapshot(self, duration_s: float = 3.0, rate: float = 20.0,
                     thresholds: list[str] | None = None) -> dict[str, Any]:
        """A short open-model load on the API, judged by k6-style thresholds."""
        from prsm_validate.client.api import ApiClient
        from prsm_validate.load.engine import Endpoint, run_load
        from prsm_validate.sla.evaluate import evaluate_lines
        from prsm_validate.sla.store import MetricStore

        with ApiClient(self.deployment.api_url, self.deployment.profile) as api:
            if self.deployment.credentials is not None:
                api.login(self.deployment.credentials)
            token = api.token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        result = run_load(self.deployment.api_url, [Endpoint("me", "GET", "/api/auth/me")],
                          model="open", rate=rate, duration_s=duration_s, headers=headers,
                          progress=False)
        store = MetricStore()
        result.record_into(store)
        judged = [r.to_json() for r in evaluate_lines(thresholds or SLA_SNAPSHOT, store)]
        verdicts = {r["verdict"] for r in judged}
        return {"verdict": "fail" if "fail" in verdicts else (
                    "pass" if verdicts == {"pass"} else "unknown"),
                "thresholds": judged, "load": result.summary()}

    # ---- faults ------------------------------------------------------------------------

    def fault(self, kind: str, **params: Any) -> dict[str, Any]:
        """Start a fault: kill, pause, restart, partition, latency, blackhole, byzantine."""
        with self.lock:
            active = self._start(kind, params)
            self.counter += 1
            fault_id = f"{kind}-{self.counter}"
            if active is not None:
                self.faults[fault_id] = active
            return {"id": fault_id, "kind": kind, "target": self._target_of(active, params),
                    "active": active is not None}

    def _start(self, kind: str, params: dict[str, Any]) -> ActiveFault | None:
        nemesis = self.nemesis
        try:
            if kind in ("kill", "pause", "restart"):
                component = self._component(params["component"])
                if kind == "restart":
                    nemesis.restart(component)
                    return None
                start = nemesis.kill if kind == "kill" else nemesis.pause
                return ActiveFault(nemesis, start(component))
            if kind == "partition":
                return nemesis.partition(params.get("shape", "isolate"), params.get("nodes"),
                                         **params.get("options", {}))
            if kind in ("latency", "blackhole"):
                link = nemesis.link(self._component(params["src"]),
                                    self._component(params["dst"]))
                return (link.latency(int(params.get("ms", 200)), int(params.get("jitter", 0)))
                        if kind == "latency" else link.blackhole())
            if kind == "byzantine":
                return nemesis.byzantine(self._component(params["node"]),
                                         *params.get("modes", ["equivocate"]))
        except KeyError as exc:
            raise ControlError(f"fault {kind!r} needs the argument {exc}") from None
        except (pytest.skip.Exception, pytest.fail.Exception) as exc:  # the nemesis's words
            raise ControlError(str(exc)) from None
        raise ControlError(f"unknown fault kind {kind!r}; known: kill, pause, restart, "
                           "partition, latency, blackhole, byzantine")

    def _component(self, name: str) -> str:
        if name == PRIMARY:
            return self.nemesis.primary()
        known = self._components()
        if known and name not in known:
            raise ControlError(f"unknown component {name!r}; known: {', '.join(known)}")
        return name

    def _components(self) -> list[str]:
        control = self.deployment.control
        return list(control.components()) if control is not None else []

    @staticmethod
    def _target_of(active: ActiveFault | None, params: dict[str, Any]) -> str:
        return active.record.target if active is not None else str(params.get("component"))

    def heal(self, fault_id: str | None = None) -> dict[str, Any]:
        """Undo one fault, or every fault still in force (idempotent)."""
        with self.lock:
            chosen = [fault_id] if fault_id else list(self.faults)
            healed = []
            for name in chosen:
                active = self.faults.pop(name, None)
                if active is not None:
                    active.heal()
                    healed.append(name)
            errors = [] if fault_id else self.nemesis.heal_all()
            if errors:
                raise ControlError("; ".join(errors))
            return {"healed": healed, "in_force": sorted(self.faults)}

    def active(self) -> dict[str, Any]:
        """Faults in force."""
        with self.lock:
            return {"in_force": {k: v.record.to_json() for k, v in self.faults.items()}}

    def describe(self) -> dict[str, Any]:
        """The deployment (no secrets) and the probe/fault vocabulary."""
        return {"deployment": self.deployment.describe(), "components": self._components(),
                "at": time.time()}


def _conservation(ledgers: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    problems, answered = [], {n: led for n, led in ledgers.items() if led is not None}
    for node, ledger in answered.items():
        supply, genesis = sum(ledger["balances"].values()), sum(ledger["genesis"].values())
        if supply != genesis:
            problems.append(f"{node}: supply {supply} != genesis {genesis}")
        negative = sorted(a for a, v in ledger["balances"].items() if v < 0)
        if negative:
            problems.append(f"{node}: negative balances {negative[:5]}")
    by_seq: dict[int, set[str]] = {}
    for ledger in answered.values():
        key = repr(sorted(ledger["balances"].items()))
        by_seq.setdefault(int(ledger.get("last_executed") or 0), set()).add(key)
    problems += [f"replicas at sequence {seq} hold different balances"
                 for seq, kinds in by_seq.items() if len(kinds) > 1]
    valid: Any = (False if problems else (True if len(answered) == len(ledgers)
                                          else "unknown"))
    return {"valid": valid, "problems": problems, "replicas": len(answered),
            "silent": sorted(set(ledgers) - set(answered))}


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text
