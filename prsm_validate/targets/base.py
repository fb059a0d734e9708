"""What every target yields: a :class:`Deployment` describing how to reach the SUT."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

# Capability names used by the `requires` marker and the nemesis.
KILL, PAUSE, RESTART = "kill", "pause", "restart"
LINK_FAULTS, PARTITION, BYZANTINE = "link_faults", "partition", "byzantine"
DB, REDIS, BROKER, CONSENSUS = "db", "redis", "broker", "consensus"
EDGE, PIPELINE = "edge", "pipeline"
TOKEN_SIGNING = "token_signing"  # the harness holds the API's JWT key (forged-token checks)
FAULT_CAPABILITIES = frozenset({KILL, PAUSE, RESTART, LINK_FAULTS, PARTITION, BYZANTINE})
# What the local target offers, known at configure time without importing it (it is heavy).
LOCAL_CAPABILITIES = frozenset({KILL, PAUSE, RESTART, DB, REDIS, BROKER, TOKEN_SIGNING, EDGE,
                                PIPELINE, LINK_FAULTS, CONSENSUS, PARTITION, BYZANTINE})


@dataclass(frozen=True)
class Credentials:
    """A username and password; the password never appears in a repr, log or report."""

    username: str
    password: str = field(repr=False)

    def __str__(self) -> str:
        return f"{self.username} (password hidden)"


@dataclass(frozen=True)
class NodeEndpoint:
    """One consensus node's introspection address."""

    id: str
    url: str


class ProcessControl(Protocol):
    """Process faults a target can apply to its named components."""

    def kill(self, component: str) -> None: ...
    def pause(self, component: str) -> None: ...
    def resume(self, component: str) -> None: ...
    def restart(self, component: str) -> None: ...
    def components(self) -> list[str]: ...


@dataclass
class Deployment:
    """How scenarios reach the system under test, and what may be done to it."""

    target: str
    kind: str
    api_url: str
    profile: str
    capabilities: frozenset[str]
    credentials: Credentials | None
    protected: bool
    allow_chaos: bool
    nodes: list[NodeEndpoint] = field(default_factory=list)
    postgres_dsn: str | None = None
    redis_url: str | None = None
    nats_url: str | None = None
    pids: dict[str, int] = field(default_factory=dict)
    log_dir: str | None = None
    services: dict[str, str] = field(default_factory=dict)  # e.g. edge, pipeline HTTP URLs
    control: ProcessControl | None = field(default=None, repr=False)
    token_signer: Callable[[dict[str, Any]], str] | None = field(default=None, repr=False)

    def has(self, *capabilities: str) -> bool:
        """True when the target offers every named capability."""
        return set(capabilities) <= self.capabilities

    def describe(self) -> dict[str, Any]:
        """A JSON-safe description, without secrets."""
        return {
            "target": self.target, "kind": self.kind, "api_url": self.api_url,
            "profile": self.profile, "capabilities": sorted(self.capabilities),
            "username": self.credentials.username if self.credentials else None,
            "protected": self.protected, "allow_chaos": self.allow_chaos,
            "nodes": [{"id": n.id, "url": n.url} for n in self.nodes],
            "postgres_dsn": self.postgres_dsn, "redis_url": self.redis_url,
            "nats_url": self.nats_url, "pids": dict(self.pids), "log_dir": self.log_dir,
            "services": dict(self.services),
        }


def fault_permission(protected: bool, allow_chaos: bool, allow_destructive: bool,
                     target: str) -> str | None:
    """None when faults are allowed, else the reason they are not.

    A protected target receives a fault only with both ``--prsm-allow-destructive`` and the
    target's own ``allow_chaos: true``.
    """
    if not protected:
        return None
    missing = []
    if not allow_destructive:
        missing.append("--prsm-allow-destructive")
    if not allow_chaos:
        missing.append("allow_chaos: true in its targets file entry")
    if not missing:
        return None
    return f"target {target!r} is protected: faults need " + " and ".join(missing)


class Target(Protocol):
    """Starts (or attaches to) the SUT and releases it."""

    name: str
    capabilities: frozenset[str]

    def start(self) -> Deployment: ...
    def stop(self) -> None: ...
