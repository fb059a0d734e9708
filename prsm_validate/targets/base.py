"""What every target yields: a :class:`Deployment` describing how to reach the SUT."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

# Capability names used by the `requires` marker and the nemesis.
KILL, PAUSE, RESTART = "kill", "pause", "restart"
LINK_FAULTS, PARTITION, BYZANTINE = "link_faults", "partition", "byzantine"
DB, REDIS, BROKER, CONSENSUS = "db", "redis", "broker", "consensus"
EDGE, PIPELINE = "edge", "pipeline"
TOKEN_SIGNING = "token_signing"  # the harness holds the API's JWT key (forged-token checks)
WIPE = "wipe"  # a replica's durable log can be deleted (state-transfer scenarios)
FAULT_CAPABILITIES = frozenset({KILL, PAUSE, RESTART, LINK_FAULTS, PARTITION, BYZANTINE, WIPE})
# What the local target offers, known at configure time without importing it (it is heavy).
LOCAL_CAPABILITIES = frozenset({KILL, PAUSE, RESTART, DB, REDIS, BROKER, TOKEN_SIGNING, EDGE,
                                PIPELINE, LINK_FAULTS, CONSENSUS, PARTITION, BYZANTINE, WIPE})


@dataclass(frozen=True)
class Credentials:
    """A username and password; the password never appears in a repr, log or report."""

    username: str
    password: str = field(repr=False)

    def __str__(self) -> str:
        return f"{self.username} (password hidden)"


@dataclass(frozen=True)
class RateLimit:
    """A declared request rate limit (OWASP API4): ``per_second`` sustained and ``burst`` at
    once, for the requests of ``credentials``' user (None: the target's main user), answered
    429 with Retry-After beyond it."""

    per_second: float
    burst: float
    credentials: Credentials | None = field(default=None, repr=False)


@dataclass(frozen=True)
class NodeEndpoint:
    """One consensus node's introspection address."""

    id: str
    url: str


# Small optional control protocols: a target's control implements the ones it can do, and the
# nemesis, fixtures and nightly check them with isinstance (never by probing attributes).

@runtime_checkable
class ProcessControl(Protocol):
    """Process faults a target can apply to its named components."""

    def kill(self, component: str) -> None: ...
    def pause(self, component: str) -> None: ...
    def resume(self, component: str) -> None: ...
    def restart(self, component: str) -> None: ...
    def components(self) -> list[str]: ...


@runtime_checkable
class LinkControl(Protocol):
    """Cut and heal the connection between two named components."""

    def cut_link(self, source: str, dest: str) -> None: ...
    def heal_link(self, source: str, dest: str) -> None: ...


@runtime_checkable
class ByzantineControl(Protocol):
    """Restart a consensus replica with Byzantine behaviours (none: honest again)."""

    def restart_node(self, name: str, byzantine: Sequence[str] = ()) -> None: ...


@runtime_checkable
class TwinControl(Protocol):
    """Run a second process with a replica's identity (Twins); returns (twin, listen)."""

    def start_twin(self, name: str) -> tuple[str, str]: ...
    def stop_twin(self, twin: str) -> None: ...


@runtime_checkable
class WipeControl(Protocol):
    """Kill a replica, delete its durable log and start it empty (state transfer)."""

    def wipe_node(self, name: str) -> None: ...


@runtime_checkable
class LogCollector(Protocol):
    """A target that can copy its components' logs into the run's report folder."""

    def save_logs(self, dest: Path) -> None: ...


@runtime_checkable
class StartupTimeline(Protocol):
    """A target that reports when each component was spawned and ready, and their pids
    (``prsm-validate bench startup``)."""

    def timeline(self) -> dict[str, tuple[float, float | None]]: ...
    def pids(self) -> dict[str, int]: ...


@runtime_checkable
class Keepable(Protocol):
    """A target that can be left running (``--prsm-keep``): its state lives under ``root``;
    ``detach`` lets its processes outlive the harness."""

    root: Path

    def detach(self) -> None: ...
    def pids(self) -> dict[str, int]: ...


@runtime_checkable
class Redeploy(Protocol):
    """Roll a changed build or configuration onto one component: restart it with ``env``
    added to its environment and wait until it is ready (the rolling-deploy drills)."""

    def redeploy(self, component: str, env: Mapping[str, str]) -> None: ...


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
    api_profile: Any = field(default=None, repr=False)  # the Profile, with overrides applied
    contract: Any = field(default=None, repr=False)  # the target's OpenAPI Contract, if any
    contract_note: str | None = None  # where the contract came from, or why there is none
    identity: dict[str, Any] = field(default_factory=dict)  # a remote target's own versions
    # a second plain user (two-user authorization scenarios), or None with the reason
    second_credentials: Credentials | None = field(default=None, repr=False)
    second_user_note: str = "the target declares no second user"
    # a user with the admin role (the admin-only operations' positive check), or None
    admin_credentials: Credentials | None = field(default=None, repr=False)
    admin_user_note: str = "the target declares no admin user"
    rate_limit: RateLimit | None = None  # a user's plan limit, or None with the reason
    rate_limit_note: str = "the target declares no rate limit"
    # secrets the harness knows besides the credentials (the JWT signing key), for the canary
    secret_values: dict[str, str] = field(default_factory=dict, repr=False)

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
            "services": dict(self.services), "contract": self.contract_note,
            "identity": dict(self.identity),
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
