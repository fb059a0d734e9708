"""Steady client traffic during a drill, and the downtime it saw.

Downtime is the longest window of failed requests: requests are ordered by start time; a
window runs from the start of a failed request to the end of the last failed request before
the next success (a timeout, a dropped connection or a 5xx is a failure; a 4xx is an answer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from prsm_validate.client.api import ApiClient

PROBE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Request:
    """One request of the traffic: when it ran and whether it failed."""

    start: float
    end: float
    failure: str | None


def downtime(requests: list[Request]) -> float:
    """The longest window of consecutive failed requests, in seconds (0 when none failed)."""
    longest, start, end = 0.0, None, 0.0
    for request in sorted(requests, key=lambda r: r.start):
        if request.failure is None:
            if start is not None:
                longest = max(longest, end - start)
            start = None
        elif start is None:
            start, end = request.start, request.end
        else:
            end = max(end, request.end)
    if start is not None:
        longest = max(longest, end - start)
    return longest


@dataclass
class Traffic:
    """Client threads calling ``probe`` through ``url`` until stopped (bounded by a deadline).

    ``probe(api)`` performs one operation with a logged-in :class:`ApiClient` and returns
    None on success or a short failure description.
    """

    url: str
    deployment: object
    probe: Callable[[ApiClient], str | None]
    clients: int = 4
    deadline_s: float = 120.0
    history: object = None
    requests: list[Request] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> Traffic:
        self._deadline = time.monotonic() + self.deadline_s
        self._threads = [threading.Thread(target=self._run, daemon=True)
                         for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(PROBE_TIMEOUT_S * 2)

    def _run(self) -> None:
        api = ApiClient(self.url, self.deployment.profile, self.history,  # type: ignore[attr-defined]
                        PROBE_TIMEOUT_S)
        try:
            api.login(self.deployment.credentials)  # type: ignore[attr-defined]
            while not self._stop.is_set() and time.monotonic() < self._deadline:
                started = time.monotonic()
                try:
                    failure = self.probe(api)
                except httpx.HTTPError as exc:
                    failure = type(exc).__name__
                with self._lock:
                    self.requests.append(Request(started, time.monotonic(), failure))
        finally:
            api.close()

    def wait_for(self, count: int, timeout_s: float = 30.0) -> None:
        """Block until at least ``count`` requests were made (traffic is flowing)."""
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    def summary(self) -> dict[str, object]:
        """Requests, failed requests, their kinds, and the downtime."""
        failed = [r for r in self.requests if r.failure]
        return {"requests": len(self.requests), "failed": len(failed),
                "downtime_s": round(downtime(self.requests), 3),
                "failures": sorted({r.failure for r in failed if r.failure})}
