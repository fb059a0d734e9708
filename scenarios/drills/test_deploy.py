"""Deployment drills (Phase 0 roadmap 3.1, Milestone 6): a changed API build rolled across the
replicas under load, and a rollback from N+1 to N.

A release is the API's reported ``version`` (``GET /health``); the new build N+1 is the same
code started with another ``PRSM_REF_VERSION``, rolled replica by replica while clients read
balances through the load-balanced entry. Downtime is the longest window of failed requests
(roadmap: < 5 minutes; the goal here is none). The rollback redeploys N on every replica under
the same traffic and checks that what was written under N and under N+1 (memory values in the
durable tier, FTNS transfers ordered by consensus) is intact and every replica reports N.
Whatever happens, every replica runs N again when the test ends.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from prsm_validate import ApiClient, Redeploy, Traffic

pytestmark = [pytest.mark.requires("restart", "consensus"), pytest.mark.chaos,
              pytest.mark.slow]
SETTLE_S = 0.3  # the gateway re-probes a restarted replica every 0.1 s


@dataclass
class Release:
    """The API replicas and the version each reports."""

    control: Redeploy
    urls: dict[str, str]
    current: str

    def version(self, replica: str) -> str | None:
        """The version replica ``replica`` reports on ``/health`` (None if unreachable)."""
        try:
            body = httpx.get(f"{self.urls[replica]}/health", timeout=5, trust_env=False).json()
        except (httpx.HTTPError, ValueError):
            return None
        return body.get("version")

    def roll(self, version: str) -> list[dict[str, object]]:
        """Redeploy ``version`` on each replica in turn; when each came back."""
        steps = []
        for replica in self.urls:
            started = time.monotonic()
            self.control.redeploy(replica, {"PRSM_REF_VERSION": version})
            steps.append({"replica": replica, "ready_s": round(time.monotonic() - started, 3),
                          "reports": self.version(replica)})
            time.sleep(SETTLE_S)
        return steps


@pytest.fixture
def release(prsm_deployment, prsm_control, prsm_api):
    """The deployed release N; every replica is back on N afterwards."""
    if not isinstance(prsm_control, Redeploy):
        pytest.skip(f"target {prsm_deployment.target!r} cannot roll a new build onto a "
                    "component (no redeploy)")
    if not prsm_deployment.services.get("gateway"):
        pytest.skip(f"target {prsm_deployment.target!r} has no load-balanced API entry "
                    "(services.gateway) to serve while replicas roll")
    current = prsm_api.call("health").body.get("version")
    if not current:
        pytest.skip(f"target {prsm_deployment.target!r} reports no version on /health")
    urls = {"api": prsm_deployment.api_url, **{
        name: url for name, url in sorted(prsm_deployment.services.items())
        if name.startswith("api-")}}
    rel = Release(prsm_control, urls, current)
    try:
        yield rel
    finally:
        for replica in urls:
            if rel.version(replica) != current:
                prsm_control.redeploy(replica, {"PRSM_REF_VERSION": current})


def _balance_probe(user: str):
    def probe(api: ApiClient) -> str | None:
        # one connection per request: the gateway balances connections, not requests
        response = api.call("balance", headers={"Connection": "close"}, account=user)
        return None if response.ok else f"HTTP {response.status}"

    return probe


def _traffic(prsm_deployment, prsm_history) -> Traffic:
    user = prsm_deployment.credentials.username
    return Traffic(prsm_deployment.services["gateway"], prsm_deployment, _balance_probe(user),
                   clients=4, deadline_s=120, history=prsm_history)


def test_rolling_deploy_under_load(release, prsm_deployment, prsm_history, record_property):
    new = f"{release.current}+drill.{uuid.uuid4().hex[:6]}"
    with _traffic(prsm_deployment, prsm_history) as traffic:
        traffic.wait_for(50)
        steps = release.roll(new)
        traffic.wait_for(len(traffic.requests) + 50)
    figures = {**traffic.summary(), "from": release.current, "to": new, "steps": steps}
    record_property("rolling_deploy", figures)
    assert figures["requests"] >= 100, f"traffic did not run: {figures}"
    assert all(step["reports"] == new for step in steps), f"a replica did not take {new}: {steps}"
    assert figures["downtime_s"] < 300, f"downtime {figures['downtime_s']}s >= 5 min: {figures}"
    assert figures["failed"] == 0, f"{figures['failed']} requests failed during the roll: " \
                                   f"{figures}"


def test_rollback_keeps_data_and_restores_the_version(release, prsm_deployment, prsm_api,
                                                      prsm_history, record_property):
    tag = uuid.uuid4().hex[:8]
    user = prsm_deployment.credentials.username
    written = _write(prsm_api, user, f"{tag}-n", 10)
    new = f"{release.current}+drill.{tag}"
    release.roll(new)
    written.update(_write(prsm_api, user, f"{tag}-n1", 10))
    with _traffic(prsm_deployment, prsm_history) as traffic:
        traffic.wait_for(50)
        steps = release.roll(release.current)
    versions = {replica: release.version(replica) for replica in release.urls}
    lost = _lost(prsm_api, user, written)
    figures = {"from": new, "to": release.current, "versions": versions, "steps": steps,
               "data_checked": len(written), "data_lost": len(lost), "lost": lost[:5],
               **{f"traffic_{k}": v for k, v in traffic.summary().items()}}
    record_property("rollback", figures)
    assert all(v == release.current for v in versions.values()), f"not back on N: {versions}"
    assert not lost, f"{len(lost)} values written under N or N+1 lost by the rollback: {lost}"


def _write(api: ApiClient, user: str, prefix: str, count: int) -> dict[str, object]:
    """Memory values and one transfer each; what a later read must return."""
    expected: dict[str, object] = {}
    for i in range(count):
        key, value = f"drill/{prefix}/{i}", {"n": i, "prefix": prefix}
        assert api.call("memory_set", {"key": key, "value": value}).ok
        expected[f"memory:{key}"] = value
    account = f"{user}/{prefix}"
    op = {"id": f"{prefix}-fund", "from": user, "to": account, "amount": count}
    response = api.call("transfer", op)
    assert response.ok, f"transfer refused: {response.status} {response.body}"
    expected[f"balance:{account}"] = count
    return expected


def _lost(api: ApiClient, user: str, expected: dict[str, object]) -> list[str]:
    lost = []
    for name, value in expected.items():
        kind, key = name.split(":", 1)
        if kind == "memory":
            response = api.call("memory_get", {"key": key})
            found = response.body.get("value") if response.ok else None
        else:
            response = api.call("balance", account=key)
            found = response.body.get("balance") if response.ok else None
        if found != value:
            lost.append(f"{name}: {found!r} != {value!r}")
    return lost
