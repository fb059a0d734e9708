"""Run a workload against the API from several client threads, recording a history.

Each client thread has its own HTTP connection and history process; an operation whose
outcome is unknown (timeout, connection error, 5xx) is recorded ``info`` and the thread goes on
as a new process, as in Jepsen. Every run is bounded by an operation count and a deadline.

A workload that did not run is not a pass: every run states a minimum of completed operations
(ok or a definite fail; ``info`` does not count), and a client thread that raises fails the
test with its first error (:func:`require_completed`):
"workload did not run: 0 of 6 clients completed an operation; first error: timeout on
memory_get after 10.0 s (POST /api/memory/get, timeout 10 s)".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from prsm_validate.client.api import ApiClient
from prsm_validate.errors import AVAILABILITY, HARNESS, PrsmFailure, WorkloadDidNotRun, one_line
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
    min_completed: int = 1  # fewer completed operations: the workload did not run
    stop: threading.Event = field(default_factory=threading.Event)
    completed: list[int] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)
    errors: list[BaseException | str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)
    _finished: bool = False

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

    def finish(self, timeout_s: float = 30.0, check: bool = True) -> int:
        """Stop the clients and wait for them; returns the operations completed. With
        ``check``, a client's exception or fewer than ``min_completed`` operations fail."""
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout_s)
        first_time, self._finished = not self._finished, True
        if check and first_time:
            require_completed(self.completed, self.min_completed, self.errors)
        return sum(self.completed)

    def __enter__(self) -> WorkloadRun:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.finish(check=kind is None)

    def ok_count(self) -> int:
        """Operations of this run acknowledged so far (a counter: polled every few ms, it
        must not rescan the whole history)."""
        return sum(self.acknowledged)

    def _client(self, number: int, stream: Iterator[dict[str, Any]]) -> None:
        api = ApiClient.for_deployment(self.deployment, timeout_s=self.timeout_s)
        try:
            if self.deployment.credentials is not None and not self._login(api):
                return
            self._loop(number, api, stream)
        except BaseException as exc:  # fails the test at finish(), with this first error
            self.errors.append(exc)
        finally:
            api.close()

    def _login(self, api: ApiClient) -> bool:
        """Log in, retrying while the API does not answer or answers 5xx (a fault may be in
        force); a definite refusal is left for the operations to show."""
        while not self.stop.is_set() and time.monotonic() < self._deadline:
            try:
                response = api.login(self.deployment.credentials)  # type: ignore[arg-type]
            except httpx.HTTPError:
                response = None
            if response is not None and response.status < 500:
                response.expect()  # a refusal fails the test at finish(), with its cause
                return True
            time.sleep(0.2)
        return False

    def _loop(self, number: int, api: ApiClient, stream: Iterator[dict[str, Any]]) -> None:
        process = self.history.new_process()
        per_client, attempts = max(1, self.max_ops // len(self.streams)), 0
        while (not self.stop.is_set() and attempts < per_client
               and time.monotonic() < self._deadline):
            op = next(stream)
            with self.history.operation(process, self.f, op) as recorder:
                try:
                    kind, value = self.perform(api, op)
                except httpx.HTTPError as exc:
                    kind, value = "info", {**op, "error": type(exc).__name__}
                    if len(self.errors) < 10:
                        self.errors.append(exc)
                getattr(recorder, kind)(value)
            attempts += 1
            self.completed[number] += int(kind != "info")
            self.acknowledged[number] += int(kind == "ok")
            if kind == "info":
                process = self.history.new_process()


@dataclass
class ClientLog:
    """What each client thread of a hand-written workload completed, and its errors."""

    clients: int
    completed: list[int] = field(default_factory=list)
    errors: list[BaseException | str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.completed = [0] * self.clients

    def outcome(self, number: int, kind: str, error: BaseException | None = None) -> None:
        """Client ``number`` finished an operation as ``kind`` (info: with ``error``)."""
        self.completed[number] += int(kind != "info")
        if error is not None and len(self.errors) < 10:
            self.errors.append(error)

    def require(self, minimum: int) -> None:
        """Fail unless ``minimum`` operations completed (see :func:`require_completed`)."""
        require_completed(self.completed, minimum, self.errors)


def run_clients(work: Callable[[int, ClientLog], None], clients: int,
                join_s: float = 120.0) -> ClientLog:
    """Run ``work(number, log)`` in ``clients`` threads and wait; an exception a thread raises
    is kept in ``log.errors`` (and raised by :meth:`ClientLog.require`)."""
    log = ClientLog(clients)

    def guarded(number: int) -> None:
        try:
            work(number, log)
        except BaseException as exc:
            log.errors.insert(0, exc)

    threads = [threading.Thread(target=guarded, args=(n,), daemon=True, name=f"client-{n}")
               for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(join_s)
    return log


def require_completed(completed: list[int], minimum: int,
                      errors: list[BaseException | str]) -> None:
    """Fail unless at least ``minimum`` operations completed over the clients' counts
    ``completed``; a client thread's exception (not a recorded timeout) is raised as is."""
    crashed = next((e for e in errors if isinstance(e, BaseException) and not isinstance(
        e, httpx.HTTPError)), None)
    if crashed is not None:
        raise crashed
    total = sum(completed)
    if total >= max(minimum, 1):
        return
    first = errors[0] if errors else "none recorded"
    failure_class = (first.failure_class if isinstance(first, PrsmFailure) else
                     AVAILABILITY if isinstance(first, httpx.HTTPError) else HARNESS)
    running = sum(1 for n in completed if n)
    counted = (f"{running} of {len(completed)} clients completed an operation" if not total
               else f"{total} operations completed, minimum {minimum} ({running} of "
               f"{len(completed)} clients completed one)")
    raise WorkloadDidNotRun(f"workload did not run: {counted}; first error: "
                            f"{one_line(str(first))}", failure_class)


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
