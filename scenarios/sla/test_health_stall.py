"""Health must not wait for other requests: ``/health`` latency alone, then while each other
operation is in flight (a read of a missing key, a 404 and a stats call are operations like
any other). If health's mean latency grows by more than 4x and 100 ms during one of them, and
again when that phase is measured a second time, the verdict names it: the server blocks
while serving it (a blocking call in an event loop, or a single worker).

The mean, not the median: a blocked server answers health bimodally (a call that lands in a
blocked stretch waits for its rest, one that lands between two stretches does not), so the
median of a few calls can miss a 0.5 s block; the second measurement keeps one hiccup of a
busy machine from being reported.
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
    alone = statistics.fmean(_health_ms(probe, count=ALONE))
    errors: list[Exception] = []
    operations = _operations(prsm_api, key)
    during = {op[0]: _during(prsm_client, probe, op, errors) for op in operations}
    label, worst = max(during.items(), key=lambda item: item[1])
    again = (_during(prsm_client, probe, next(op for op in operations if op[0] == label), errors)
             if _stalled(worst, alone) else None)
    record_property("health_stall", {
        "alone_mean_ms": round(alone, 2), "during_mean_ms": {k: round(v, 2)
                                                              for k, v in during.items()},
        "confirmed_mean_ms": None if again is None else round(again, 2),
        "errors": [str(e)[:200] for e in errors]})
    if again is not None and _stalled(again, alone):
        raise SlaViolation(
            f"requests wait for {label}: health mean {alone:,.0f} ms alone, {worst:,.0f} ms "
            f"and {again:,.0f} ms during it: the server blocks while serving it (a blocking "
            "call in an event loop, or a single worker)")


def _stalled(during_ms: float, alone_ms: float) -> bool:
    return during_ms > alone_ms * FACTOR and during_ms > alone_ms + MARGIN_MS


def _during(prsm_client, probe: ApiClient, op: tuple[str, str, dict, dict],
            errors: list[Exception]) -> float:
    """Health's mean latency while ``op`` is kept in flight by another client."""
    stop = threading.Event()
    worker = threading.Thread(target=_busy, args=(prsm_client(login=True), op, stop, errors),
                              daemon=True)
    worker.start()
    time.sleep(0.05)
    try:
        return statistics.fmean(_health_ms(probe, time.monotonic() + PHASE_S, 3))
    finally:
        stop.set()
        worker.join(15)
