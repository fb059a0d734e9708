"""Targets: built-in kinds and named remote targets from a targets file (DESIGN.md 4).

```yaml
targets:
  staging:
    kind: remote
    api_url: https://staging.example.internal
    profile: prime-spark
    credentials: {username_env: PRSM_STAGING_USER, password_env: PRSM_STAGING_PASSWORD}
    second_user: {username_env: PRSM_STAGING_USER_B, password_env: PRSM_STAGING_PASSWORD_B}
    admin_user: {username_env: PRSM_STAGING_ADMIN, password_env: PRSM_STAGING_ADMIN_PASSWORD}
    rate_limit: {per_second: 5, burst: 10,   # a plan's limit (429 + Retry-After beyond it);
                 user: {username_env: PRSM_STAGING_METERED, password_env: PRSM_STAGING_METERED_PW}}
    protected: true      # default for remote targets
    allow_chaos: false
    nodes: []            # optional node introspection URLs
    openapi_url: /openapi.json   # default; its responses are checked against it
    metrics_url: /metrics        # default; Prometheus text exposition
    vocabulary: {task_status: {done: succeeded}, priority: {low: low, high: high}}
    features: []                 # the profile's reference-only features this one has
    public_routes: ["GET /api/v1/status"]   # needs no token, besides the profile's own
    control: {kind: docker, components: {api: staging-api-1}}   # faults (both opt-ins)
```

Every mistake is a :class:`TargetConfigError` naming the file, the key and the fix; the plugin
turns it into ``pytest.UsageError``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from prsm_validate.errors import UsageProblem
from prsm_validate.targets import base

BUILTIN = ("local", "docker", "k8s")
PROFILES = ("reference", "prime-spark", "prsm-platform")
REMOTE_CAPABILITIES: frozenset[str] = frozenset()
_KEYS = {"kind", "api_url", "profile", "credentials", "second_user", "admin_user", "protected",
         "allow_chaos", "nodes", "rate_limit", "public_routes",
         "openapi_url", "metrics_url", "vocabulary", "features", "control", "ready_timeout_s"}


class TargetConfigError(UsageProblem, ValueError):
    """The targets file or the chosen target is wrong; the message says how to fix it."""


@dataclass(frozen=True)
class TargetSpec:
    """A target as configured (nothing started yet)."""

    name: str
    kind: str
    capabilities: frozenset[str]
    api_url: str | None = None
    profile: str = "reference"
    username_env: str | None = None
    password_env: str | None = None
    protected: bool = False
    allow_chaos: bool = True
    nodes: tuple[str, ...] = field(default_factory=tuple)
    source: str | None = None
    openapi_url: str | None = None
    metrics_url: str | None = None
    api_profile: Any = None  # the Profile with this entry's vocabulary and features
    control: Any = None  # a ControlSpec (prsm_validate.targets.control)
    ready_timeout_s: float = 30.0
    second_user: tuple[str, str] | None = None  # (username_env, password_env)
    admin_user: tuple[str, str] | None = None  # (username_env, password_env)
    # (per_second, burst, (username_env, password_env) or None for the main user)
    rate_limit: tuple[float, float, tuple[str, str] | None] | None = None

    def second_credentials(self) -> base.Credentials | None:
        """The second user's credentials, or None when the entry names no ``second_user``."""
        if self.second_user is None:
            return None
        return self._read_credentials(*self.second_user)

    def admin_credentials(self) -> base.Credentials | None:
        """The admin user's credentials, or None when the entry names no ``admin_user``."""
        if self.admin_user is None:
            return None
        return self._read_credentials(*self.admin_user)

    def declared_rate_limit(self) -> base.RateLimit | None:
        """The entry's ``rate_limit``, its user's credentials read; None when it has none."""
        if self.rate_limit is None:
            return None
        per_second, burst, user = self.rate_limit
        return base.RateLimit(per_second, burst, self._read_credentials(*user) if user else None)

    def credentials(self) -> base.Credentials:
        """Credentials read from the environment variables the file names."""
        return self._read_credentials(self.username_env or "", self.password_env or "")

    def _read_credentials(self, username_env: str, password_env: str) -> base.Credentials:
        missing = [v for v in (username_env, password_env) if not os.environ.get(v)]
        if missing:
            raise TargetConfigError(
                f"target {self.name!r} ({self.source}): environment variable(s) "
                f"{', '.join(str(m) for m in missing)} not set: export them before running")
        return base.Credentials(os.environ[username_env], os.environ[password_env])


def default_targets_file(rootdir: Path) -> Path:
    """``prsm-targets.yaml`` at the rootdir if present, else ``fixtures/targets.yaml``."""
    preferred = rootdir / "prsm-targets.yaml"
    return preferred if preferred.exists() else rootdir / "fixtures" / "targets.yaml"


def resolve_target(name: str, targets_file: Path | None, local_capabilities: frozenset[str]
                   ) -> TargetSpec:
    """The spec of target ``name``: a built-in kind or an entry of the targets file."""
    exists = targets_file is not None and (targets_file.exists() or targets_file.is_symlink())
    # Read even when a built-in target is chosen: a malformed file is always a usage error.
    targets = load_targets_file(targets_file) if exists and targets_file else {}
    if name == "local":
        return TargetSpec("local", "local", local_capabilities)
    if name == "docker":
        from prsm_validate.targets.docker import DockerTarget

        return TargetSpec("docker", "docker", DockerTarget.capabilities)
    if name in BUILTIN:
        raise TargetConfigError(
            f"--prsm-target={name}: the {name} target is not available in this version; "
            "use --prsm-target=local or a remote target from the targets file")
    if name not in targets:
        known = ", ".join([*BUILTIN[:1], *sorted(targets)])
        where = targets_file if exists else f"{targets_file} (file not found)"
        raise TargetConfigError(f"--prsm-target={name}: no such target in {where}; "
                                f"known targets: {known}. Add it under 'targets:' or fix the name")
    return targets[name]


def load_targets_file(path: Path) -> dict[str, TargetSpec]:
    """Parse and validate a targets file."""
    if not path.exists():
        raise TargetConfigError(f"targets file {path} does not exist: "
                                "create it or pass --prsm-targets-file")
    if path.is_dir():
        raise TargetConfigError(f"targets file {path} is a directory: pass the YAML file "
                                "itself with --prsm-targets-file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TargetConfigError(f"targets file {path} is not a text file (not UTF-8): pass "
                                "a YAML targets file") from None
    except OSError as exc:
        raise TargetConfigError(f"targets file {path} cannot be read ({exc.strerror}): fix "
                                "its permissions or pass another file") from None
    if "\x00" in text:
        raise TargetConfigError(f"targets file {path} is a binary file: pass a YAML "
                                "targets file")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise TargetConfigError(f"{path}: not valid YAML ({exc}); fix the syntax") from None
    if not isinstance(data, dict) or not isinstance(data.get("targets"), dict):
        raise TargetConfigError(f"{path}: top-level key 'targets' must be a mapping of "
                                "target name -> settings")
    return {str(n): _spec(path, str(n), e) for n, e in data["targets"].items()}


def _fail(path: Path, name: str, key: str, problem: str) -> TargetConfigError:
    return TargetConfigError(f"{path}: targets.{name}.{key}: {problem}")


def _spec(path: Path, name: str, entry: Any) -> TargetSpec:
    if not isinstance(entry, dict):
        raise _fail(path, name, "", "must be a mapping with at least kind and api_url")
    unknown = set(entry) - _KEYS
    if unknown:
        raise _fail(path, name, sorted(unknown)[0], f"unknown key; allowed: {sorted(_KEYS)}")
    kind = entry.get("kind", "remote")
    if kind != "remote":
        raise _fail(path, name, "kind", f"{kind!r} is not supported in a targets file; "
                    "use 'remote' (local/docker/k8s are built in)")
    profile = _profile(path, name, entry.get("profile", "prime-spark"))
    control = _control(path, name, entry.get("control"))
    return TargetSpec(
        name=name, kind="remote",
        capabilities=REMOTE_CAPABILITIES | (control.capabilities if control else frozenset()),
        api_url=_api_url(path, name, entry.get("api_url")), profile=profile,
        **_credential_envs(path, name, entry.get("credentials")),
        protected=_flag(path, name, entry, "protected", True),
        allow_chaos=_flag(path, name, entry, "allow_chaos", False),
        nodes=_nodes(path, name, entry.get("nodes", [])), source=str(path),
        openapi_url=_url_or_path(path, name, entry, "openapi_url"),
        metrics_url=_url_or_path(path, name, entry, "metrics_url"),
        api_profile=_api_profile(path, name, profile, entry), control=control,
        ready_timeout_s=_seconds(path, name, entry, "ready_timeout_s", 30.0),
        second_user=_other_user(path, name, entry, "second_user"),
        admin_user=_other_user(path, name, entry, "admin_user"),
        rate_limit=_rate_limit(path, name, entry.get("rate_limit")),
    )


def _rate_limit(path: Path, name: str, limit: Any
                ) -> tuple[float, float, tuple[str, str] | None] | None:
    if limit is None:
        return None
    fix = ("give {per_second: N, burst: N, user: {username_env, password_env}} (burst and user "
           "optional: the rate, the main user)")
    if not isinstance(limit, dict) or not limit.keys() <= {"per_second", "burst", "user"}:
        raise _fail(path, name, "rate_limit", fix)
    rate = limit.get("per_second")
    if not _number_at_least(rate, 1e-9):
        raise _fail(path, name, "rate_limit.per_second", f"{rate!r} is not a positive number "
                    f"of requests per second; {fix}")
    burst = limit.get("burst", max(1.0, rate))
    if not _number_at_least(burst, 1):
        raise _fail(path, name, "rate_limit.burst", f"{burst!r} must be a number >= 1 (the "
                    "requests served at once)")
    return float(rate), float(burst), _other_user(path, name, limit, "user", "rate_limit.user")


def _number_at_least(value: Any, low: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= low


def _other_user(path: Path, name: str, entry: dict[str, Any], key: str,
                shown: str | None = None) -> tuple[str, str] | None:
    creds = entry.get(key)
    if creds is None:
        return None
    envs = _credential_envs(path, name, creds, shown or key)
    return envs["username_env"], envs["password_env"]


def _url_or_path(path: Path, name: str, entry: dict[str, Any], key: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    parsed = urlparse(str(value))
    if not isinstance(value, str) or not (value.startswith("/") or (
            parsed.scheme in ("http", "https") and parsed.netloc)):
        raise _fail(path, name, key, f"{value!r} is neither a path (/openapi.json) nor an "
                    "http(s) URL")
    return value


def _seconds(path: Path, name: str, entry: dict[str, Any], key: str, default: float) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise _fail(path, name, key, f"{value!r} must be a positive number of seconds")
    return float(value)


def _api_profile(path: Path, name: str, profile: str, entry: dict[str, Any]) -> Any:
    from prsm_validate.client.profiles import PROFILES as KNOWN
    from prsm_validate.client.profiles import VocabularyError, override

    vocabulary, features = entry.get("vocabulary"), entry.get("features")
    if vocabulary is not None and not isinstance(vocabulary, dict):
        raise _fail(path, name, "vocabulary", "must be a mapping (task_status, priority, "
                    "error_body, task_types, health_ok, llm_model)")
    if features is not None and (not isinstance(features, list) or not all(
            isinstance(f, str) for f in features)):
        raise _fail(path, name, "features", "must be a list of feature names")
    try:
        api = override(KNOWN[profile], vocabulary, features)
    except VocabularyError as exc:
        key, _, problem = str(exc).partition(": ")
        raise _fail(path, name, key, problem) from None
    public = _public_routes(path, name, entry.get("public_routes", []))
    return replace(api.with_metrics_url(entry.get("metrics_url")), public_routes=public)


_ROUTE_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _public_routes(path: Path, name: str, routes: Any) -> frozenset[tuple[str, str]]:
    """``["GET /health", ...]``: the routes that need no token, besides the profile's."""
    fix = ('give a list of "METHOD /path" strings, e.g. ["GET /health", '
           '"GET /api/v1/items/{id}"]')
    if not isinstance(routes, list):
        raise _fail(path, name, "public_routes", fix)
    found = set()
    for index, route in enumerate(routes):
        method, _, route_path = str(route).strip().partition(" ")
        if not isinstance(route, str) or method not in _ROUTE_METHODS or not (
                route_path.startswith("/") and " " not in route_path):
            raise _fail(path, name, f"public_routes[{index}]", f"{route!r} is not "
                        f"\"METHOD /path\" (METHOD one of {', '.join(_ROUTE_METHODS)}); {fix}")
        found.add((method, route_path))
    return frozenset(found)


def _control(path: Path, name: str, control: Any) -> Any:
    if control is None:
        return None
    from prsm_validate.targets.control import ControlConfigError, parse_control

    try:
        return parse_control(control)
    except ControlConfigError as exc:
        key, _, problem = str(exc).partition(": ")
        raise _fail(path, name, key, problem) from None


def _api_url(path: Path, name: str, url: Any) -> str:
    parsed = urlparse(str(url or ""))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise _fail(path, name, "api_url", f"{url!r} is not an http(s) URL; "
                    "set it to the deployment's base URL, e.g. https://staging.example.internal")
    return str(url).rstrip("/")


def _profile(path: Path, name: str, profile: Any) -> str:
    if profile not in PROFILES:
        raise _fail(path, name, "profile", f"{profile!r} unknown; use one of {list(PROFILES)}")
    return str(profile)


def _credential_envs(path: Path, name: str, creds: Any, key: str = "credentials"
                     ) -> dict[str, str]:
    fix = "give {username_env: VAR, password_env: VAR} naming environment variables"
    if not isinstance(creds, dict) or set(creds) != {"username_env", "password_env"}:
        raise _fail(path, name, key, f"{fix} (values never go in the file)")
    for field_name, var in creds.items():
        if not isinstance(var, str) or not var.isidentifier():
            raise _fail(path, name, f"{key}.{field_name}",
                        f"{var!r} is not a variable name; {fix}")
    return {"username_env": creds["username_env"], "password_env": creds["password_env"]}


def _flag(path: Path, name: str, entry: dict[str, Any], key: str, default: bool) -> bool:
    value = entry.get(key, default)
    if not isinstance(value, bool):
        raise _fail(path, name, key, f"{value!r} must be true or false")
    return value


def _nodes(path: Path, name: str, nodes: Any) -> tuple[str, ...]:
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        raise _fail(path, name, "nodes", "must be a list of node introspection URLs")
    return tuple(nodes)
