"""Targets: built-in kinds and named remote targets from a targets file (DESIGN.md 4).

```yaml
targets:
  staging:
    kind: remote
    api_url: https://staging.example.internal
    profile: prime-spark
    credentials: {username_env: PRSM_STAGING_USER, password_env: PRSM_STAGING_PASSWORD}
    protected: true      # default for remote targets
    allow_chaos: false
    nodes: []            # optional node introspection URLs
```

Every mistake is a :class:`TargetConfigError` naming the file, the key and the fix; the plugin
turns it into ``pytest.UsageError``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from prsm_validate.targets import base

BUILTIN = ("local", "docker", "k8s")
PROFILES = ("reference", "prime-spark", "prsm-platform")
REMOTE_CAPABILITIES: frozenset[str] = frozenset()
_KEYS = {"kind", "api_url", "profile", "credentials", "protected", "allow_chaos", "nodes"}


class TargetConfigError(ValueError):
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

    def credentials(self) -> base.Credentials:
        """Credentials read from the environment variables the file names."""
        missing = [v for v in (self.username_env, self.password_env) if not os.environ.get(v or "")]
        if missing:
            raise TargetConfigError(
                f"target {self.name!r} ({self.source}): environment variable(s) "
                f"{', '.join(str(m) for m in missing)} not set: export them before running")
        return base.Credentials(os.environ[self.username_env or ""],
                                os.environ[self.password_env or ""])


def default_targets_file(rootdir: Path) -> Path:
    """``prsm-targets.yaml`` at the rootdir if present, else ``fixtures/targets.yaml``."""
    preferred = rootdir / "prsm-targets.yaml"
    return preferred if preferred.exists() else rootdir / "fixtures" / "targets.yaml"


def resolve_target(name: str, targets_file: Path | None, local_capabilities: frozenset[str]
                   ) -> TargetSpec:
    """The spec of target ``name``: a built-in kind or an entry of the targets file."""
    if name == "local":
        return TargetSpec("local", "local", local_capabilities)
    if name == "docker":
        from prsm_validate.targets.docker import DockerTarget

        return TargetSpec("docker", "docker", DockerTarget.capabilities)
    if name in BUILTIN:
        raise TargetConfigError(
            f"--prsm-target={name}: the {name} target is not available in this version; "
            "use --prsm-target=local or a remote target from the targets file")
    exists = targets_file is not None and targets_file.exists()
    targets = load_targets_file(targets_file) if exists and targets_file else {}
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
    try:
        data = yaml.safe_load(path.read_text()) or {}
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
    return TargetSpec(
        name=name, kind="remote", capabilities=REMOTE_CAPABILITIES,
        api_url=_api_url(path, name, entry.get("api_url")),
        profile=_profile(path, name, entry.get("profile", "prime-spark")),
        **_credential_envs(path, name, entry.get("credentials")),
        protected=_flag(path, name, entry, "protected", True),
        allow_chaos=_flag(path, name, entry, "allow_chaos", False),
        nodes=_nodes(path, name, entry.get("nodes", [])), source=str(path),
    )


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


def _credential_envs(path: Path, name: str, creds: Any) -> dict[str, str]:
    fix = "give {username_env: VAR, password_env: VAR} naming environment variables"
    if not isinstance(creds, dict) or set(creds) != {"username_env", "password_env"}:
        raise _fail(path, name, "credentials", f"{fix} (values never go in the file)")
    for key, var in creds.items():
        if not isinstance(var, str) or not var.isidentifier():
            raise _fail(path, name, f"credentials.{key}", f"{var!r} is not a variable name; {fix}")
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
