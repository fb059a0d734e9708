"""Health must not wait for other requests: ``/health`` latency alone, then while each other
operation is in flight (a read of a missing key, a 404 and a stats call are operations like
any other). If health slows down by more than 4x and 100 ms during one of them, the verdict
names it: the server blocks while serving it (a blocking call in an event loop, or a single
worker).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid

import pytest

from prsm_validate import ApiClient, SlaViolation, Unavailable

pytestmark = [pytest.mark.integration, pytest.mark.sla("http_req_failed{name:health}",
                                                       "rate<0.01")]
ALONE, PHASE_S, FACTOR, MARGIN_MS = 40, 0.8, 4.0, 100.0


def _operations(api: ApiClient, key: str) -> list[tuple[str, str, dict, dict]]:
    """(label, operation, body, path) of every operation the profile has, error paths too."""
    vocab = api.api.vocabulary
    found = [("me", "me", None, {}),
             ("memory_set", "memory_set", {"key": key, "value": {"n": 1}}, {}),
             ("memory_get", "memory_get", {"key": key}, {}),
             ("memory_get (missing key)", "memory_get", {"key": f"{key}-absent"}, {}),
             ("memory_stats", "memory_stats", None, {}),
             ("task_status (unknown task)", "task_status", None, {"task_id": str(uuid.uuid4())}),
             ("metrics", "metrics", None, {})]
    if vocab.task_types.get("quick"):
        found.append(("task_submit", "task_submit", vocab.task_types["quick"].body(), {}))
    if vocab.llm_model:
        found.append(("generate", "generate", {"prompt": "stall probe", "model": vocab.llm_model,
                                               "max_tokens": 8, "use_cache": False}, {}))
    return [op for op in found if api.api.supports(op[1])]


def _health_ms(client: ApiClient, until: float | None = None, count: int = 0) -> list[float]:
    samples = []
    while (until is not None and time.monotonic() < until) or len(samples) < count:
        started = time.perf_counter()
        client.call("health", timeout_s=10)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _busy(api: ApiClient, op: tuple[str, str, dict, dict], stop: threading.Event,
          errors: list[Exception]) -> None:
    _, operation, body, path = op
    while not stop.is_set():
        try:
            api.call(operation, body, **path)
        except Unavailable:
            continue
        except Exception as exc:  # a contract finding is reported by that operation's scenarios
            errors.append(exc)
            return


def test_health_does_not_wait_for_other_requests(prsm_client, prsm_api, prsm_metrics,
                                                 record_property):
    key = f"stall-{uuid.uuid4().hex[:8]}"
    prsm_api.call("memory_set", {"key": key, "value": {"n": 0}}).expect()
    probe = prsm_client()
    _health_ms(probe, count=10)  # warm the connection
    alone = statistics.median(_health_ms(probe, count=ALONE))
    during: dict[str, float] = {}
    errors: list[Exception] = []
    for op in _operations(prsm_api, key):
        stop = threading.Event()
        worker = threading.Thread(target=_busy, args=(prsm_client(login=True), op, stop, errors),
                                  daemon=True)
        worker.start()
        time.sleep(0.05)
        try:
            during[op[0]] = statistics.median(_health_ms(probe, time.monotonic() + PHASE_S, 3))
        finally:
            stop.set()
            worker.join(15)
    record_property("health_stall", {"alone_p50_ms": round(alone, 2), "during_p50_ms": {
        k: round(v, 2) for k, v in during.items()}, "errors": [str(e)[:200] for e in errors]})
    label, worst = max(during.items(), key=lambda item: item[1])
    if worst > alone * FACTOR and worst > alone + MARGIN_MS:
        raise SlaViolation(
            f"requests wait for {label}: health p50 {alone:,.0f} ms alone, {worst:,.0f} ms "
            "during it: the server blocks while serving it (a blocking call in an event loop, "
            "or a single worker)")
