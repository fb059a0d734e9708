"""Configuration of the reference API, read from ``PRSM_REF_*`` environment variables.

Secrets (the JWT signing key, password hashes) come only from the environment or files it
names; they are never logged. A missing or malformed variable raises :class:`SettingsError`
naming the variable and the fix.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "PRSM_REF_"


class SettingsError(ValueError):
    """A configuration variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Everything the API process needs to run."""

    postgres_dsn: str
    redis_url: str
    jwt_secret: str = field(repr=False)
    users: Mapping[str, str] = field(repr=False)
    admins: frozenset[str] = frozenset()  # users whose tokens carry the admin role
    host: str = "127.0.0.1"
    port: int = 8000
    nats_url: str | None = None
    jwt_issuer: str = "prsm-reference"
    jwt_audience: str = "prsm-api"
    jwt_ttl_s: int = 900
    l1_capacity: int = 1024
    max_body_bytes: int = 1 << 20
    rate_limit_per_s: float = 0.0  # per client address; 0: none
    # per user, for the users on a plan (PRSM_REF_PLANS): username -> (per second, burst)
    user_rate_limits: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    ollama_url: str | None = None
    consensus_config: str | None = None
    consensus_client_keys: str | None = None
    dependency_timeout_s: float = 1.0
    task_workers: int = 2
    edge_url: str | None = None
    edge_probe_interval_s: float = 0.2
    version: str = "0.1.0"  # the release this process runs, reported by /health
    drain_s: float = 0.5  # on SIGTERM, /health says "draining" this long before stopping

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read settings from ``env`` (default ``os.environ``)."""
        env = os.environ if env is None else env
        return cls(
            postgres_dsn=_required(env, "POSTGRES_DSN"),
            redis_url=_required(env, "REDIS_URL"),
            jwt_secret=_secret(env),
            users=(users := _users(env)),
            admins=_admins(env, users),
            host=env.get(PREFIX + "HOST", "127.0.0.1"),
            port=_number(env, "PORT", 8000, int),
            nats_url=env.get(PREFIX + "NATS_URL") or None,
            jwt_issuer=env.get(PREFIX + "JWT_ISSUER", "prsm-reference"),
            jwt_audience=env.get(PREFIX + "JWT_AUDIENCE", "prsm-api"),
            jwt_ttl_s=_number(env, "JWT_TTL_S", 900, int),
            l1_capacity=_number(env, "L1_CAPACITY", 1024, int),
            max_body_bytes=_number(env, "MAX_BODY_BYTES", 1 << 20, int),
            rate_limit_per_s=_number(env, "RATE_LIMIT_PER_S", 0.0, float),
            user_rate_limits=_plans(env, users),
            ollama_url=env.get(PREFIX + "OLLAMA_URL") or None,
            consensus_config=env.get(PREFIX + "CONSENSUS_CONFIG") or None,
            consensus_client_keys=env.get(PREFIX + "CONSENSUS_CLIENT_KEYS") or None,
            dependency_timeout_s=_number(env, "DEPENDENCY_TIMEOUT_S", 1.0, float),
            task_workers=_number(env, "TASK_WORKERS", 2, int),
            edge_url=env.get(PREFIX + "EDGE_URL") or None,
            edge_probe_interval_s=_number(env, "EDGE_PROBE_INTERVAL_S", 0.2, float),
            version=env.get(PREFIX + "VERSION") or _package_version(),
            drain_s=_number(env, "DRAIN_S", 0.5, float),
        )


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prsm-validate")
    except PackageNotFoundError:
        return "0.1.0"


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(PREFIX + name)
    if not value:
        raise SettingsError(f"{PREFIX}{name} is not set: export it before starting the API")
    return value


def _number(env: Mapping[str, str], name: str, default: float, kind: type) -> object:
    raw = env.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name}={raw!r} is not a {kind.__name__}") from None


def _secret(env: Mapping[str, str]) -> str:
    path = env.get(PREFIX + "JWT_SECRET_FILE")
    secret = Path(path).read_text().strip() if path else env.get(PREFIX + "JWT_SECRET", "")
    if len(secret) < 32:
        raise SettingsError(
            f"{PREFIX}JWT_SECRET (or {PREFIX}JWT_SECRET_FILE) must hold at least 32 characters"
        )
    return secret


_PLAN_FIX = ('give {"plan": {"per_second": 2, "burst": 4, "users": ["name", ...]}}: a '
             'positive rate, a burst of at least 1 (default: the rate), configured users')


def _plans(env: Mapping[str, str], users: Mapping[str, str]
           ) -> dict[str, tuple[float, float]]:
    """Per-user rate limits from PRSM_REF_PLANS: each plan's rate and burst for its users."""
    raw = env.get(PREFIX + "PLANS") or "{}"
    try:
        plans = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{PREFIX}PLANS is not valid JSON: {exc.msg}") from None
    if not isinstance(plans, dict):
        raise SettingsError(f"{PREFIX}PLANS: {_PLAN_FIX}")
    limits: dict[str, tuple[float, float]] = {}
    for name, plan in plans.items():
        rate, burst, members = _plan(name, plan, users)
        limits.update(dict.fromkeys(members, (rate, burst)))
    return limits


def _plan(name: str, plan: object, users: Mapping[str, str]
          ) -> tuple[float, float, list[str]]:
    def number(value: object) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and value > 0

    if not isinstance(plan, dict) or set(plan) - {"per_second", "burst", "users"}:
        raise SettingsError(f"{PREFIX}PLANS.{name}: {_PLAN_FIX}")
    rate, burst = plan.get("per_second"), plan.get("burst", plan.get("per_second"))
    members = plan.get("users", [])
    if not number(rate) or not number(burst) or burst < 1 or not isinstance(members, list):
        raise SettingsError(f"{PREFIX}PLANS.{name}: {_PLAN_FIX}")
    unknown = sorted(set(map(str, members)) - set(users))
    if unknown:
        raise SettingsError(f"{PREFIX}PLANS.{name} names {unknown[0]!r}, which is not a user "
                            f"in {PREFIX}USERS: add the user or remove the name")
    return float(rate), float(burst), [str(m) for m in members]


def _admins(env: Mapping[str, str], users: Mapping[str, str]) -> frozenset[str]:
    """The admin users, a JSON list in PRSM_REF_ADMINS; each must be a configured user."""
    raw = env.get(PREFIX + "ADMINS") or "[]"
    try:
        admins = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{PREFIX}ADMINS is not valid JSON: {exc.msg}") from None
    if not isinstance(admins, list) or not all(isinstance(a, str) for a in admins):
        raise SettingsError(f'{PREFIX}ADMINS must be a JSON list of usernames, e.g. ["ops"]')
    unknown = sorted(set(admins) - set(users))
    if unknown:
        raise SettingsError(f"{PREFIX}ADMINS names {unknown[0]!r}, which is not a user in "
                            f"{PREFIX}USERS: add the user or remove the name")
    return frozenset(admins)


def _users(env: Mapping[str, str]) -> dict[str, str]:
    """Users as ``{username: password_hash}`` from PRSM_REF_USERS(_FILE) JSON."""
    path = env.get(PREFIX + "USERS_FILE")
    raw = Path(path).read_text() if path else env.get(PREFIX + "USERS", "")
    if not raw:
        raise SettingsError(
            f"{PREFIX}USERS or {PREFIX}USERS_FILE must give users as JSON "
            '{"name": "<hash from prsm-ref hash-password>"}'
        )
    try:
        users = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"{PREFIX}USERS is not valid JSON: {exc.msg}") from None
    if not isinstance(users, dict) or not all(isinstance(v, str) for v in users.values()):
        raise SettingsError(f"{PREFIX}USERS must be a JSON object of username -> password hash")
    return users
