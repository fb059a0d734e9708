"""Concurrent users without errors: 10, 50 and 100 users, error rate < 1% (closed model)."""

from __future__ import annotations

import uuid

import pytest

from prsm_validate import Endpoint

pytestmark = pytest.mark.load

KEY = f"load-{uuid.uuid4().hex[:8]}"


def _mix(api) -> list[Endpoint]:
    """The load mix in the target's own routes (generate only when it names a model)."""
    def endpoint(op: str, weight: int = 1, json=None) -> Endpoint:
        route = api.api.route(op)
        return Endpoint(op, route.method, route.path, json=json, weight=weight)

    mix = [endpoint("health", 2), endpoint("me", 2),
           endpoint("memory_get", 4, {"key": KEY}),
           endpoint("memory_set", 1, {"key": KEY, "value": {"v": 1}})]
    model = api.api.vocabulary.llm_model
    if model is not None:
        mix.append(endpoint("generate", 1, {"prompt": "load", "model": model, "max_tokens": 8}))
    return mix


@pytest.mark.parametrize("users", [10, 50, 100])
@pytest.mark.sla("http_req_failed", "rate<0.01")
@pytest.mark.sla("http_req_duration", "count>100")
def test_concurrent_users_without_errors(prsm_api, prsm_load, users):
    prsm_api.call("memory_set", {"key": KEY, "value": {"v": 0}}).expect()
    result = prsm_load(_mix(prsm_api), users=users, duration_s=4, spawn_rate=users)
    assert result.requests() > 0, "the load did not run: no request completed"
