"""Concurrent clients on a few keys: the memory API must behave as a linearizable key-value store.

Six clients write unique values and read three keys at once; every operation is recorded as
``write``/``read`` of ``[key, value]`` (a missing key reads as None) and the history is checked
with the Wing-Gong/Lowe search. A timeout or 5xx is an ``info`` op (it may or may not have taken
effect). An "unknown" verdict (search budget spent) fails too.
"""

from __future__ import annotations

import random
import threading
import uuid

import pytest

from prsm_validate.checker import check_linearizable
from prsm_validate.client.api import ApiClient

pytestmark = pytest.mark.integration

CLIENTS, OPS_PER_CLIENT, KEYS = 6, 40, 3


def _client_ops(api: ApiClient, history, keys: list[str], seed: int) -> None:
    rng = random.Random(seed)
    process = history.new_process()
    for n in range(OPS_PER_CLIENT):
        key = rng.choice(keys)
        if rng.random() < 0.5:
            value = f"{seed}-{n}"
            with history.operation(process, "write", [key, value]) as op:
                response = api.call("memory_set", {"key": key, "value": value})
                op.ok() if response.ok else (op.fail() if response.status < 500 else op.info())
        else:
            with history.operation(process, "read", [key, None]) as op:
                response = api.call("memory_get", {"key": key})
                if response.status in (200, 404):
                    op.ok([key, response.body.get("value") if response.ok else None])
                else:
                    op.info()
        if history.events[-1].type == "info":
            process = history.new_process()  # a crashed process is never reused


def test_concurrent_reads_and_writes_are_linearizable(prsm_deployment, prsm_history,
                                                      prsm_seed, record_property):
    keys = [f"lin-{uuid.uuid4().hex[:8]}-{i}" for i in range(KEYS)]
    clients = [ApiClient(prsm_deployment.api_url, prsm_deployment.profile) for _ in range(CLIENTS)]
    try:
        for client in clients:
            client.login(prsm_deployment.credentials)
        threads = [threading.Thread(target=_client_ops,
                                    args=(c, prsm_history, keys, prsm_seed * 100 + i))
                   for i, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    finally:
        for client in clients:
            client.close()
    verdict = check_linearizable(prsm_history.events, model="kv", budget_seconds=20,
                                 fs={"read", "write"})
    record_property("linearizability", verdict.to_json())
    assert verdict.valid is True, verdict.to_json()
