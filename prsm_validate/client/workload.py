"""Run a workload against the API from several client threads, recording a history.

Each client thread has its own HTTP connection and history process; an operation whose
outcome is unknown (timeout, connection error, 5xx) is recorded ``info`` and the thread goes on
as a new process, as in Jepsen. Every run is bounded by an operation count and a deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from prsm_validate.client.api import ApiClient
from prsm_validate.history import History
from prsm_validate.targets.base import Deployment

Perform = Callable[[ApiClient, dict[str, Any]], tuple[str, Any]]


def transfer(api: ApiClient, op: dict[str, Any]) -> tuple[str, Any]:
    """One FTNS transfer: ok on 2xx, fail on a definite refusal (4xx), else info."""
    response = api.call("transfer", op)
    if response.ok:
        return "ok", op
    return ("fail" if response.status < 500 else "info"), {**op, "status": response.status}


@dataclass
class WorkloadRun:
    """Client threads performing operations until stopped, ``max_ops`` or ``deadline_s``."""

    deployment: Deployment
    history: History
    streams: list[Iterator[dict[str, Any]]]
    perform: Perform = transfer
    f: str = "transfer"
    max_ops: int = 100_000
    deadline_s: float = 120.0
    timeout_s: float = 10.0
    accounts: list[str] = field(default_factory=list)  # what the workload moves tokens among
    stop: threading.Event = field(default_factory=threading.Event)
    completed: list[int] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> WorkloadRun:
        """Start one thread per operation stream."""
        self.completed = [0] * len(self.streams)
        self.acknowledged = [0] * len(self.streams)
        self._deadline = time.monotonic() + self.deadline_s
        for number, stream in enumerate(self.streams):
            thread = threading.Thread(target=self._client, args=(number, stream), daemon=True,
                                      name=f"workload-{number}")
            self._threads.append(thread)
            thread.start()
        return self

    def finish(self, timeout_s: float = 30.0) -> int:
        """Stop the clients and wait for them; returns the operations completed."""
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
        return sum(self.completed)

    def __enter__(self) -> WorkloadRun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def ok_count(self) -> int:
        """Operations of this run acknowledged so far (a counter: polled every few ms, it
        must not rescan the whole history)."""
        return sum(self.acknowledged)

    def _client(self, number: int, stream: Iterator[dict[str, Any]]) -> None:
        api = ApiClient(self.deployment.api_url, self.deployment.profile,
                        timeout_s=self.timeout_s)
        try:
            if self.deployment.credentials is not None and not self._login(api):
                return
            self._loop(number, api, stream)
        finally:
            api.close()

    def _login(self, api: ApiClient) -> bool:
        """Log in, retrying while the API does not answer or answers 5xx (a fault may be in
        force); a definite refusal is left for the operations to show."""
        while not self.stop.is_set() and time.monotonic() < self._deadline:
            try:
                if api.login(self.deployment.credentials).status < 500:  # type: ignore[arg-type]
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return False

    def _loop(self, number: int, api: ApiClient, stream: Iterator[dict[str, Any]]) -> None:
        process = self.history.new_process()
        per_client = max(1, self.max_ops // len(self.streams))
        while (not self.stop.is_set() and self.completed[number] < per_client
               and time.monotonic() < self._deadline):
            op = next(stream)
            with self.history.operation(process, self.f, op) as recorder:
                try:
                    kind, value = self.perform(api, op)
                except httpx.HTTPError as exc:
                    kind, value = "info", {**op, "error": type(exc).__name__}
                getattr(recorder, kind)(value)
            self.completed[number] += 1
            self.acknowledged[number] += int(kind == "ok")
            if kind == "info":
                process = self.history.new_process()


def fund_accounts(api: ApiClient, history: History, payer: str, accounts: list[str],
                  funding: int, tag: str) -> str | None:
    """Transfer ``funding`` from ``payer`` to each account, recorded in ``history`` (so the
    ledger checker sees the funding); returns why one failed, or None."""
    for index, name in enumerate(accounts):
        op = {"id": f"{tag}-fund-{index}", "from": payer, "to": name, "amount": funding}
        with history.operation(history.new_process(), "transfer", op) as recorder:
            response = api.call("transfer", op)
            if not response.ok:
                recorder.fail({**op, "status": response.status})
                return f"funding {name} failed: HTTP {response.status} {response.body}"
            recorder.ok(op)
    return None


def progress(run: WorkloadRun, more: int, timeout_s: float, what: str) -> float:
    """Wait until ``more`` further operations are acknowledged; returns the seconds it took
    (fails the test naming ``what`` if they are not)."""
    from prsm_validate.waiting import eventually

    started, target = time.monotonic(), run.ok_count() + more
    eventually(lambda: run.ok_count() >= target, timeout_s, what=what)
    return time.monotonic() - started


def assert_safe(cluster: Any, events: Any, before: dict[str, Any],
                record_property: Callable[[str, Any], None]) -> None:
    """Judge the cluster's safety since ``before`` (its settled ledgers), record the verdict
    as the test's ``safety`` property and fail the test with it when it is not valid."""
    verdict = cluster.safety(events, before)
    record_property("safety", verdict.to_json())
    assert verdict, verdict.to_json()
