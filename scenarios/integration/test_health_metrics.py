"""Health reflects dependencies; metrics are Prometheus text; errors are structured.

Every profile has ``metrics`` (``GET /metrics`` or ``metrics_url:`` in the targets file): both
roadmaps require Prometheus metrics for every component, so a target exposing none fails.
The exposition is parsed with prometheus_client's own parser.
"""

from __future__ import annotations

import pytest

from prsm_validate import ContractViolation, error_body, eventually, excerpt

pytestmark = pytest.mark.integration


def _health(client):
    return client.call("health")


def _wait_for(check):
    return eventually(check, timeout_s=15.0, interval_s=0.1, what="health change")


def _metrics(api) -> dict[str, object]:
    """Metric families by name; fails when the target exposes no Prometheus metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    response = api.call("metrics")
    where = api.api.route("metrics").path
    if response.status != 200 or not isinstance(response.body, str):
        raise ContractViolation(f"target exposes no Prometheus metrics at {where}: HTTP "
                                f"{response.status}; body: {excerpt(response.body)}")
    try:
        families = {f.name: f for f in text_string_to_metric_families(response.body)}
    except ValueError as exc:
        raise ContractViolation(f"metrics at {where} are not Prometheus text exposition "
                                f"({exc}); body: {excerpt(response.body)}") from None
    if not families:
        raise ContractViolation(f"target exposes no Prometheus metrics at {where}: the "
                                "exposition is empty")
    return families


def _sample(families, name: str, **labels: str) -> float:
    family = families.get(name)
    for sample in getattr(family, "samples", []):
        if sample.name in (name, f"{name}_total") and all(
                sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    return 0.0


def test_health_is_ok(prsm_client):
    response = _health(prsm_client()).expect(200)
    allowed = prsm_client().api.vocabulary.health_ok
    assert response.body["status"] in allowed, f"health status {response.body['status']!r}"


@pytest.mark.requires("pause", "health_components")
@pytest.mark.parametrize("component", ["redis", "postgres"])
def test_health_reports_a_stopped_dependency_and_recovers(prsm_client, prsm_control, prsm_nemesis,
                                                         component):
    if component not in prsm_control.components():
        pytest.skip(f"the target's control declares no component {component!r}")
    client = prsm_client(timeout_s=15)
    with prsm_nemesis.paused(component):
        down = _wait_for(lambda: (r := _health(client)).status == 503 and r)
        assert down.body["components"][component]["status"] == "down"
    _wait_for(lambda: _health(client).status == 200)


def test_metrics_are_prometheus_text(prsm_client):
    assert _metrics(prsm_client())


@pytest.mark.requires("request_metrics")
def test_metrics_count_requests(prsm_api):
    route = prsm_api.api.route("me").path

    def me_count() -> float:
        return _sample(_metrics(prsm_api), "http_requests", method="GET", route=route,
                       status="200")

    before = me_count()
    for _ in range(3):
        prsm_api.call("me").expect(200)
    assert me_count() == before + 3


@pytest.mark.requires("tier_metrics")
def test_metrics_export_memory_tier_hit_ratios(prsm_api):
    families = _metrics(prsm_api)
    ratio = families.get("memory_tier_hit_ratio")
    tiers = {s.labels.get("tier") for s in getattr(ratio, "samples", [])}
    assert {"l1", "l2", "l3"} <= tiers, f"memory_tier_hit_ratio tiers: {sorted(tiers - {None})}"


@pytest.mark.requires("body_limit_413")
def test_oversize_body_is_413(prsm_api):
    big = {"key": "big", "value": "x" * (2 << 20)}
    error_body(prsm_api.call("memory_set", big).expect(413), prsm_api)


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"key": 5, "value": 1}'])
def test_malformed_bodies_get_structured_4xx_without_traces(prsm_api, body):
    from prsm_validate import Response, parse_body

    raw = prsm_api.http.post(prsm_api.api.route("memory_set").path, content=body, headers={
        "Authorization": f"Bearer {prsm_api.token}", "Content-Type": "application/json"})
    response = Response(raw.status_code, parse_body(raw, "memory_set"), raw.headers, 0.0,
                        "memory_set", "POST", prsm_api.api.route("memory_set").path)
    assert 400 <= response.status < 500, f"HTTP {response.status}: {excerpt(response.body)}"
    error_body(response, prsm_api)


def test_unknown_route_is_a_structured_404(prsm_api):
    from prsm_validate import Response, parse_body

    raw = prsm_api.http.get("/api/does-not-exist")
    response = Response(raw.status_code, parse_body(raw, "unknown route"), raw.headers, 0.0,
                        "GET /api/does-not-exist", "GET", "/api/does-not-exist")
    response.expect(404)
    error_body(response, prsm_api)
