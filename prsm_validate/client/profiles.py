"""API profiles: how each client operation maps to HTTP for one API contract (DESIGN.md 5)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """One operation's HTTP method and path template (``{name}`` placeholders)."""

    method: str
    path: str
    auth: bool = True


_PRIME_SPARK = {
    "health": Route("GET", "/health", auth=False),
    "login": Route("POST", "/api/auth/login", auth=False),
    "me": Route("GET", "/api/auth/me"),
    "memory_set": Route("POST", "/api/memory/set"),
    "memory_get": Route("POST", "/api/memory/get"),
    "memory_delete": Route("DELETE", "/api/memory/{key}"),
    "memory_stats": Route("GET", "/api/memory/stats"),
    "task_submit": Route("POST", "/api/tasks/submit"),
    "task_status": Route("GET", "/api/tasks/{task_id}"),
    "task_cancel": Route("DELETE", "/api/tasks/{task_id}"),
    "generate": Route("POST", "/api/llm/generate"),
}

_REFERENCE = {
    **_PRIME_SPARK,
    "metrics": Route("GET", "/metrics", auth=False),
    "transfer": Route("POST", "/api/v1/ftns/transfer"),
    "balance": Route("GET", "/api/v1/ftns/balance/{account}"),
    "inference": Route("POST", "/api/inference"),
    "telemetry": Route("GET", "/api/telemetry/{device}"),
}

_PRSM_PLATFORM = {
    "health": Route("GET", "/health", auth=False),
    "liveness": Route("GET", "/api/v1/health/liveness", auth=False),
    "register": Route("POST", "/api/v1/auth/register", auth=False),
    "login": Route("POST", "/api/v1/auth/login", auth=False),
    "balance": Route("GET", "/api/v1/ftns/balance"),
}

PROFILES: dict[str, dict[str, Route]] = {
    "reference": _REFERENCE,
    "prime-spark": _PRIME_SPARK,
    "prsm-platform": _PRSM_PLATFORM,
}


class OperationUnsupported(LookupError):
    """The target's API profile has no such operation; scenarios skip with this reason."""


def route(profile: str, operation: str) -> Route:
    """The route of ``operation`` in ``profile``."""
    routes = PROFILES[profile]
    if operation not in routes:
        raise OperationUnsupported(f"API profile {profile!r} has no operation {operation!r}")
    return routes[operation]
