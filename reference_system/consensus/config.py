"""Cluster configuration: format, loading, and generation for a local cluster.

``generate_cluster(n, directory, ports)`` writes three kinds of files and returns their paths:

``cluster.json`` (public; every node and client reads it)::

    {
      "n": 4,
      "checkpoint_interval": 32,          # k; watermark window L = 2k
      "max_batch": 256,                   # requests per PRE-PREPARE
      "max_inflight": 4,                  # batches the primary keeps outstanding
      "batch_delay_ms": 2,                # a short batch waits this long while one is in flight
      "view_change_timeout_ms": 1000,
      "catchup_timeout_ms": 300,
      "resync_interval_ms": 1000,         # idle this long: ask the peers what we missed
      "genesis": {"treasury": 1000000000, "alice": 1000, ...},   # FTNS supply
      "workers": ["node-0", "node-1", ...],                      # task assignment targets
      "nodes": {"0": {"listen": "127.0.0.1:7000",     # replica + client TCP (framed JSON)
                      "http": "127.0.0.1:7100",       # /status, /log, /metrics
                      "public_key": "<hex ed25519>"}, ...},
      "peers": {"0": {"1": "127.0.0.1:7001", ...}, ...},   # PER SENDER: where node i dials j
      "client_addresses": {"0": "127.0.0.1:7000", ...}      # where clients dial node j
    }

``peers`` starts equal to every node's ``listen`` address; a target may rewrite
``peers[i][j]`` to a fault proxy for the directed link i -> j, and ``client_addresses[j]`` to
a proxy in front of node j for API-to-node traffic.

``node-<i>.key.json`` (private to node i): ``{"id": i, "seed": "<hex ed25519 seed>",
"client_secret": "<hex>"}``; the client secret keys the MACs between clients and node i.

``client-keys.json`` (private to clients such as the API): ``{"secrets": {"0": "<hex>", ...}}``.

Twins: start a second ``prsm-ref node`` with the same ``--id`` (hence key) and ``--listen``
set to another address, and point some peers' entries at it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reference_system.consensus.crypto import new_seed, public_key
from reference_system.consensus.replica import ReplicaParams

DEFAULT_GENESIS = {"treasury": 1_000_000_000, "alice": 1_000, "bob": 1_000, "carol": 1_000}


@dataclass(frozen=True)
class ClusterFiles:
    """Paths written by :func:`generate_cluster`."""

    config: Path
    keys: list[Path]
    client_keys: Path


def generate_cluster(n: int, directory: Path, ports: Sequence[tuple[int, int]],
                     host: str = "127.0.0.1", **settings: Any) -> ClusterFiles:
    """Generate keys and write a cluster config for ``n`` nodes; ``ports[i]`` = (tcp, http).

    ``settings`` overrides top-level keys (``checkpoint_interval``, ``genesis``,
    ``view_change_timeout_ms`` ...).
    """
    if len(ports) != n:
        raise ValueError(f"need one (tcp, http) port pair per node: {n} nodes, {len(ports)} pairs")
    directory.mkdir(parents=True, exist_ok=True)
    seeds = [new_seed() for _ in range(n)]
    client_secrets = [secrets.token_bytes(32) for _ in range(n)]
    listen = {str(i): f"{host}:{ports[i][0]}" for i in range(n)}
    config = {
        "n": n, "checkpoint_interval": 32, "max_batch": 256, "max_inflight": 4,
        "view_change_timeout_ms": 1000, "catchup_timeout_ms": 300, "resync_interval_ms": 1000,
        "genesis": DEFAULT_GENESIS, "workers": [f"node-{i}" for i in range(n)],
        "nodes": {str(i): {"listen": listen[str(i)], "http": f"{host}:{ports[i][1]}",
                           "public_key": public_key(seeds[i]).hex()} for i in range(n)},
        "peers": {str(i): {j: a for j, a in listen.items() if j != str(i)} for i in range(n)},
        "client_addresses": dict(listen),
        **settings,
    }
    config_path = directory / "cluster.json"
    config_path.write_text(json.dumps(config, indent=2))
    keys = [_write_private(directory / f"node-{i}.key.json", {
        "id": i, "seed": seeds[i].hex(), "client_secret": client_secrets[i].hex()})
        for i in range(n)]
    client_keys = _write_private(directory / "client-keys.json", {
        "secrets": {str(i): s.hex() for i, s in enumerate(client_secrets)}})
    return ClusterFiles(config_path, keys, client_keys)


def _write_private(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return path


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (or ``[v6]:port``) -> (host, port)."""
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class ClusterConfig:
    """A loaded ``cluster.json``."""

    data: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> ClusterConfig:
        """Read and minimally validate a cluster config file."""
        data = json.loads(Path(path).read_text())
        for key in ("n", "nodes", "peers", "client_addresses", "genesis"):
            if key not in data:
                raise ValueError(f"{path}: missing key {key!r} (see reference_system."
                                 "consensus.config for the format)")
        return cls(data)

    @property
    def n(self) -> int:
        """Number of replicas."""
        return int(self.data["n"])

    def params(self) -> ReplicaParams:
        """Protocol parameters for the replica core."""
        d = self.data
        return ReplicaParams(
            n=self.n, checkpoint_interval=int(d.get("checkpoint_interval", 32)),
            max_batch=int(d.get("max_batch", 256)), max_inflight=int(d.get("max_inflight", 4)),
            batch_delay=d.get("batch_delay_ms", 2) / 1000,
            view_change_timeout=d.get("view_change_timeout_ms", 1000) / 1000,
            catchup_timeout=d.get("catchup_timeout_ms", 300) / 1000,
            resync_interval=d.get("resync_interval_ms", 1000) / 1000)

    def listen(self, i: int) -> tuple[str, int]:
        """Where node ``i`` accepts replica and client connections."""
        return split_address(self.data["nodes"][str(i)]["listen"])

    def http(self, i: int) -> tuple[str, int]:
        """Node ``i``'s introspection HTTP address."""
        return split_address(self.data["nodes"][str(i)]["http"])

    def peer_address(self, sender: int, receiver: int) -> tuple[str, int]:
        """Where ``sender`` dials ``receiver`` (may be a proxy)."""
        return split_address(self.data["peers"][str(sender)][str(receiver)])

    def client_address(self, i: int) -> tuple[str, int]:
        """Where clients dial node ``i`` (may be a proxy)."""
        return split_address(self.data["client_addresses"][str(i)])

    def public_keys(self) -> dict[int, bytes]:
        """Every replica's ed25519 public key."""
        return {int(i): bytes.fromhex(v["public_key"]) for i, v in self.data["nodes"].items()}

    @property
    def genesis(self) -> dict[str, int]:
        """The FTNS genesis allocation."""
        return {str(k): int(v) for k, v in self.data["genesis"].items()}

    @property
    def workers(self) -> list[str]:
        """Task assignment targets."""
        return list(self.data.get("workers") or [f"node-{i}" for i in range(self.n)])


def load_node_key(path: Path) -> tuple[int, bytes, bytes]:
    """(id, ed25519 seed, client MAC secret) from a node key file."""
    data = json.loads(Path(path).read_text())
    return int(data["id"]), bytes.fromhex(data["seed"]), bytes.fromhex(data["client_secret"])


def load_client_secrets(path: Path) -> dict[int, bytes]:
    """Per-replica client MAC secrets from ``client-keys.json``."""
    data = json.loads(Path(path).read_text())
    return {int(i): bytes.fromhex(s) for i, s in data["secrets"].items()}
