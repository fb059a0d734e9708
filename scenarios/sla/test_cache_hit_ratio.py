"""Hot data is served from cache: L1 hit ratio > 85% under a Zipf-distributed key workload.

The workload is seeded (``--prsm-seed``) and its parameters are recorded with the result. The
ratio is the steady state: a warm-up of reads is recorded separately and not judged. The L1
(in-process) tier is the one judged: L2 (Redis) holds every key, so counting it would make the
ratio trivially 100%.
"""

from __future__ import annotations

import random
import uuid

import pytest

pytestmark = pytest.mark.integration

# 5,000 judged reads: the ratio's spread over seeds (sd 0.005; mean 0.867 with the local
# target's L1 of 256 entries, simulated over 300 seeds) stays well clear of the threshold.
KEYS, WARM_UP, READS, ZIPF_S = 1000, 1000, 5000, 1.2


def _zipf_sampler(rng: random.Random, n: int, s: float):
    weights = [1 / (rank ** s) for rank in range(1, n + 1)]
    order = list(range(n))
    rng.shuffle(order)  # hot keys are not simply the first ones written
    return lambda: order[rng.choices(range(n), weights=weights)[0]]


@pytest.mark.requires("serving_tier")
@pytest.mark.sla("cache_hit{tier:l1}", "rate>0.85")
def test_zipf_hot_keys_hit_the_cache(prsm_api, prsm_metrics, prsm_seed, record_property):
    prefix = f"zipf-{uuid.uuid4().hex[:8]}"
    for key in range(KEYS):
        prsm_api.call("memory_set", {"key": f"{prefix}-{key}", "value": key})
    rng = random.Random(prsm_seed)
    next_key = _zipf_sampler(rng, KEYS, ZIPF_S)
    warm = _read(prsm_api, prefix, next_key, WARM_UP, None)
    tiers = _read(prsm_api, prefix, next_key, READS, prsm_metrics)
    record_property("cache", {"hit_ratio": round(tiers["l1"] / READS, 4), "served_by": tiers,
                              "warm_up_served_by": warm,
                              "keys": KEYS, "reads": READS, "zipf_s": ZIPF_S,
                              "l1_capacity": prsm_api.call("memory_stats").body["l1_capacity"]})


def _read(api, prefix: str, next_key, count: int, metrics) -> dict[str, int]:
    tiers = {"l1": 0, "l2": 0, "l3": 0}
    for _ in range(count):
        key = next_key()
        got = api.call("memory_get", {"key": f"{prefix}-{key}"}).body
        assert got["value"] == key
        tiers[got["tier"]] += 1
        if metrics is not None:
            metrics.rate("cache_hit", got["tier"] == "l1", tier="l1")
            metrics.rate("cache_hit", got["tier"] in ("l1", "l2"), tier="any")
    return tiers


@pytest.mark.requires("db")
@pytest.mark.sla("db_query_duration", "p(95)<50ms")
def test_database_queries_p95_under_50ms(prsm_api, prsm_deployment, prsm_metrics):
    import psycopg

    prefix = f"dbq-{uuid.uuid4().hex[:8]}"
    for key in range(100):
        prsm_api.call("memory_set", {"key": f"{prefix}-{key}", "value": {"n": key}})
    queries = {
        "memory_by_key": ("SELECT value FROM memory_items WHERE key = %s", lambda i: (
            f"{prefix}-{i % 100}",)),
        "telemetry_latest": ("SELECT seq FROM telemetry WHERE device = %s ORDER BY seq DESC "
                             "LIMIT 10", lambda i: (f"edge-{i % 4}",)),
        "memory_count": ("SELECT count(*) FROM memory_items WHERE key LIKE %s",
                         lambda i: (f"{prefix}%",)),
    }
    with psycopg.connect(prsm_deployment.postgres_dsn) as conn:
        for i in range(300):
            name, (sql, params) = list(queries.items())[i % len(queries)]
            with prsm_metrics.timer("db_query_duration", query=name):
                conn.execute(sql, params(i)).fetchall()
