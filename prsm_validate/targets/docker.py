"""The ``docker`` target: the reference system in containers on a private network per run.

Containers are created with testcontainers (Ryuk disabled: it cannot be pulled here; the
harness's own reaper removes everything labelled with the run id if pytest dies). Host ports
are chosen up front and bound on 127.0.0.1 so they survive a kill and start of a container.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

from prsm_validate.targets import base, probes
from prsm_validate.targets.cluster import ClusterLayout, ClusterNetwork, build_cluster, node_name
from prsm_validate.targets.processes import Reaper, StartupError
from prsm_validate.targets.users import USERNAME, deployment_users, fresh_passwords, users_env
from reference_system.ports import free_ports

LABEL = "prsm.run"
READY_TIMEOUT_S = 60.0
GENESIS_BALANCE = 10**12  # as the local target: enough to fund every scenario
NODE_TCP, NODE_HTTP, PROXY_API, FIRST_LINK_PORT = 7000, 7100, 8474, 9000
CLUSTER_DIR = "/cluster"  # the cluster files, mounted read-only into nodes and the API


@dataclass
class Service:
    """One container of the deployment and how to tell it is ready."""

    name: str
    container: Any
    probe: Callable[[], bool]


@dataclass
class DockerTarget:
    """Builds the image if needed, starts the containers, removes them by label."""

    name: str = "docker"
    capabilities: frozenset[str] = frozenset(
        {base.KILL, base.PAUSE, base.RESTART, base.DB, base.REDIS, base.BROKER, base.EDGE,
         base.PIPELINE, base.TOKEN_SIGNING, base.LINK_FAULTS, base.CONSENSUS, base.PARTITION})
    nodes: int = 4
    run_id: str = field(default_factory=lambda: secrets.token_hex(4))
    ready_s: float | None = None
    image: str | None = None
    _services: dict[str, Service] = field(default_factory=dict)
    _network: Any = None
    _reaper: Reaper | None = None
    _root: str | None = None
    _cluster: ClusterLayout | None = None
    progress: Callable[[str], None] | None = field(default=None, repr=False)  # image build

    @property
    def label(self) -> str:
        """The label carried by everything this run creates."""
        return f"{LABEL}={self.run_id}"

    @property
    def reaper_pid(self) -> int | None:
        """The process that cleans up if the harness dies (None before start)."""
        return self._reaper.pid if self._reaper else None

    def start(self) -> base.Deployment:
        """Build or reuse the image, start every container, wait until all are ready."""
        from prsm_validate.targets.docker_image import BuildSteps, ImageError, ensure_image

        self._reaper = Reaper()  # first: it also stops an image build if pytest is killed
        try:
            self.image = ensure_image(BuildSteps(self.progress, self._reaper.watch_group,
                                                  self._reaper.forget_group))
        except ImageError as exc:
            self.stop()
            raise StartupError(f"docker image: {exc}") from None
        except BaseException:
            self.stop()
            raise
        started = time.monotonic()
        self._reaper.watch_docker_label(self.label)
        try:
            deployment = self._launch()
        except BaseException:
            self.stop()
            raise
        self.ready_s = time.monotonic() - started
        return deployment

    def _launch(self) -> base.Deployment:
        from testcontainers.core.network import Network

        self._network = Network(docker_network_kw={"labels": {LABEL: self.run_id}}).create()
        names = ("api", "postgres", "redis", "nats", "edge", "pipeline", "faults",
                 *(node_name(i) for i in range(self.nodes)))
        ports = dict(zip(names, free_ports(len(names)), strict=True))
        users, jwt_secret = fresh_passwords(), secrets.token_urlsafe(48)
        self._start_backends(ports)
        self._start_cluster(ports)
        self._start_apps(ports, users, jwt_secret)
        self._wait_all()
        from prsm_validate.targets.local_launch import hs256_signer

        return base.Deployment(
            target=self.name, kind="docker", api_url=f"http://127.0.0.1:{ports['api']}",
            profile="reference", capabilities=self.capabilities,
            **deployment_users(users), protected=False, allow_chaos=True,
            postgres_dsn=f"postgresql://postgres@127.0.0.1:{ports['postgres']}/postgres",
            redis_url=f"redis://127.0.0.1:{ports['redis']}/0",
            nats_url=f"nats://127.0.0.1:{ports['nats']}", control=self,
            token_signer=hs256_signer(jwt_secret), secret_values={"jwt_secret": jwt_secret},
            services={"edge": f"http://127.0.0.1:{ports['edge']}",
                      "pipeline": f"http://127.0.0.1:{ports['pipeline']}",
                      "fault_proxy": f"http://127.0.0.1:{ports['faults']}"},
            nodes=[base.NodeEndpoint(node_name(i), f"http://127.0.0.1:{ports[node_name(i)]}")
                   for i in range(self.nodes)],
        )

    def _start_cluster(self, ports: dict[str, int]) -> None:
        """The fault proxy, every link proxy on it, and the replicas behind them."""
        from prsm_validate.faultproxy.client import ProxyClient

        self._root = tempfile.mkdtemp(prefix=f"prsm-docker-{self.run_id}-")
        assert self._reaper is not None
        self._reaper.watch_path(self._root)
        network = ClusterNetwork(
            "0.0.0.0", [(NODE_TCP, NODE_HTTP)] * self.nodes,
            list(range(FIRST_LINK_PORT, FIRST_LINK_PORT + self.nodes ** 2)),
            proxy_listen_host="0.0.0.0", proxy_dial_host="faults",
            upstream_hosts=[node_name(i) for i in range(self.nodes)])
        self._cluster = build_cluster(Path(self._root), self.nodes,
                                      {USERNAME: GENESIS_BALANCE}, network)
        os.chmod(self._root, 0o755)
        faults = self._container("faults", ["proxy", "--host", "0.0.0.0", "--port",
                                            str(PROXY_API), "--container-network"],
                                 PROXY_API, ports["faults"], entrypoint="prsm-validate")
        url = f"http://127.0.0.1:{ports['faults']}"
        self._services["faults"] = Service("faults", faults,
                                           lambda: probes.http_ok(f"{url}/version"))
        self._wait("faults")
        with ProxyClient(url) as client:
            self._cluster.create_proxies(client)
        for i in range(self.nodes):
            self._start_node(i, ports[node_name(i)])

    def _start_node(self, i: int, http_port: int) -> None:
        command = ["node", "--config", f"{CLUSTER_DIR}/cluster.json", "--id", str(i),
                   "--data-dir", "/data/node"]
        container = self._container(node_name(i), command, NODE_HTTP, http_port,
                                    mounts={self._root or "": CLUSTER_DIR})
        url = f"http://127.0.0.1:{http_port}/status"
        self._services[node_name(i)] = Service(node_name(i), container,
                                               lambda: probes.http_ok(url))

    def _container(self, name: str, command: list[str], port: int, host_port: int,
                   env: dict[str, str] | None = None, mounts: dict[str, str] | None = None,
                   **options: Any) -> Any:
        from testcontainers.core.container import DockerContainer

        container = DockerContainer(self.image or "", command=command, env=env or {},
                                    name=f"prsm-{self.run_id}-{name}", network=self._network,
                                    network_aliases=[name], labels={LABEL: self.run_id},
                                    **options)
        container.ports[f"{port}/tcp"] = ("127.0.0.1", host_port)
        for host, inside in (mounts or {}).items():
            container.with_volume_mapping(host, inside, "ro")
        return container.start()

    def _start_backends(self, ports: dict[str, int]) -> None:
        specs = {"postgres": 5432, "redis": 6379, "nats": 4222}
        for name, port in specs.items():
            container = self._container(name, ["embedded", name], port, ports[name])
            self._services[name] = Service(name, container, _probe(name, ports[name]))

    def _start_apps(self, ports: dict[str, int], passwords: dict[str, str], jwt_secret: str
                    ) -> None:
        nats, dsn = "nats://nats:4222", "postgresql://postgres@postgres:5432/postgres"
        apps = {
            "edge": (["edge", "--nats", nats, "--state-dir", "/data/edge", "--host", "0.0.0.0",
                      "--port", "8100", "--interval-ms", "250"], 8100, {}),
            "pipeline": (["pipeline", "--nats", nats, "--postgres", dsn, "--host", "0.0.0.0",
                          "--port", "8200"], 8200, {}),
            "api": (["api", "--host", "0.0.0.0", "--port", "8000"], 8000, {
                "PRSM_REF_POSTGRES_DSN": dsn, "PRSM_REF_REDIS_URL": "redis://redis:6379/0",
                "PRSM_REF_NATS_URL": nats, "PRSM_REF_JWT_SECRET": jwt_secret,
                **users_env(passwords),
                "PRSM_REF_EDGE_URL": "http://edge:8100", "PRSM_REF_L1_CAPACITY": "256",
                "PRSM_REF_CONSENSUS_CONFIG": f"{CLUSTER_DIR}/cluster.json",
                "PRSM_REF_CONSENSUS_CLIENT_KEYS": f"{CLUSTER_DIR}/client-keys.json"}),
        }
        for name, (command, port, env) in apps.items():
            mounts = {self._root or "": CLUSTER_DIR} if name == "api" else None
            container = self._container(name, command, port, ports[name], env, mounts)
            self._services[name] = Service(name, container, _probe(name, ports[name]))

    def _wait_all(self) -> None:
        for name in self._services:
            self._wait(name)

    def _wait(self, name: str) -> None:
        service = self._services[name]
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not _safe(service.probe):
            wrapped = service.container.get_wrapped_container()
            wrapped.reload()
            if wrapped.status in ("exited", "dead") or time.monotonic() > deadline:
                logs = wrapped.logs(tail=20).decode(errors="replace")
                raise StartupError(f"container {name} not ready (status {wrapped.status}); "
                                   f"last output:\n{logs}")
            time.sleep(0.05)

    # ProcessControl ------------------------------------------------------------------------

    def components(self) -> list[str]:
        """The containers of this deployment."""
        return list(self._services)

    def _wrapped(self, component: str) -> Any:
        if component not in self._services:
            raise KeyError(f"no component {component!r}; have {self.components()}")
        return self._services[component].container.get_wrapped_container()

    def kill(self, component: str) -> None:
        """``docker kill`` (SIGKILL)."""
        self._wrapped(component).kill()

    def pause(self, component: str) -> None:
        """``docker pause`` (cgroup freezer)."""
        self._wrapped(component).pause()

    def resume(self, component: str) -> None:
        """``docker unpause``."""
        self._wrapped(component).unpause()

    def restart(self, component: str) -> None:
        """Start a killed container, or restart a running one; wait until ready."""
        wrapped = self._wrapped(component)
        wrapped.reload()
        if wrapped.status == "paused":
            wrapped.unpause()
        wrapped.restart(timeout=5) if wrapped.status == "running" else wrapped.start()
        self._wait(component)

    def cut_link(self, source: str, dest: str) -> None:
        """Partition ``source`` from ``dest`` by disconnecting ``source`` from the run's network.

        Coarser than a per-link proxy: ``source`` loses every peer, not only ``dest``.
        """
        self._network._unwrap_network.disconnect(self._wrapped(source), force=True)

    def heal_link(self, source: str, dest: str) -> None:
        """Reconnect ``source`` to the run's network under its own name."""
        self._network._unwrap_network.connect(self._wrapped(source), aliases=[source])

    def stop(self) -> None:
        """Remove every container and the network (by label), release the reaper."""
        from prsm_validate.targets.reaper import remove_docker_label

        remove_docker_label(self.label)
        self._services.clear()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        if self._reaper is not None:
            self._reaper.close()
            self._reaper = None


def _probe(name: str, port: int) -> Callable[[], bool]:
    if name == "postgres":
        return lambda: probes.postgres_query(f"postgresql://postgres@127.0.0.1:{port}/postgres")
    if name == "redis":
        return lambda: probes.redis_ping("127.0.0.1", port)
    if name == "nats":
        return lambda: probes.tcp_open("127.0.0.1", port)
    if name == "api":  # ready = healthy and the cluster ordered a no-op
        return lambda: probes.http_component_up(f"http://127.0.0.1:{port}/health", "consensus")
    return lambda: probes.http_ok(f"http://127.0.0.1:{port}/health")


def _safe(probe: Callable[[], bool]) -> bool:
    try:
        return bool(probe())
    except Exception:
        return False
