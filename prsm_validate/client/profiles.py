"""API profiles: how each client operation maps to HTTP for one API contract (DESIGN.md 5, 12).

A profile is the contract the scenarios may rely on: routes per operation, named *features*
(expectations only some deployments meet, e.g. the reference system's serving tier; scenarios
``requires`` them and skip naming the feature elsewhere) and a *vocabulary* (task status names,
priority type, error-body shape, task types) that a targets-file entry may override.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from prsm_validate.errors import OperationUnsupported, UsageProblem

__all__ = ["FEATURES", "PROFILES", "OperationUnsupported", "Profile", "Route", "Vocabulary"]


@dataclass(frozen=True)
class Route:
    """One operation's HTTP method and path template (``{name}`` placeholders); ``auth``:
    it needs a token; ``admin``: only a user with the admin role may call it (OWASP API5)."""

    method: str
    path: str
    auth: bool = True
    admin: bool = False


# Features: reference-only expectations, named so scenarios can require them.
FEATURES: dict[str, str] = {
    "serving_tier": "memory reads name the tier that served them (l1/l2/l3); stats give "
                    "l1_capacity",
    "tier_stats": "memory stats report hits and misses per tier (tiers.l1.hits)",
    "tier_metrics": "metrics export memory_tier_hit_ratio{tier} for l1, l2, l3",
    "request_metrics": "metrics count requests as http_requests_total{method,route,status}",
    "body_limit_413": "request bodies over 1 MiB are refused with 413",
    "task_echo": "an echo task type whose result is its payload",
    "task_compute": "a compute task type with a deterministic sha256 digest result",
    "task_timestamps": "task status carries updated_at",
    "task_workers": "task status names the worker running it (field 'worker')",
    "generation_limits": "generate refuses max_tokens 0 and temperature 9 with 422",
    "health_components": "health names each dependency under components.<name>.status",
    "error_codes": "every refusal is {\"error\": {\"code\", \"message\"}} with the stable code "
                   "of its status (unauthorized, not_found, conflict, validation_error, ...)",
    "strict_input": "NaN, Infinity, 1e400, NUL characters and lone surrogates in bodies, and "
                    "control characters in path parameters, are refused with 422; integer "
                    "fields take no \"10\", true or 10.5; any request its schema does not "
                    "allow is refused (schemathesis's negative data rejection)",
    "login_lockout": "after 5 failed logins for one username within a minute, its logins are "
                     "refused with 429 and Retry-After until the lockout ends",
    "token_lifetime_cap": "a correctly signed token whose lifetime (exp - iat) exceeds the "
                          "server's token lifetime (15 minutes) is refused with 401",
    "input_limits": "the reference input limits (README \"Input limits\"): a value at a limit "
                    "is accepted, one past it is refused with 422 naming the field",
}

STATUS_ROLES = ("queued", "running", "done", "failed", "cancelled")
ERROR_SHAPES = ("structured", "detail")


@dataclass(frozen=True)
class TaskTemplate:
    """A task a scenario may submit: its type and payload (``"{seconds}"`` is replaced)."""

    type: str
    payload: Mapping[str, Any] = field(default_factory=dict)

    def body(self, seconds: float = 1.0, priority: Any = None) -> dict[str, Any]:
        """The submit body, with ``{seconds}`` placeholders filled in."""
        payload = {k: (seconds if v == "{seconds}" else v) for k, v in self.payload.items()}
        body: dict[str, Any] = {"type": self.type, "payload": payload}
        if priority is not None:
            body["priority"] = priority
        return body


@dataclass(frozen=True)
class Vocabulary:
    """The names a deployment uses where the contract does not fix them."""

    task_status: Mapping[str, tuple[str, ...]]
    priority_low: Any = 0
    priority_high: Any = 9
    error_body: tuple[str, ...] = ERROR_SHAPES
    task_types: Mapping[str, TaskTemplate] = field(default_factory=dict)  # quick, long
    health_ok: tuple[str, ...] = ("ok", "healthy")
    llm_model: str | None = None

    def statuses(self, *roles: str) -> set[str]:
        """Every status name of the given roles (queued, running, done, failed, cancelled)."""
        return {name for role in roles for name in self.task_status.get(role, ())}

    def role_of(self, status: Any) -> str | None:
        """The role of a status name, or None when the vocabulary does not know it."""
        return next((r for r, names in self.task_status.items() if status in names), None)


_REFERENCE_STATUS = {"queued": ("queued",), "running": ("running",), "done": ("completed",),
                     "failed": ("failed",), "cancelled": ("cancelled",)}

_PRIME_SPARK = {
    "health": Route("GET", "/health", auth=False),
    "metrics": Route("GET", "/metrics", auth=False),
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
    "transfer": Route("POST", "/api/v1/ftns/transfer"),
    "balance": Route("GET", "/api/v1/ftns/balance/{account}"),
    "inference": Route("POST", "/api/inference"),
    "telemetry": Route("GET", "/api/telemetry/{device}"),
    "list_users": Route("GET", "/api/admin/users", admin=True),
    "unlock_login": Route("POST", "/api/admin/lockouts/clear", admin=True),
}

_PRSM_PLATFORM = {
    "health": Route("GET", "/health", auth=False),
    "metrics": Route("GET", "/metrics", auth=False),
    "liveness": Route("GET", "/api/v1/health/liveness", auth=False),
    "register": Route("POST", "/api/v1/auth/register", auth=False),
    "login": Route("POST", "/api/v1/auth/login", auth=False),
    "balance": Route("GET", "/api/v1/ftns/balance"),
}


@dataclass(frozen=True)
class Profile:
    """One API contract: routes, features and vocabulary."""

    name: str
    routes: Mapping[str, Route]
    features: frozenset[str] = frozenset()
    vocabulary: Vocabulary = field(default_factory=lambda: Vocabulary(_REFERENCE_STATUS))
    # (method, path) pairs a targets-file entry declares public besides the auth=False routes
    public_routes: frozenset[tuple[str, str]] = frozenset()

    def route(self, operation: str) -> Route:
        """The route of ``operation``; :class:`OperationUnsupported` if the profile lacks it."""
        if operation not in self.routes:
            raise OperationUnsupported(f"API profile {self.name!r} has no operation "
                                       f"{operation!r}")
        return self.routes[operation]

    def supports(self, operation: str) -> bool:
        """True when the profile maps ``operation``."""
        return operation in self.routes

    def public(self) -> set[tuple[str, str]]:
        """Every (method, path template) that needs no token: the profile's ``auth=False``
        routes and those its targets-file entry declares in ``public_routes``."""
        return {(r.method, r.path) for r in self.routes.values() if not r.auth} | set(
            self.public_routes)

    def admin_operations(self) -> list[str]:
        """The operations only an admin may call, by name."""
        return sorted(name for name, r in self.routes.items() if r.admin)

    def with_metrics_url(self, url: str | None) -> Profile:
        """This profile with ``metrics`` read from ``url`` (absolute, or a path)."""
        if not url:
            return self
        return replace(self, routes={**self.routes, "metrics": Route("GET", url, auth=False)})


PROFILES: dict[str, Profile] = {
    "reference": Profile("reference", _REFERENCE, frozenset(FEATURES), Vocabulary(
        _REFERENCE_STATUS, 0, 9, ("structured",),
        {"quick": TaskTemplate("echo", {"n": 42}), "long": TaskTemplate(
            "sleep", {"seconds": "{seconds}"})}, ("ok",), "prsm-tiny")),
    "prime-spark": Profile("prime-spark", _PRIME_SPARK, frozenset(), Vocabulary(
        _REFERENCE_STATUS)),
    "prsm-platform": Profile("prsm-platform", _PRSM_PLATFORM, frozenset(), Vocabulary(
        _REFERENCE_STATUS)),
}


def profile(name: str | Profile) -> Profile:
    """The profile named ``name`` (a :class:`Profile` is returned as is)."""
    return name if isinstance(name, Profile) else PROFILES[name]


def route(profile_name: str | Profile, operation: str) -> Route:
    """The route of ``operation`` in a profile."""
    return profile(profile_name).route(operation)


class VocabularyError(UsageProblem, ValueError):
    """A vocabulary override is malformed; the message names the key and the fix."""


def override(base: Profile, vocabulary: Mapping[str, Any] | None,
             features: list[str] | None) -> Profile:
    """``base`` with a targets-file entry's ``vocabulary:`` and ``features:`` applied."""
    vocab = base.vocabulary
    for key, value in (vocabulary or {}).items():
        vocab = _apply(vocab, key, value)
    chosen = base.features if features is None else frozenset(features)
    unknown = sorted(chosen - set(FEATURES))
    if unknown:
        raise VocabularyError(f"features: unknown feature {unknown[0]!r}; known: "
                              f"{sorted(FEATURES)}")
    return replace(base, vocabulary=vocab, features=chosen)


def _names(key: str, value: Any) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise VocabularyError(f"vocabulary.{key}: give a name or a list of names")
    return tuple(names)


def _apply(vocab: Vocabulary, key: str, value: Any) -> Vocabulary:
    if key == "task_status":
        if not isinstance(value, dict) or set(value) - set(STATUS_ROLES):
            raise VocabularyError(f"vocabulary.task_status: a mapping of {list(STATUS_ROLES)} "
                                  "to the deployment's status names")
        merged = {**vocab.task_status, **{r: _names(f"task_status.{r}", n)
                                           for r, n in value.items()}}
        return replace(vocab, task_status=merged)
    if key == "priority":
        if not isinstance(value, dict) or set(value) != {"low", "high"}:
            raise VocabularyError("vocabulary.priority: give {low: ..., high: ...} (an integer "
                                  "or a string each)")
        return replace(vocab, priority_low=value["low"], priority_high=value["high"])
    if key == "error_body":
        shapes = _names(key, value)
        if set(shapes) - set(ERROR_SHAPES):
            raise VocabularyError(f"vocabulary.error_body: one or more of {list(ERROR_SHAPES)}")
        return replace(vocab, error_body=shapes)
    if key == "task_types":
        return replace(vocab, task_types={**vocab.task_types, **_task_types(value)})
    if key == "health_ok":
        return replace(vocab, health_ok=_names(key, value))
    if key == "llm_model":
        if not isinstance(value, str):
            raise VocabularyError("vocabulary.llm_model: the model name to ask for")
        return replace(vocab, llm_model=value)
    raise VocabularyError(f"vocabulary.{key}: unknown key; allowed: task_status, priority, "
                          "error_body, task_types, health_ok, llm_model")


def _task_types(value: Any) -> dict[str, TaskTemplate]:
    fix = "give {quick|long: {type: NAME, payload: {...}}} (\"{seconds}\" is filled in)"
    if not isinstance(value, dict) or set(value) - {"quick", "long"}:
        raise VocabularyError(f"vocabulary.task_types: {fix}")
    found = {}
    for role, spec in value.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("type"), str) or not isinstance(
                spec.get("payload", {}), dict):
            raise VocabularyError(f"vocabulary.task_types.{role}: {fix}")
        found[role] = TaskTemplate(spec["type"], dict(spec.get("payload", {})))
    return found


def error_shape(body: Any) -> str | None:
    """Which error-body layout ``body`` has: ``structured`` ({"error": {"code", "message"}}),
    ``detail`` (FastAPI's {"detail": ...}) or None (unstructured)."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(
            error.get("message"), str):
        return "structured"
    if "detail" in body and isinstance(body["detail"], str | list | dict):
        return "detail"
    return None


def validation_details(body: Any) -> list[dict[str, Any]]:
    """The per-field entries (each with ``loc``) of a validation error body of either shape."""
    if error_shape(body) == "structured":
        details = body["error"].get("details")
    elif error_shape(body) == "detail":
        details = body["detail"]
    else:
        details = None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []
