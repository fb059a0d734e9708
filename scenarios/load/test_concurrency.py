"""Concurrent users without errors: 10, 50 and 100 users, error rate < 1% (closed model)."""

from __future__ import annotations

import uuid

import pytest

from prsm_validate.load.engine import Endpoint

pytestmark = pytest.mark.load

KEY = f"load-{uuid.uuid4().hex[:8]}"
MIX = [
    Endpoint("health", "GET", "/health", weight=2),
    Endpoint("me", "GET", "/api/auth/me", weight=2),
    Endpoint("memory_get", "POST", "/api/memory/get", json={"key": KEY}, weight=4),
    Endpoint("memory_set", "POST", "/api/memory/set", json={"key": KEY, "value": {"v": 1}}),
    Endpoint("generate", "POST", "/api/llm/generate", json={"prompt": "load", "max_tokens": 8}),
]


@pytest.mark.parametrize("users", [10, 50, 100])
@pytest.mark.sla("http_req_failed", "rate<0.01")
@pytest.mark.sla("http_req_duration", "count>100")
def test_concurrent_users_without_errors(prsm_api, prsm_load, users):
    prsm_api.call("memory_set", {"key": KEY, "value": {"v": 0}})
    result = prsm_load(MIX, users=users, duration_s=4, spawn_rate=users)
    assert result.requests() > 0
