"""The locustfile the load engine runs (in Locust's own processes, never inside pytest).

The run's plan (endpoints with weights, headers, model, bounds) is JSON in the custom option
``--prsm-spec``. The engine gives it to the master (or the lone local process) through the file
named by ``PRSM_LOAD_SPEC_FILE``, so a bearer token never shows in a process list; Locust's
master hands custom options to every worker with the spawn message, so workers, local or on
other machines, need nothing but the master's address.

Closed model (``ClosedModelUser``): each user sends its next request when the last answered.
Open model (``OpenModelUser``, one per process): requests start at their intended times from
:mod:`prsm_validate.load.schedule`, whatever earlier requests are doing, and latency counts from
the intended time, so a stalled server is not hidden by coordinated omission. A request cut off
by the end of the run is recorded with the time it had waited (a lower bound) and counted as
interrupted, not as an answer.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import random
import time
from functools import cache
from pathlib import Path
from typing import Any

import gevent
import gevent.pool
from locust import FastHttpUser, events, task
from locust.exception import StopUser
from locust.runners import LocalRunner, WorkerRunner

from prsm_validate.load.recorder import SPEC_FILE_ENV, Recorder
from prsm_validate.load.schedule import Stage, share
from prsm_validate.seeds import derive_seed

RECORDER = Recorder()


class Plan:
    """The decoded spec of this run, as this process uses it."""

    def __init__(self, spec: dict[str, Any], process: int) -> None:
        self.spec = spec
        self.endpoints: list[dict[str, Any]] = spec["endpoints"]
        self.cumulative = list(itertools.accumulate(e.get("weight", 1) for e in self.endpoints))
        self.rng = random.Random(derive_seed(spec.get("seed", 0), "locust", process))
        self.headers: dict[str, str] = spec.get("headers", {})
        self.epoch = float(spec["epoch"])
        self.process, self.processes = process, max(1, int(spec.get("processes", 1)))
        self.budget = itertools.count()  # requests started by this process

    def pick(self) -> dict[str, Any]:
        """A weighted random endpoint."""
        if len(self.endpoints) == 1:
            return self.endpoints[0]
        at = self.rng.random() * self.cumulative[-1]
        return self.endpoints[bisect.bisect_right(self.cumulative, at)]

    def may_send(self) -> bool:
        """False once this process's share of ``max_requests`` is used."""
        return next(self.budget) < int(self.spec["max_requests"]) // self.processes


@cache
def _decoded(text: str, process: int) -> Plan:
    return Plan(json.loads(text), process)


def plan(environment: Any) -> Plan:
    """This process's plan (the spec arrives with the master's spawn message on workers)."""
    runner = environment.runner
    process = max(0, runner.worker_index) if isinstance(runner, WorkerRunner) else 0
    return _decoded(environment.parsed_options.prsm_spec, process)


def send(client: Any, run: Plan, endpoint: dict[str, Any], intended: float | None) -> None:
    """One request; latency from ``intended`` (open model) or from the actual start."""
    started = time.monotonic()
    failed, interrupted = True, False
    try:
        # No catch_response: the engine judges outcomes itself, which keeps the hot path short.
        response = client.request(endpoint["method"], endpoint["path"], json=endpoint.get("json"),
                                  headers=run.headers, name=endpoint["name"])
        failed = not 0 < response.status_code < 400
    except gevent.GreenletExit:
        interrupted = True
        raise
    finally:
        done = time.monotonic()
        RECORDER.record(endpoint["name"], (done - (intended or started)) * 1000,
                        failed and not interrupted, int(time.time() - run.epoch), interrupted)


class _EngineUser(FastHttpUser):
    abstract = True

    def __init__(self, environment: Any) -> None:
        self.load_plan = plan(environment)
        self.network_timeout = self.connection_timeout = float(self.load_plan.spec["timeout_s"])
        super().__init__(environment)


class ClosedModelUser(_EngineUser):
    """A user that sends its next request as soon as the last one answered."""

    def wait_time(self) -> float:
        """The think time between requests."""
        return float(self.load_plan.spec.get("think_time_s", 0))

    @task
    def request(self) -> None:
        """One request to a weighted endpoint, while the request budget lasts."""
        if not self.load_plan.may_send():
            _finish(self.environment)
            raise StopUser
        send(self.client, self.load_plan, self.load_plan.pick(), None)


class OpenModelUser(_EngineUser):
    """One scheduler per process starting requests at their intended times."""

    def __init__(self, environment: Any) -> None:
        self.concurrency = int(plan(environment).spec["max_in_flight"])
        super().__init__(environment)

    def wait_time(self) -> float:
        """Unused: the schedule runs once."""
        return 0.0

    @task
    def schedule(self) -> None:
        """Start every request of this process's share at its time; never wait for answers.

        At most ``max_in_flight`` requests are outstanding; beyond that a start is delayed, and
        the delay counts in its latency (it is measured from the intended time).
        """
        spec, run = self.load_plan.spec, self.load_plan
        stages = [Stage(*s) for s in spec["stages"]]
        pool = gevent.pool.Pool(int(spec["max_in_flight"]))
        start = time.monotonic()
        try:
            for offset in share(float(spec["start_rate"]), stages, run.process, run.processes,
                                int(spec["max_requests"])):
                intended = start + offset
                gevent.sleep(max(0.0, intended - time.monotonic()))
                pool.spawn(send, self.client, run, run.pick(), intended)
            pool.join(timeout=float(spec["timeout_s"]))
        finally:
            pool.kill()  # requests still out are recorded as interrupted
        _finish(self.environment)
        raise StopUser


def _finish(environment: Any) -> None:
    """This process's work is done: a lone process ends now instead of at the time limit
    (workers keep to the limit, so the master gets their final reports the usual way)."""
    if isinstance(environment.runner, LocalRunner):
        gevent.spawn(environment.runner.quit)


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--prsm-spec", default="{}", include_in_web_ui=False,
                        help="load plan (JSON), set by prsm-validate's engine")


@events.init.add_listener
def _read_spec(environment: Any, **_: Any) -> None:
    path = os.environ.get(SPEC_FILE_ENV)
    if path and environment.parsed_options is not None:
        environment.parsed_options.prsm_spec = Path(path).read_text()


@events.test_start.add_listener
def _start_status(environment: Any, **_: Any) -> None:
    status = json.loads(environment.parsed_options.prsm_spec).get("status")
    if status and not isinstance(environment.runner, WorkerRunner):
        gevent.spawn(_write_status, Path(status))


def _write_status(path: Path) -> None:
    """Requests so far, once a second, for the engine's progress bar."""
    while True:
        path.with_suffix(".tmp").write_text(json.dumps({"requests": RECORDER.requests_so_far()}))
        os.replace(path.with_suffix(".tmp"), path)
        gevent.sleep(1.0)


@events.report_to_master.add_listener
def _to_master(client_id: str, data: dict[str, Any]) -> None:
    data["prsm_load"] = RECORDER.drain(source=client_id)


@events.worker_report.add_listener
def _from_worker(client_id: str, data: dict[str, Any]) -> None:
    RECORDER.merge(data.get("prsm_load", {}))


@events.quitting.add_listener
def _write_results(environment: Any, **_: Any) -> None:
    output = json.loads(environment.parsed_options.prsm_spec).get("output")
    if isinstance(environment.runner, WorkerRunner) or not output:
        return
    merged = Recorder()
    merged.merge(RECORDER.drain(source="local"))
    Path(output).write_text(json.dumps(merged.drain()))
