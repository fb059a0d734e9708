"""Recovery time from failure detection to healthy (Phase 0 roadmap, Success Metrics:
"Recovery Time: <15 minutes from failure detection to recovery").

A :class:`Watch` polls what monitoring would: the API's ``/health`` through the load-balanced
entry (every component up), a balance read ordered by consensus, every replica's ``/status``
(answering, all in one active view) and the faulted component's own health endpoint. A fault
is *detected* at the first poll that is not healthy; the remediation (restart, resume, heal)
starts at once, as a supervisor would; the system is *recovered* at the first healthy poll
after it. Recovery time = recovered - detected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from prsm_validate.client.api import ApiClient

POLL_S = 0.05
PROBE_TIMEOUT_S = 1.5


@dataclass
class Outcome:
    """One fault's timing."""

    fault: str
    detected_after_s: float | None = None
    recovery_s: float | None = None
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """Figures recorded on the scenario."""
        return {"fault": self.fault, "detected_after_s": _round(self.detected_after_s),
                "recovery_s": _round(self.recovery_s), "unhealthy": self.reason}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class Watch:
    """What monitoring sees of the deployment."""

    def __init__(self, deployment: Any, api: ApiClient) -> None:
        self.deployment = deployment
        self.api = api
        self.entry = deployment.services.get("gateway") or deployment.api_url
        self.http = httpx.Client(timeout=PROBE_TIMEOUT_S, trust_env=False)
        self.account = deployment.credentials.username

    def close(self) -> None:
        """Release the connections."""
        self.http.close()

    def problem(self, component_url: str | None = None) -> str | None:
        """None when healthy, else what is wrong (the first problem found)."""
        checks: list[Callable[[], str | None]] = [self._health, self._consensus, self._nodes]
        if component_url:
            checks.append(lambda: self._up(component_url))
        for check in checks:
            found = check()
            if found:
                return found
        return None

    def _up(self, url: str) -> str | None:
        try:
            code = self.http.get(url, headers={"Connection": "close"}).status_code
        except httpx.HTTPError as exc:
            return f"{url}: {type(exc).__name__}"
        return None if code == 200 else f"{url}: HTTP {code}"

    def _health(self) -> str | None:
        try:
            response = self.http.get(f"{self.entry}/health", headers={"Connection": "close"})
        except httpx.HTTPError as exc:
            return f"health: {type(exc).__name__}"
        down = [n for n, c in (response.json().get("components") or {}).items()
                if c.get("status") != "up"]
        return None if response.status_code == 200 and not down else (
            f"health: HTTP {response.status_code}, down: {', '.join(down) or '-'}")

    def _consensus(self) -> str | None:
        try:
            response = self.api.call("balance", headers={"Connection": "close"},
                                     account=self.account)
        except httpx.HTTPError as exc:
            return f"consensus read: {type(exc).__name__}"
        return None if response.ok else f"consensus read: HTTP {response.status}"

    def _nodes(self) -> str | None:
        views = set()
        for node in self.deployment.nodes:
            try:
                status = self.http.get(f"{node.url}/status").json()
            except (httpx.HTTPError, ValueError):
                return f"{node.id}: not answering"
            if not status.get("view_active"):
                return f"{node.id}: view {status.get('view')} not active (view change)"
            views.add(status.get("view"))
        return None if len(views) <= 1 else f"replicas in views {sorted(views)}"


def measure(watch: Watch, fault: str, inject: Callable[[], Any], remedy: Callable[[], Any],
            component_url: str | None = None, detect_timeout_s: float = 20.0,
            recover_timeout_s: float = 300.0) -> Outcome:
    """Inject, detect, remedy at once, then time until healthy again."""
    outcome = Outcome(fault)
    injected = time.monotonic()
    inject()
    try:
        detected = _until(lambda: watch.problem(component_url), detect_timeout_s)
        if detected is None:
            outcome.reason = f"not detected within {detect_timeout_s:g}s"
            return outcome
        outcome.detected_after_s = detected[0] - injected
        outcome.reason = str(detected[1])
    finally:
        remedy()
    healthy = _until(lambda: None if watch.problem(component_url) else "healthy",
                     recover_timeout_s)
    if healthy is None:
        outcome.reason += f"; not healthy within {recover_timeout_s:g}s of detection"
    else:
        outcome.recovery_s = healthy[0] - detected[0]
    return outcome


def _until(condition: Callable[[], str | None], timeout_s: float) -> tuple[float, str] | None:
    """(time, value) of the first poll where ``condition`` returns a value, or None."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return time.monotonic(), value
        time.sleep(POLL_S)
    return None
