"""Health reflects dependencies; metrics are exposed and count; errors are structured."""

from __future__ import annotations

import re

import pytest

from prsm_validate.waiting import eventually

pytestmark = pytest.mark.integration


def _health(client):
    return client.call("health")


def _wait_for(check):
    return eventually(check, timeout_s=15.0, interval_s=0.1, what="health change")


def test_health_is_ok_with_components(prsm_client):
    response = _health(prsm_client())
    assert response.status == 200
    assert response.body["status"] in ("ok", "healthy")


@pytest.mark.requires("pause")
@pytest.mark.parametrize("component", ["redis", "postgres"])
def test_health_reports_a_stopped_dependency_and_recovers(prsm_client, prsm_control, component):
    client = prsm_client(timeout_s=15)
    prsm_control.pause(component)
    try:
        down = _wait_for(lambda: (r := _health(client)).status == 503 and r)
        assert down.body["components"][component]["status"] == "down"
    finally:
        prsm_control.resume(component)
    _wait_for(lambda: _health(client).status == 200)


def test_metrics_are_exposed_and_count_requests(prsm_api):
    def me_count() -> float:
        text = prsm_api.call("metrics").body
        match = re.search(r'http_requests_total\{method="GET",route="/api/auth/me",'
                          r'status="200"\} ([0-9.e+]+)', text)
        return float(match.group(1)) if match else 0.0

    before = me_count()
    for _ in range(3):
        prsm_api.call("me")
    assert me_count() == before + 3


def test_metrics_export_memory_tier_hit_ratios(prsm_api):
    text = prsm_api.call("metrics").body
    for tier in ("l1", "l2", "l3"):
        assert f'memory_tier_hit_ratio{{tier="{tier}"}}' in text


def test_oversize_body_is_413(prsm_api):
    big = {"key": "big", "value": "x" * (2 << 20)}
    response = prsm_api.call("memory_set", big)
    assert response.status == 413
    assert response.body["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"key": 5, "value": 1}'])
def test_malformed_bodies_get_structured_4xx_without_traces(prsm_api, body):
    raw = prsm_api.http.post("/api/memory/set", content=body, headers={
        "Authorization": f"Bearer {prsm_api.token}", "Content-Type": "application/json"})
    assert 400 <= raw.status_code < 500
    assert "error" in raw.json()
    assert "Traceback" not in raw.text and 'File "' not in raw.text


def test_unknown_route_is_structured_404(prsm_api):
    raw = prsm_api.http.get("/api/does-not-exist")
    assert raw.status_code == 404 and raw.json()["error"]["code"] == "not_found"
