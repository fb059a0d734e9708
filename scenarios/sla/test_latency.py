"""The roadmap's latency SLAs, measured request by request (not under load: see scenarios/load).

Each scenario drives one operation sequentially and lets the ``sla`` marker judge the recorded
``http_req_duration`` samples; a breach fails with the measured value and the threshold.
"""

from __future__ import annotations

import uuid

import pytest

from prsm_validate import llm_model

pytestmark = pytest.mark.integration

SAMPLES = 300
# /health is cheap (its dependency probes run at most every 0.2 s, in the background): 1,000
# calls take about a second and make its p99 the 10th slowest, not the 3rd of 300.
HEALTH_SAMPLES = 1_000


@pytest.mark.sla("http_req_duration{name:health}", "p(99)<10ms")
@pytest.mark.sla("http_req_failed{name:health}", "rate<0.01")
def test_health_p99_under_10ms(prsm_client):
    client = prsm_client()
    for _ in range(HEALTH_SAMPLES):
        client.call("health").expect(200)


@pytest.mark.sla("http_req_duration{name:memory_set}", "p(99)<50ms")
@pytest.mark.sla("http_req_duration{name:memory_get}", "p(99)<50ms")
def test_memory_operations_p99_under_50ms(prsm_api):
    prefix = uuid.uuid4().hex[:8]
    for i in range(SAMPLES // 2):
        prsm_api.call("memory_set", {"key": f"sla-{prefix}-{i % 50}", "value": {"i": i}}).expect()
        prsm_api.call("memory_get", {"key": f"sla-{prefix}-{i % 50}"}).expect(200)


@pytest.mark.sla("http_req_duration", "p(95)<100ms")
@pytest.mark.sla("http_req_failed", "rate<0.01")
def test_api_p95_under_100ms_across_operations(prsm_api):
    quick = prsm_api.api.vocabulary.task_types.get("quick")  # only if the target names one
    for _ in range(SAMPLES // 3):
        prsm_api.call("me").expect(200)
        prsm_api.call("memory_stats").expect(200)
        if quick is not None:
            prsm_api.call("task_submit", quick.body()).expect()


@pytest.mark.sla("http_req_duration{name:generate}", "med<5s")
def test_llm_median_under_5s(prsm_api):
    model = llm_model(prsm_api)
    for i in range(30):
        prsm_api.call("generate", {"prompt": f"sla probe {i} {uuid.uuid4()}", "model": model,
                                   "max_tokens": 64, "use_cache": False}).expect(200)
