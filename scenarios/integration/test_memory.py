"""Memory: set/get/delete, TTL and durability (prime-spark contract); fall-through with
back-fill over three tiers where the target reports its serving tier (feature serving_tier)."""

from __future__ import annotations

import uuid

import pytest

from prsm_validate import error_body, eventually, validation_details

pytestmark = pytest.mark.integration


def _key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _lose_caches(api, deployment, prefix: str) -> None:
    """Push every earlier key out of L1 (fill it past capacity) and empty Redis (L2)."""
    import redis

    capacity = api.call("memory_stats").body["l1_capacity"]
    for i in range(capacity + 1):
        api.call("memory_set", {"key": f"{prefix}-filler-{i}", "value": i})
    with redis.Redis.from_url(deployment.redis_url) as r:
        r.flushall()


def test_set_get_delete_round_trip(prsm_api):
    key, value = _key("rt"), {"nested": [1, 2, {"x": "y"}], "n": 3.5}
    prsm_api.call("memory_set", {"key": key, "value": value}).expect()
    got = prsm_api.call("memory_get", {"key": key}).expect(200)
    assert got.body["value"] == value
    prsm_api.call("memory_delete", key=key).expect()
    prsm_api.call("memory_get", {"key": key}).expect(404)
    prsm_api.call("memory_delete", key=key).expect(200, 204, 404)


def test_overwrite_returns_latest_value(prsm_api):
    key = _key("ow")
    for version in range(5):
        prsm_api.call("memory_set", {"key": key, "value": version}).expect()
    assert prsm_api.call("memory_get", {"key": key}).expect(200).body["value"] == 4


@pytest.mark.requires("serving_tier")
def test_fresh_write_is_served_from_l1(prsm_api):
    key = _key("l1")
    prsm_api.call("memory_set", {"key": key, "value": "hot"}).expect()
    assert prsm_api.call("memory_get", {"key": key}).expect(200).body["tier"] == "l1"


@pytest.mark.requires("serving_tier")
def test_value_evicted_from_l1_is_served_from_l2_then_back_in_l1(prsm_api):
    stats = prsm_api.call("memory_stats").expect(200).body
    key = _key("evict")
    prsm_api.call("memory_set", {"key": key, "value": "cold"})
    for i in range(stats["l1_capacity"] + 1):
        prsm_api.call("memory_set", {"key": f"{key}-filler-{i}", "value": i})
    first = prsm_api.call("memory_get", {"key": key}).body
    assert (first["value"], first["tier"]) == ("cold", "l2")
    second = prsm_api.call("memory_get", {"key": key}).body
    assert second["tier"] == "l1", "a read from L2 must back-fill L1"


@pytest.mark.requires("redis", "serving_tier")
def test_value_missing_from_l1_and_l2_is_served_from_l3(prsm_api, prsm_deployment):
    key = _key("l3")
    prsm_api.call("memory_set", {"key": key, "value": {"durable": True}})
    _lose_caches(prsm_api, prsm_deployment, key)
    got = prsm_api.call("memory_get", {"key": key}).body
    assert (got["value"], got["tier"]) == ({"durable": True}, "l3")
    assert prsm_api.call("memory_get", {"key": key}).body["tier"] == "l1"


@pytest.mark.requires("redis", "serving_tier")
def test_overwrite_survives_losing_both_caches(prsm_api, prsm_deployment):
    key = _key("overwrite")
    for version in ("v1", "v2"):
        assert prsm_api.call("memory_set", {"key": key, "value": version}).status == 200
    _lose_caches(prsm_api, prsm_deployment, key)
    got = prsm_api.call("memory_get", {"key": key}).body
    assert (got["value"], got["tier"]) == ("v2", "l3"), "the durable tier lost an update"


def test_ttl_expires_the_value_in_every_tier(prsm_api):
    key = _key("ttl")
    prsm_api.call("memory_set", {"key": key, "value": "short-lived", "ttl": 1}).expect()
    prsm_api.call("memory_get", {"key": key}).expect(200)
    eventually(lambda: prsm_api.call("memory_get", {"key": key}).status == 404, timeout_s=5,
               what="expiry of a 1 s TTL")


@pytest.mark.requires("restart")
def test_value_written_before_api_restart_is_read_after_it(prsm_api, prsm_control, prsm_nemesis,
                                                           prsm_client):
    if "api" not in prsm_control.components():
        pytest.skip("the target's control declares no component 'api'")
    key = _key("durable")
    prsm_api.call("memory_set", {"key": key, "value": "survives"}).expect()
    prsm_nemesis.restart("api")
    fresh = prsm_client(login=True)
    assert fresh.call("memory_get", {"key": key}).expect(200).body["value"] == "survives"


def test_invalid_memory_request_is_422_with_details(prsm_api):
    response = prsm_api.call("memory_set", {"value": 1}).expect(422)
    error_body(response, prsm_api)
    details = validation_details(response.body)
    assert any("key" in d.get("loc", []) for d in details), response.body


@pytest.mark.requires("tier_stats")
def test_stats_count_lookups(prsm_api):
    before = prsm_api.call("memory_stats").body["tiers"]["l1"]
    key = _key("stats")
    prsm_api.call("memory_set", {"key": key, "value": 1})
    prsm_api.call("memory_get", {"key": key})
    after = prsm_api.call("memory_stats").body["tiers"]["l1"]
    assert after["hits"] == before["hits"] + 1
