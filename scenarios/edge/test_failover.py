"""Inference fails over from the edge to the cloud and comes back; edge sequences persist."""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.edge, pytest.mark.requires("edge", "kill")]

REQUESTS = 3000
RETURN_BOUND_S = 5.0


def _infer(api) -> str | None:
    response = api.call("inference", {"prompt": "status report", "max_tokens": 8})
    return response.body.get("location") if response.ok else None


def test_edge_down_cloud_serves_then_traffic_returns_to_edge(prsm_api, prsm_nemesis,
                                                             record_property):
    assert _infer(prsm_api) == "edge"
    prsm_nemesis.kill("edge")
    locations = [_infer(prsm_api) for _ in range(REQUESTS)]
    served = [loc for loc in locations if loc is not None]
    success = len(served) / REQUESTS
    prsm_nemesis.start("edge")
    started = time.monotonic()
    while _infer(prsm_api) != "edge":
        assert time.monotonic() - started < RETURN_BOUND_S, "traffic did not return to the edge"
        time.sleep(0.05)
    back_after_s = time.monotonic() - started
    record_property("failover", {"requests": REQUESTS, "success_ratio": success,
                                 "cloud": served.count("cloud"), "edge": served.count("edge"),
                                 "back_to_edge_s": round(back_after_s, 3)})
    assert success >= 0.999, f"only {success:.4%} of {REQUESTS} requests succeeded"
    assert served.count("cloud") >= REQUESTS * 0.999


@pytest.mark.requires("db")
def test_edge_sequences_continue_after_restart_without_gap_or_reuse(prsm_deployment,
                                                                    prsm_nemesis, prsm_client):
    import httpx

    from prsm_validate import telemetry as tel

    stats_url = prsm_deployment.services["edge"] + "/stats"

    def acked() -> dict[str, int]:
        return httpx.get(stats_url, trust_env=False, timeout=2).json()["acked_seq"]

    before = acked()
    prsm_nemesis.kill("edge")
    prsm_nemesis.start("edge")
    deadline = time.monotonic() + 15
    while not all(acked().get(d, 0) > n + 2 for d, n in before.items()):
        assert time.monotonic() < deadline, "edge devices did not resume publishing"
        time.sleep(0.1)
    after = acked()
    for device, top in after.items():
        rows = tel.wait_landed(prsm_deployment.postgres_dsn, device, set(range(1, top + 1)), 20)
        missing = set(range(1, top + 1)) - set(rows)
        assert not missing, f"{device}: acknowledged sequences never landed: {sorted(missing)}"
        assert all(n == 1 for n in rows.values()), f"{device}: a sequence landed twice"
