"""The locustfile the load engine runs (in Locust's own processes, never inside pytest).

Configured by the ``PRSM_LOAD_SPEC`` environment variable (JSON, written by
:mod:`prsm_validate.load.engine`): endpoints with weights, headers, the model (closed: users
loop; open: requests start at their intended times, latency counted from the intended time,
so a stall is not hidden by coordinated omission), and where to write the merged results.
"""

from __future__ import annotations

import json
import os
import random
import time
from typing import Any

import gevent
import gevent.pool
from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from prsm_validate.load.recorder import Recorder

SPEC: dict[str, Any] = json.loads(os.environ.get("PRSM_LOAD_SPEC", "{}"))
RECORDER = Recorder()
STARTED = time.monotonic()
_rng = random.Random(SPEC.get("seed", 0))
HEADERS: dict[str, str] = SPEC.get("headers", {})


def _pick() -> dict[str, Any]:
    endpoints = SPEC["endpoints"]
    return _rng.choices(endpoints, weights=[e.get("weight", 1) for e in endpoints])[0]


def _send(client: Any, endpoint: dict[str, Any], intended: float | None) -> None:
    started = time.monotonic()
    failed = True
    try:
        # No catch_response: the engine judges outcomes itself, which keeps the hot path short.
        response = client.request(endpoint["method"], endpoint["path"], json=endpoint.get("json"),
                                  headers=HEADERS, name=endpoint["name"])
        failed = not 0 < response.status_code < 400
    finally:
        done = time.monotonic()
        RECORDER.record(endpoint["name"], (done - (intended or started)) * 1000, failed,
                        int(done - STARTED))


class ClosedModelUser(FastHttpUser):
    """A user that sends its next request as soon as the last one answered."""

    wait_time = constant(SPEC.get("think_time_s", 0))
    weight = 0 if SPEC.get("model") == "open" else 1

    @task
    def request(self) -> None:
        """One request to a weighted endpoint."""
        _send(self.client, _pick(), None)


class OpenModelUser(FastHttpUser):
    """One scheduler per process starting requests at a fixed arrival rate."""

    weight = 1 if SPEC.get("model") == "open" else 0
    concurrency = int(SPEC.get("max_in_flight", 200))
    wait_time = constant(0)

    @task
    def schedule(self) -> None:
        """Start every request at its intended time; never wait for earlier answers."""
        rate = float(SPEC["rate"]) / max(1, int(SPEC.get("processes", 1)))
        total = int(rate * float(SPEC["duration_s"]))
        start = time.monotonic()
        pool = gevent.pool.Pool(int(SPEC.get("max_in_flight", 200)))
        for index in range(total):
            intended = start + index / rate
            gevent.sleep(max(0.0, intended - time.monotonic()))
            pool.spawn(_send, self.client, _pick(), intended)
        pool.join(timeout=float(SPEC.get("drain_s", 10)))
        raise StopUser  # the schedule runs once; the run's time limit ends the process


@events.report_to_master.add_listener
def _to_master(client_id: str, data: dict[str, Any]) -> None:
    data["prsm_load"] = RECORDER.drain()


@events.worker_report.add_listener
def _from_worker(client_id: str, data: dict[str, Any]) -> None:
    RECORDER.merge(data.get("prsm_load", {}))


@events.quitting.add_listener
def _write_results(environment: Any, **_: Any) -> None:
    if isinstance(environment.runner, WorkerRunner) or not SPEC.get("output"):
        return
    merged = Recorder()
    merged.merge(RECORDER.drain())
    with open(SPEC["output"], "w") as out:
        json.dump({**merged.drain(), "master": isinstance(environment.runner, MasterRunner)},
                  out)
