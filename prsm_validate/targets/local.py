"""The ``local`` target: the whole reference system as child processes on loopback.

PostgreSQL, Redis and NATS (JetStream) are the real servers shipped in PyPI wheels; the API is
``prsm-ref api``, ordering FTNS transfers and tasks through a PBFT cluster of ``prsm-ref node``
processes; a fault proxy process (``prsm-validate proxy``) sits on every node-to-node and
API-to-node link. Everything gets free ports and a private temporary directory; each process
runs in its own process group; a reaper process cleans up if the harness dies.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prsm_validate.nemesis.link import LinkProxy
from prsm_validate.nemesis.proxy.client import ProxyClient
from prsm_validate.targets import base, embedded, probes
from prsm_validate.targets.cluster import ClusterLayout, build_cluster, node_index
from prsm_validate.targets.processes import ManagedProcess, Reaper, StartupError, wait_ready
from reference_system.ports import free_ports

log = logging.getLogger("prsm_validate.local")
USERNAME = "validator"
GENESIS_BALANCE = 10**12  # FTNS the harness's user holds at genesis (funds every test)
TOXIPROXY_ENV = "PRSM_TOXIPROXY_URL"
READY_TIMEOUT_S = 30.0


@dataclass
class Component:
    """A started process and how to tell it is ready."""

    process: ManagedProcess
    probe: Callable[[], bool]


@dataclass
class LocalOptions:
    """Settings of the local target."""

    nodes: int = 4
    l1_capacity: int = 256
    edge_devices: int = 4
    edge_interval_ms: float = 250
    api_replicas: int = 1  # API processes besides "api", behind the gateway with it
    ready_timeout_s: float = READY_TIMEOUT_S
    keep: bool = False


@dataclass
class LocalTarget:
    """Starts and stops the reference system on this machine."""

    options: LocalOptions = field(default_factory=LocalOptions)
    name: str = "local"
    capabilities: frozenset[str] = base.LOCAL_CAPABILITIES
    root: Path | None = None
    ready_s: float | None = None
    _components: dict[str, Component] = field(default_factory=dict)
    _reaper: Reaper | None = None
    _deployment: base.Deployment | None = None
    _links: dict[tuple[str, str], LinkProxy] = field(default_factory=dict)
    cluster: ClusterLayout | None = None
    proxy_url: str | None = None
    external_proxy: str | None = None  # a real Toxiproxy server (PRSM_TOXIPROXY_URL)

    def start(self) -> base.Deployment:
        """Start every component and wait until all are ready."""
        started = time.monotonic()
        self._reaper = Reaper()
        self.root = Path(tempfile.mkdtemp(prefix="prsm-local-"))
        self.root.chmod(0o755)  # the unprivileged database user must traverse it
        self._reaper.watch_path(self.root)
        try:
            deployment = self._launch()
        except BaseException:
            self.stop()
            raise
        self.ready_s = time.monotonic() - started
        self._deployment = deployment
        return deployment

    def _launch(self) -> base.Deployment:
        assert self.root is not None
        (self.root / "logs").mkdir()
        (pg_port, redis_port, nats_port, nats_mon, api_port, edge_port, pipe_port,
         faults_port, gateway_port, *replica_ports) = free_ports(9 + self.options.api_replicas)
        password = secrets.token_urlsafe(18)
        jwt_secret = secrets.token_urlsafe(48)
        dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        nats_url = f"nats://127.0.0.1:{nats_port}"
        api_url = f"http://127.0.0.1:{api_port}"
        self._add_faults(faults_port)  # first: the cluster's proxies wait for it
        self._add_postgres(pg_port, dsn)
        self._add_redis(redis_port)
        self._add_nats(nats_port, nats_mon)
        self._add_edge(edge_port, nats_url)
        self._add_pipeline(pipe_port, self._link("pipeline", "nats", nats_port), dsn)
        self._add_cluster()
        edge_url = f"http://127.0.0.1:{edge_port}"
        api_env = self._api_env(dsn, redis_url, nats_url, password, jwt_secret, edge_url)
        self._add_api("api", api_port, api_env)
        for index, port in enumerate(replica_ports, 1):
            self._add_api(f"api-{index}", port, api_env)
        self._add_gateway(gateway_port, [api_port, *replica_ports])
        self._add_link_proxies()
        self._wait_all()
        return base.Deployment(
            target=self.name, kind="local", api_url=api_url, profile="reference",
            capabilities=self.capabilities, credentials=base.Credentials(USERNAME, password),
            protected=False, allow_chaos=True, postgres_dsn=dsn, redis_url=redis_url,
            nats_url=nats_url, pids=self.pids(), log_dir=str(self.root / "logs"), control=self,
            token_signer=_hs256_signer(jwt_secret), nodes=self._node_endpoints(),
            services={"edge": edge_url, "pipeline": f"http://127.0.0.1:{pipe_port}",
                      "fault_proxy": self.proxy_url or "",
                      "gateway": f"http://127.0.0.1:{gateway_port}",
                      **{f"api-{i}": f"http://127.0.0.1:{p}"
                         for i, p in enumerate(replica_ports, 1)}},
        )

    def _node_endpoints(self) -> list[base.NodeEndpoint]:
        assert self.cluster is not None
        return [base.NodeEndpoint(name, self.cluster.http_url(i))
                for i, name in enumerate(self.cluster.names)]

    def _add_faults(self, port: int) -> None:
        """The fault proxy process; the cluster's proxies are created on it at once.

        With ``PRSM_TOXIPROXY_URL`` set, a real Toxiproxy server there is used instead (its
        proxies must reach this machine's loopback); the run deletes the proxies it created.
        """
        external = os.environ.get(TOXIPROXY_ENV)
        if external:
            self.proxy_url = self.external_proxy = external.rstrip("/")
            return
        argv = [sys.executable, "-m", "prsm_validate.cli", "proxy", "--port", port]
        proc = self._process("faults", argv)
        self.proxy_url = f"http://127.0.0.1:{port}"
        url = f"{self.proxy_url}/version"
        self._components["faults"] = Component(proc, lambda: probes.http_ok(url))

    def _add_cluster(self) -> None:
        assert self.root is not None
        self.cluster = build_cluster(self.root / "cluster", self.options.nodes,
                                     {USERNAME: GENESIS_BALANCE})
        for i, name in enumerate(self.cluster.names):
            self._add_node(i, name)

    def _add_link_proxies(self) -> None:
        assert self.cluster is not None and self.proxy_url is not None
        if "faults" in self._components:
            self._wait("faults")
        with ProxyClient(self.proxy_url) as proxy:
            self.cluster.create_proxies(proxy)

    def _add_node(self, i: int, name: str, byzantine: tuple[str, ...] = ()) -> None:
        assert self.cluster is not None
        proc = self._process(name, self.cluster.node_argv(i, byzantine))
        url = f"{self.cluster.http_url(i)}/status"
        self._components[name] = Component(proc, lambda: probes.http_ok(url))

    def _link(self, source: str, dest: str, dest_port: int) -> str:
        """A controllable link from ``source`` to ``dest``; returns the URL ``source`` uses."""
        proxy = LinkProxy(("127.0.0.1", dest_port))
        host, port = proxy.start()
        self._links[(source, dest)] = proxy
        return f"nats://{host}:{port}"

    def _process(self, name: str, argv: list[str], env: dict[str, str] | None = None,
                 user: str | None = None) -> ManagedProcess:
        assert self.root is not None
        proc = ManagedProcess(name, [str(a) for a in argv], self.root / "logs" / f"{name}.log",
                              env or {}, user, self._reaper)
        proc.start()
        return proc

    def _add_postgres(self, port: int, dsn: str) -> None:
        assert self.root is not None
        data = embedded.copy_postgres_data(self.root / "postgres")
        argv = [embedded.postgres_bin_dir() / "postgres", "-D", data, "-h", "127.0.0.1",
                "-p", port, "-k", data, "-c", "max_connections=100",
                "-c", "shared_buffers=64MB"]
        proc = self._process("postgres", argv, user=embedded.server_user())
        self._components["postgres"] = Component(proc, lambda: probes.postgres_query(dsn))

    def _add_redis(self, port: int) -> None:
        assert self.root is not None
        argv = [embedded.redis_server_bin(), "--port", port, "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.root, "--daemonize", "no"]
        proc = self._process("redis", argv)
        self._components["redis"] = Component(proc, lambda: probes.redis_ping("127.0.0.1", port))

    def _add_nats(self, port: int, monitor_port: int) -> None:
        assert self.root is not None
        config = self.root / "nats.conf"
        # sync_interval always: a PubAck means fsynced (see reference_system.telemetry).
        config.write_text(f'jetstream {{ store_dir: "{self.root / "nats"}", '
                          "sync_interval: always }\n")
        argv = [embedded.nats_server_bin(), "-a", "127.0.0.1", "-p", port, "-m", monitor_port,
                "-c", config]
        proc = self._process("nats", argv)
        url = f"http://127.0.0.1:{monitor_port}/healthz?js-enabled-only=true"
        self._components["nats"] = Component(proc, lambda: probes.http_ok(url))

    def _add_edge(self, port: int, nats_url: str) -> None:
        assert self.root is not None
        argv = [sys.executable, "-m", "reference_system.cli", "edge", "--nats", nats_url,
                "--state-dir", self.root / "edge-state", "--port", port,
                "--devices", self.options.edge_devices,
                "--interval-ms", self.options.edge_interval_ms]
        proc = self._process("edge", argv)
        url = f"http://127.0.0.1:{port}/health"
        self._components["edge"] = Component(proc, lambda: probes.http_ok(url))

    def _add_pipeline(self, port: int, nats_url: str, dsn: str) -> None:
        argv = [sys.executable, "-m", "reference_system.cli", "pipeline", "--nats", nats_url,
                "--postgres", dsn, "--port", port]
        proc = self._process("pipeline", argv)
        url = f"http://127.0.0.1:{port}/health"
        self._components["pipeline"] = Component(proc, lambda: probes.http_ok(url))

    def _api_env(self, dsn: str, redis_url: str, nats_url: str, password: str,
                 jwt_secret: str, edge_url: str) -> dict[str, str]:
        from reference_system.passwords import hash_password

        env = {
            "PRSM_REF_POSTGRES_DSN": dsn, "PRSM_REF_REDIS_URL": redis_url,
            "PRSM_REF_NATS_URL": nats_url, "PRSM_REF_JWT_SECRET": jwt_secret,
            "PRSM_REF_USERS": json.dumps({USERNAME: hash_password(password)}),
            "PRSM_REF_L1_CAPACITY": str(self.options.l1_capacity),
            "PRSM_REF_EDGE_URL": edge_url,
        }
        if self.cluster is not None:
            env["PRSM_REF_CONSENSUS_CONFIG"] = str(self.cluster.files.config)
            env["PRSM_REF_CONSENSUS_CLIENT_KEYS"] = str(self.cluster.files.client_keys)
        return env

    def _add_api(self, name: str, port: int, env: dict[str, str]) -> None:
        argv = [sys.executable, "-m", "reference_system.cli", "api"]
        proc = self._process(name, argv, {**env, "PRSM_REF_PORT": str(port)})
        url = f"http://127.0.0.1:{port}/health"
        # Ready = healthy and the cluster has a primary that ordered a no-op.
        self._components[name] = Component(proc, lambda: probes.http_component_up(
            url, "consensus"))

    def _add_gateway(self, port: int, api_ports: list[int]) -> None:
        """The load balancer in front of every API replica (the highly available entry)."""
        argv = [sys.executable, "-m", "prsm_validate.targets.gateway", "--port", port]
        for api_port in api_ports:
            argv += ["--backend", f"127.0.0.1:{api_port}"]
        proc = self._process("gateway", argv)
        url = f"http://127.0.0.1:{port}/health"
        self._components["gateway"] = Component(proc, lambda: probes.http_ok(url))

    def _wait_all(self, names: list[str] | None = None) -> None:
        names = names or list(self._components)
        with ThreadPoolExecutor(len(names)) as pool:
            waits = [pool.submit(self._wait, name) for name in names]
            errors = [w.exception() for w in waits if w.exception() is not None]
        if errors:
            raise StartupError("\n\n".join(str(e) for e in errors))

    def _wait(self, name: str) -> None:
        component = self._components[name]
        wait_ready(component.process, component.probe, self.options.ready_timeout_s)

    # ProcessControl -----------------------------------------------------------------------

    def components(self) -> list[str]:
        """Names of the components this target runs."""
        return list(self._components)

    def process(self, component: str) -> ManagedProcess:
        """The managed process of ``component``."""
        try:
            return self._components[component].process
        except KeyError:
            raise KeyError(f"no component {component!r}; have {self.components()}") from None

    def kill(self, component: str) -> None:
        """SIGKILL a component's process group."""
        self.process(component).kill()

    def pause(self, component: str) -> None:
        """SIGSTOP a component."""
        self.process(component).pause()

    def resume(self, component: str) -> None:
        """SIGCONT a component."""
        self.process(component).resume()

    def restart(self, component: str) -> None:
        """Stop (if running) and start a component, then wait until it is ready."""
        proc = self.process(component)
        proc.stop()
        proc.start()
        self._wait(component)
        if self._deployment is not None and proc.pid is not None:
            self._deployment.pids[component] = proc.pid

    def restart_node(self, name: str, byzantine: Sequence[str] = ()) -> None:
        """Restart replica ``name`` with the given Byzantine behaviours (none = honest)."""
        assert self.cluster is not None
        proc = self.process(name)
        proc.stop()
        proc.argv = self.cluster.node_argv(node_index(name), byzantine)
        proc.start()
        self._wait(name)

    def wipe_node(self, name: str) -> None:
        """Kill replica ``name``, delete its durable log, start it empty (it must catch up
        by state transfer)."""
        assert self.cluster is not None
        proc = self.process(name)
        proc.kill()
        shutil.rmtree(self.cluster.data_dir(node_index(name)), ignore_errors=True)
        proc.start()
        self._wait(name)

    def start_twin(self, name: str) -> tuple[str, str]:
        """Start a second process with replica ``name``'s identity on its own addresses;
        returns (component name, listen address)."""
        assert self.cluster is not None
        tcp, http = free_ports(2)
        listen, twin = f"127.0.0.1:{tcp}", f"{name}-twin"
        argv = self.cluster.node_argv(node_index(name), listen=listen, http=f"127.0.0.1:{http}")
        proc = self._process(twin, argv)
        url = f"http://127.0.0.1:{http}/status"
        self._components[twin] = Component(proc, lambda: probes.http_ok(url))
        self._wait(twin)
        return twin, listen

    def stop_twin(self, twin: str) -> None:
        """Stop a twin started by :meth:`start_twin` and forget it."""
        component = self._components.pop(twin, None)
        if component is not None:
            component.process.stop()

    def links(self) -> list[tuple[str, str]]:
        """The links this target can cut, as (source, destination)."""
        return list(self._links)

    def cut_link(self, source: str, dest: str) -> None:
        """Partition ``source`` from ``dest`` (both directions of their connection)."""
        self._link_proxy(source, dest).cut()

    def heal_link(self, source: str, dest: str) -> None:
        """Heal the link between ``source`` and ``dest``."""
        self._link_proxy(source, dest).heal()

    def _link_proxy(self, source: str, dest: str) -> LinkProxy:
        proxy = self._links.get((source, dest)) or self._links.get((dest, source))
        if proxy is None:
            raise KeyError(f"no controllable link {source}->{dest}; have {self.links()}")
        return proxy

    def pids(self) -> dict[str, int]:
        """Current process ids by component."""
        return {n: c.process.pid for n, c in self._components.items() if c.process.pid}

    def stop(self) -> None:
        """Stop every component (API first), remove the temp dir, release the reaper."""
        for name in reversed(list(self._components)):
            self._components[name].process.stop()
        if self.external_proxy and self.cluster is not None:
            _delete_proxies(self.external_proxy, list(self.cluster.proxies))
        for proxy in self._links.values():
            proxy.stop()
        self._links.clear()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        if self._reaper is not None:
            self._reaper.close()
            self._reaper = None

    def save_logs(self, dest: Path) -> None:
        """Copy the component logs to ``dest`` (for the run report)."""
        if self.root is not None and (self.root / "logs").exists():
            shutil.copytree(self.root / "logs", dest, dirs_exist_ok=True)


def _delete_proxies(url: str, names: list[str]) -> None:
    """Remove this run's proxies from a shared Toxiproxy server (best effort)."""
    import httpx

    from prsm_validate.nemesis.proxy.client import ProxyApiError

    with ProxyClient(url) as proxy:
        for name in names:
            try:
                proxy.delete_proxy(name)
            except (ProxyApiError, httpx.HTTPError) as exc:
                log.warning("could not delete proxy %s on %s: %s", name, url, exc)


def _hs256_signer(secret: str) -> Callable[[dict[str, Any]], str]:
    def sign(claims: dict[str, Any]) -> str:
        import jwt

        return jwt.encode(claims, secret, algorithm="HS256")

    return sign


def detach_reaper(target: LocalTarget) -> None:
    """Let the system outlive the harness (``--prsm-keep``): the reaper exits without a sweep."""
    if target._reaper is not None:
        os.kill(target._reaper.pid, 9)
        target._reaper = None
