"""Concurrent clients on a few keys: the memory API must behave as a linearizable key-value store.

Six clients write unique values and read three keys at once; every operation is recorded as
``write``/``read`` of ``[key, value]`` (a missing key reads as None) and the history is checked
with the Wing-Gong/Lowe search. A timeout or 5xx is an ``info`` op (it may or may not have taken
effect). An "unknown" verdict (search budget spent) fails too.
"""

from __future__ import annotations

import random
import uuid

import pytest

from prsm_validate import (
    ApiClient,
    ClientLog,
    Unavailable,
    check_linearizable,
    derive_seed,
    require_valid,
    run_clients,
)

pytestmark = pytest.mark.integration

CLIENTS, OPS_PER_CLIENT, KEYS = 6, 40, 3
MIN_COMPLETED = CLIENTS * OPS_PER_CLIENT // 2  # fewer: the workload did not run


def _one(api: ApiClient, history, process: int, key: str, write: str | None) -> str:
    """One write (``write`` = the value) or read; returns the completion kind."""
    if write is not None:
        with history.operation(process, "write", [key, write]) as op:
            response = api.call("memory_set", {"key": key, "value": write})
            return (op.ok() if response.ok else op.fail() if response.status < 500
                    else op.info()).type
    with history.operation(process, "read", [key, None]) as op:
        response = api.call("memory_get", {"key": key})
        if response.status in (200, 404):
            return op.ok([key, response.body["value"] if response.ok else None]).type
        return op.info().type


def _client_ops(api: ApiClient, history, keys: list[str], seed: int, number: int,
                log: ClientLog) -> None:
    rng = random.Random(seed)
    process = history.new_process()
    for n in range(OPS_PER_CLIENT):
        key = rng.choice(keys)
        write = f"{seed}-{n}" if rng.random() < 0.5 else None
        try:
            kind, error = _one(api, history, process, key, write), None
        except Unavailable as exc:  # recorded as info by the history
            kind, error = "info", exc
        log.outcome(number, kind, error)
        if kind == "info":
            process = history.new_process()  # a crashed process is never reused


def test_concurrent_reads_and_writes_are_linearizable(prsm_deployment, prsm_history,
                                                      prsm_seed, record_property):
    keys = [f"lin-{uuid.uuid4().hex[:8]}-{i}" for i in range(KEYS)]
    clients = [ApiClient.for_deployment(prsm_deployment) for _ in range(CLIENTS)]
    try:
        for client in clients:
            client.login(prsm_deployment.credentials).expect()
        log = run_clients(lambda n, log: _client_ops(
            clients[n], prsm_history, keys, derive_seed(prsm_seed, "client", n), n, log),
            CLIENTS)
    finally:
        for client in clients:
            client.close()
    record_property("completed", sum(log.completed))
    log.require(MIN_COMPLETED)
    verdict = check_linearizable(prsm_history.events, model="kv", budget_seconds=20,
                                 fs={"read", "write"})
    record_property("linearizability", verdict.to_json())
    require_valid(verdict)
