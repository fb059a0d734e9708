"""Availability during a rolling restart: the API replicas and then every consensus node are
restarted one at a time while clients keep probing through the gateway (the deployment's
load-balanced entry). At least 3,000 probes, at least 99.9 % answered; a timeout, a dropped
connection or a 5xx counts as a failure.

A probe is an authenticated balance read, which goes through the API and PBFT consensus, so
node restarts (including the primary's: a view change) are felt, not only API restarts.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from prsm_validate import ApiClient, PrsmFailure

pytestmark = [pytest.mark.requires("restart", "consensus"),
              # the client records a 5xx, a timeout or a dropped connection as failed
              pytest.mark.sla("http_req_failed{name:balance}", "rate<0.001")]
PROBES, CLIENTS, PROBE_TIMEOUT_S, DEADLINE_S = 3_000, 4, 6.0, 180.0


class Prober:
    """Client threads probing until told to stop and at least ``PROBES`` were made."""

    def __init__(self, url: str, deployment, history, metrics) -> None:
        self.url, self.deployment, self.history, self.metrics = url, deployment, history, metrics
        self.ok = self.failed = 0
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def __enter__(self) -> Prober:
        self.deadline = time.monotonic() + DEADLINE_S
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(PROBE_TIMEOUT_S * 2)

    @property
    def total(self) -> int:
        return self.ok + self.failed

    def _run(self) -> None:
        api = ApiClient.for_deployment(self.deployment, self.history, PROBE_TIMEOUT_S,
                                       self.metrics, base_url=self.url)
        try:
            api.login(self.deployment.credentials)
            user = self.deployment.credentials.username
            while time.monotonic() < self.deadline and not (
                    self.stop.is_set() and self.total >= PROBES):
                self._count(self._probe(api, user))
        finally:
            api.close()

    @staticmethod
    def _probe(api: ApiClient, user: str) -> str | None:
        try:  # one connection per probe: the gateway balances connections, not requests
            response = api.call("balance", headers={"Connection": "close"}, account=user)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        except PrsmFailure as exc:  # a contract finding counts as a failed probe, with its cause
            return exc.one_line()
        return None if response.ok else f"HTTP {response.status}"

    def _count(self, failure: str | None) -> None:
        with self.lock:
            if failure is None:
                self.ok += 1
            else:
                self.failed += 1
                self.failures.append(failure)


def test_rolling_restart_keeps_availability_above_99_9_percent(
        prsm_deployment, prsm_control, prsm_nemesis, prsm_cluster, prsm_history, prsm_metrics,
        record_property):
    gateway = prsm_deployment.services.get("gateway")
    if not gateway:
        pytest.skip(f"target {prsm_deployment.target!r} has no load-balanced API entry "
                    "(services.gateway) to keep serving while a replica restarts")
    replicas = ["api", *sorted(c for c in prsm_control.components() if c.startswith("api-"))]
    order = [*replicas, *prsm_cluster.names]
    restarted = []
    with Prober(gateway, prsm_deployment, prsm_history, prsm_metrics) as prober:
        for component in order:
            time.sleep(0.5)  # probes flow between restarts; the gateway re-probes replicas
            prsm_nemesis.restart(component)
            if component in prsm_cluster.names:
                prsm_cluster.wait_caught_up([component], 30)
            restarted.append({"component": component, "probes_so_far": prober.total})
    ratio = prober.ok / prober.total if prober.total else 0.0
    record_property("availability", {"ratio": round(ratio, 5), "probes": prober.total,
                                     "failed": prober.failed, "restarted": restarted,
                                     "failures": sorted(set(prober.failures))})
    assert prober.total >= PROBES, f"only {prober.total} probes in {DEADLINE_S:g}s"
    assert ratio >= 0.999, (f"availability {ratio:.4%} over {prober.total} probes "
                            f"({prober.failed} failed: {sorted(set(prober.failures))})")
