"""The PBFT cluster of a target the harness starts, with a fault proxy on every link.

Every directed node link ``node-i -> node-j`` and every API link ``api -> node-j`` runs through
its own proxy on the target's Toxiproxy-compatible fault proxy, named
:func:`~prsm_validate.nemesis.partitions.link_name` (``node-0-to-node-1``, ``api-to-node-2``),
so partitions and link toxics apply to exactly the traffic they name. The cluster files
(``cluster.json`` with the rewritten ``peers`` and ``client_addresses``, one key file per node,
``client-keys.json`` for the API) live under the target's private directory.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prsm_validate.faultproxy.client import ProxyClient
from prsm_validate.nemesis.partitions import link_name
from reference_system.consensus.config import DEFAULT_GENESIS, ClusterFiles, generate_cluster
from reference_system.ports import free_ports

API = "api"


def node_name(i: int) -> str:
    """Component name of replica ``i``."""
    return f"node-{i}"


def node_index(name: str) -> int:
    """Replica index of a component name (``node-2`` -> 2)."""
    prefix, _, index = name.rpartition("-")
    if prefix != "node" or not index.isdigit():
        raise ValueError(f"{name!r} is not a consensus node name (node-<i>)")
    return int(index)


@dataclass(frozen=True)
class Proxy:
    """One link proxy: where it listens, the replica it forwards to, where senders dial it."""

    listen: str
    upstream: str
    dial: str


@dataclass(frozen=True)
class ClusterNetwork:
    """Addresses of a cluster: where replicas bind, how proxies are reached and what they
    forward to. :func:`loopback_network` for processes on this machine; the docker target
    builds one with container names."""

    bind_host: str
    node_ports: list[tuple[int, int]]  # (tcp, http) per replica, as bound
    proxy_ports: list[int]  # one per link proxy, n * n in all
    proxy_listen_host: str = "127.0.0.1"  # where the fault proxy binds them
    proxy_dial_host: str = "127.0.0.1"  # where senders reach the fault proxy
    upstream_hosts: list[str] | None = None  # where the proxy reaches replica j (default bind)

    def upstream(self, j: int) -> str:
        """Where the fault proxy forwards traffic for replica ``j``."""
        host = self.upstream_hosts[j] if self.upstream_hosts else self.bind_host
        return f"{host}:{self.node_ports[j][0]}"


def loopback_network(n: int) -> ClusterNetwork:
    """Every replica and proxy on a free loopback port."""
    ports = free_ports(2 * n + n * n)
    return ClusterNetwork("127.0.0.1", [(ports[2 * i], ports[2 * i + 1]) for i in range(n)],
                          ports[2 * n:])


@dataclass
class ClusterLayout:
    """Where every replica listens, and the proxies between them."""

    n: int
    root: Path
    files: ClusterFiles
    listen: list[str]
    http: list[str]
    proxies: dict[str, Proxy] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """Component names of the replicas."""
        return [node_name(i) for i in range(self.n)]

    def http_url(self, i: int) -> str:
        """Introspection base URL of replica ``i``."""
        return f"http://{self.http[i]}"

    def create_proxies(self, client: ProxyClient, *others: dict[str, Any]) -> None:
        """Create every link proxy on the fault proxy, with ``others`` (proxy specs of links
        outside the cluster), in one request."""
        client.populate([*({"name": name, "listen": p.listen, "upstream": p.upstream,
                            "enabled": True} for name, p in self.proxies.items()), *others])

    def twin_links(self, i: int, ports: Sequence[int]) -> dict[str, Proxy]:
        """Proxies for the links a twin of replica ``i`` opens to each other replica (named
        ``node-i-twin-to-node-j``, on ``ports``), so that a partition can cut the twin's
        messages apart from the original's."""
        twin, links = f"{node_name(i)}-twin", {}
        others = [j for j in range(self.n) if j != i]
        for j, port in zip(others, ports, strict=True):
            original = self.proxies[link_name(node_name(i), node_name(j))]
            listen_host = original.listen.rsplit(":", 1)[0]
            dial_host = original.dial.rsplit(":", 1)[0]
            links[link_name(twin, node_name(j))] = Proxy(f"{listen_host}:{port}",
                                                         original.upstream, f"{dial_host}:{port}")
        return links

    def twin_config(self, i: int, links: Mapping[str, Proxy]) -> Path:
        """A copy of the cluster config in which replica ``i`` dials its peers through the
        twin's ``links`` (:meth:`twin_links`)."""
        config = json.loads(self.files.config.read_text())
        for name, proxy in links.items():
            config["peers"][str(i)][str(node_index(name.rsplit("-to-", 1)[1]))] = proxy.dial
        path = self.files.config.parent / f"twin-{node_name(i)}.json"  # beside the keys
        path.write_text(json.dumps(config, indent=2))
        return path

    def data_dir(self, i: int, twin: bool = False) -> Path:
        """Directory of replica ``i``'s durable log (a twin has its own)."""
        return self.root / ("twin" if twin else "data") / node_name(i)

    def node_argv(self, i: int, byzantine: Sequence[str] = (), listen: str | None = None,
                  http: str | None = None, config: Path | None = None) -> list[str]:
        """Command line of replica ``i`` (a twin gets its own ``listen``, ``http`` and
        ``config``)."""
        data = self.data_dir(i, twin=bool(listen))
        argv = [sys.executable, "-m", "reference_system.cli", "node", "--config",
                str(config or self.files.config), "--id", str(i), "--data-dir", str(data)]
        for spec in byzantine:
            argv += ["--byzantine", spec]
        if listen:
            argv += ["--listen", listen, "--http", http or ""]
        return argv


def build_cluster(root: Path, n: int, extra_genesis: Mapping[str, int] | None = None,
                  network: ClusterNetwork | None = None) -> ClusterLayout:
    """Generate keys and config for ``n`` replicas, every link addressed to its proxy.

    The proxies' ports are chosen here, so nodes and the API can start before the fault proxy
    is up (they reconnect until :meth:`ClusterLayout.create_proxies` ran).
    """
    if n < 4:
        raise ValueError(f"a PBFT cluster needs n = 3f+1 >= 4 replicas, got {n}")
    network = network or loopback_network(n)
    genesis = {**DEFAULT_GENESIS, **(extra_genesis or {})}
    files = generate_cluster(n, root, network.node_ports, host=network.bind_host,
                             genesis=genesis)
    config = json.loads(files.config.read_text())
    listen = [config["nodes"][str(i)]["listen"] for i in range(n)]
    http = [config["nodes"][str(i)]["http"] for i in range(n)]
    layout = ClusterLayout(n, root, files, listen, http)
    _interpose(layout, config, network)
    files.config.write_text(json.dumps(config, indent=2))
    return layout


def _interpose(layout: ClusterLayout, config: dict, network: ClusterNetwork) -> None:
    """Point every peer and client address at the proxy in front of the real listener."""
    ports = iter(network.proxy_ports)
    for dst in range(layout.n):
        for src in [*(node_name(s) for s in range(layout.n) if s != dst), API]:
            name, port = link_name(src, node_name(dst)), next(ports)
            proxy = Proxy(f"{network.proxy_listen_host}:{port}", network.upstream(dst),
                          f"{network.proxy_dial_host}:{port}")
            layout.proxies[name] = proxy
            if src == API:
                config["client_addresses"][str(dst)] = proxy.dial
            else:
                config["peers"][str(node_index(src))][str(dst)] = proxy.dial
