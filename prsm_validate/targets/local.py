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
from collections.abc import Callable, Mapping, Sequence
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
SECOND_USERNAME = "validator-b"  # the two-user authorization scenarios' other user
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
    "gateway": ("api",), "pipeline": ("nats", "postgres"), "edge": ("nats",),
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
    _started: float = 0.0
    _spawned: dict[str, float] = field(default_factory=dict)
    _links_ready: tuple[float, float] | None = None
    _background: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1))
    _watchers: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(32))
    _readiness: dict[str, Any] = field(default_factory=dict)
    proxy_url: str | None = None
    external_proxy: str | None = None  # a real Toxiproxy server (PRSM_TOXIPROXY_URL)

    def start(self) -> base.Deployment:
        """Start every component and wait until all are ready."""
        started = self._started = time.monotonic()
        self._reaper = Reaper()
        self.root = Path(tempfile.mkdtemp(prefix="prsm-local-"))
        self.root.chmod(0o755)  # the unprivileged database user must traverse it
        self._reaper.watch_path(self.root)
        try:
            deployment = self._launch()
        except BaseException:
            self._background.shutdown(wait=True)  # a half-made copy is then removed too
            self._watchers.shutdown(wait=False, cancel_futures=True)
            self.stop()
            raise
        self.ready_s = time.monotonic() - started
        self._deployment = deployment
        return deployment

    def _launch(self) -> base.Deployment:
        assert self.root is not None
        (self.root / "logs").mkdir()
        (pg_port, redis_port, nats_port, nats_mon, api_port, edge_port, pipe_port,
         faults_port, gateway_port, *more) = free_ports(
            9 + self.options.api_replicas + self.options.task_workers)
        replica_ports, worker_ports = more[:self.options.api_replicas], more[
            self.options.api_replicas:]
        password, second = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
        jwt_secret = secrets.token_urlsafe(48)
        dsn = f"postgresql://postgres@127.0.0.1:{pg_port}/postgres"
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        nats_url = f"nats://127.0.0.1:{nats_port}"
        api_url = f"http://127.0.0.1:{api_port}"
        # The longest first, each waiting for what it needs by itself: the database's data
        # copy runs in the background; the fault proxy must be up before the cluster's link
        # proxies are made on it; the API replicas import the most (`bench startup` shows
        # each component's ready time and the critical path).
        postgres = self._background.submit(self._add_postgres, pg_port, dsn)
        self._add_faults(faults_port)
        self._build_cluster()
        edge_url = f"http://127.0.0.1:{edge_port}"
        users = {USERNAME: password, SECOND_USERNAME: second}
        api_env = self._api_env(dsn, redis_url, nats_url, users, jwt_secret, edge_url)
        self._add_api("api", api_port, api_env)
        for index, port in enumerate(replica_ports, 1):
            self._add_api(f"api-{index}", port, api_env)
        self._add_nodes()
        self._add_redis(redis_port)
        self._add_nats(nats_port, nats_mon)
        self._add_edge(edge_port, nats_url)
        self._add_pipeline(pipe_port, self._link("pipeline", "nats", nats_port), dsn)
        for index, port in enumerate(worker_ports):
            self._add_worker(f"worker-{index}", port, dsn)
        self._add_gateway(gateway_port, [api_port, *replica_ports])
        self._add_link_proxies()
        postgres.result()  # its copy failed: that error, not a missing component
        self._wait_all()
        return base.Deployment(
            target=self.name, kind="local", api_url=api_url, profile="reference",
            capabilities=self.capabilities, credentials=base.Credentials(USERNAME, password),
            second_credentials=base.Credentials(SECOND_USERNAME, second), protected=False,
            allow_chaos=True, postgres_dsn=dsn, redis_url=redis_url,
            nats_url=nats_url, pids=self.pids(), log_dir=str(self.root / "logs"), control=self,
            token_signer=_hs256_signer(jwt_secret), nodes=self._node_endpoints(),
            secret_values={"jwt_secret": jwt_secret},
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
        self._register("faults", Component(proc, lambda: probes.http_ok(url)))

    def _build_cluster(self) -> None:
        assert self.root is not None
        self.cluster = build_cluster(self.root / "cluster", self.options.nodes,
                                     {USERNAME: GENESIS_BALANCE})

    def _add_nodes(self) -> None:
        assert self.cluster is not None
        for i, name in enumerate(self.cluster.names):
            self._add_node(i, name)

    def _add_link_proxies(self) -> None:
        assert self.cluster is not None and self.proxy_url is not None
        if "faults" in self._components:
            self._readiness["faults"].result()
        began = self._clock()
        with ProxyClient(self.proxy_url) as proxy:
            self.cluster.create_proxies(proxy)
        self._links_ready = (began, self._clock())

    def _add_node(self, i: int, name: str, byzantine: tuple[str, ...] = ()) -> None:
        assert self.cluster is not None
        proc = self._process(name, self.cluster.node_argv(i, byzantine))
        url = f"{self.cluster.http_url(i)}/status"
        self._register(name, Component(proc, lambda: probes.http_ok(url)))

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
        self._spawned[name] = self._clock()
        return proc

    def _clock(self) -> float:
        return time.monotonic() - self._started

    def timeline(self) -> dict[str, tuple[float, float | None]]:
        """Per component: (spawned, ready) seconds from the start; the link proxies count as
        the component ``links`` (ready when all were created on the fault proxy)."""
        rows = {name: (c.spawned_s, c.ready_s) for name, c in self._components.items()}
        if self._links_ready is not None:
            rows["links"] = (self._links_ready[0], self._links_ready[1])
        return rows

    def _add_postgres(self, port: int, dsn: str) -> None:
        assert self.root is not None
        data = embedded.copy_postgres_data(self.root / "postgres")
        argv = [embedded.postgres_bin_dir() / "postgres", "-D", data, "-h", "127.0.0.1",
                "-p", port, "-k", data, "-c", "max_connections=100",
                "-c", "shared_buffers=64MB"]
        proc = self._process("postgres", argv, user=embedded.server_user())
        self._register("postgres", Component(proc, lambda: probes.postgres_query(dsn)))

    def _add_redis(self, port: int) -> None:
        assert self.root is not None
        argv = [embedded.redis_server_bin(), "--port", port, "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.root, "--daemonize", "no"]
        proc = self._process("redis", argv)
        self._register("redis", Component(proc, lambda: probes.redis_ping("127.0.0.1",
                                                                           port)))

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
        self._register("nats", Component(proc, lambda: probes.http_ok(url)))

    def _add_edge(self, port: int, nats_url: str) -> None:
        assert self.root is not None
        argv = [sys.executable, "-m", "reference_system.cli", "edge", "--nats", nats_url,
                "--state-dir", self.root / "edge-state", "--port", port,
                "--devices", self.options.edge_devices,
                "--interval-ms", self.options.edge_interval_ms]
        proc = self._process("edge", argv)
        url = f"http://127.0.0.1:{port}/health"
        self._register("edge", Component(proc, lambda: probes.http_ok(url)))

    def _add_pipeline(self, port: int, nats_url: str, dsn: str) -> None:
        argv = [sys.executable, "-m", "reference_system.cli", "pipeline", "--nats", nats_url,
                "--postgres", dsn, "--port", port]
        proc = self._process("pipeline", argv)
        url = f"http://127.0.0.1:{port}/health"
        self._register("pipeline", Component(proc, lambda: probes.http_ok(url)))

    def _add_worker(self, name: str, port: int, dsn: str) -> None:
        argv = [sys.executable, "-m", "reference_system.cli", "worker", "--postgres", dsn,
                "--name", name, "--port", port]
        proc = self._process(name, argv)
        url = f"http://127.0.0.1:{port}/health"
        self._register(name, Component(proc, lambda: probes.http_ok(url)))

    def _api_env(self, dsn: str, redis_url: str, nats_url: str, passwords: dict[str, str],
                 jwt_secret: str, edge_url: str) -> dict[str, str]:
        from reference_system.passwords import hash_password

        env = {
            "PRSM_REF_POSTGRES_DSN": dsn, "PRSM_REF_REDIS_URL": redis_url,
            "PRSM_REF_NATS_URL": nats_url, "PRSM_REF_JWT_SECRET": jwt_secret,
            "PRSM_REF_USERS": json.dumps({u: hash_password(p) for u, p in passwords.items()}),
            "PRSM_REF_L1_CAPACITY": str(self.options.l1_capacity),
            "PRSM_REF_EDGE_URL": edge_url,
            # the worker processes run the tasks (failover by lease when one is killed)
            "PRSM_REF_TASK_WORKERS": "0" if self.options.task_workers else "2",
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
        self._register(name, Component(proc, lambda: probes.http_component_up(
            url, "consensus")))

    def _add_gateway(self, port: int, api_ports: list[int]) -> None:
        """The load balancer in front of every API replica (the highly available entry)."""
        argv = [sys.executable, "-m", "prsm_validate.targets.gateway", "--port", port]
        for api_port in api_ports:
            argv += ["--backend", f"127.0.0.1:{api_port}"]
        proc = self._process("gateway", argv)
        url = f"http://127.0.0.1:{port}/health"
        self._register("gateway", Component(proc, lambda: probes.http_ok(url)))

    def _register(self, name: str, component: Component) -> None:
        """Add a started component; while the target starts, its readiness is watched at once."""
        self._components[name] = component
        if self.ready_s is None:
            self._watch(name)

    def _watch(self, name: str) -> None:
        """Start waiting for ``name`` now, so its ready time is seen when it happens."""
        self._readiness[name] = self._watchers.submit(self._wait, name)

    def _wait_all(self) -> None:
        for name in self._components:
            if name not in self._readiness:
                self._watch(name)
        waits = list(self._readiness.values())
        errors = [w.exception() for w in waits if w.exception() is not None]
        self._watchers.shutdown(wait=True)
        if errors:
            raise StartupError("\n\n".join(str(e) for e in errors))

    def _wait(self, name: str) -> None:
        component = self._components[name]
        wait_ready(component.process, component.probe, self.options.ready_timeout_s)
        if component.ready_s is None:  # the first time: the start-up timeline
            component.spawned_s = self._spawned.get(name, 0.0)
            component.ready_s = self._clock()

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

    def redeploy(self, component: str, env: Mapping[str, str]) -> None:
        """Restart ``component`` with ``env`` added to its environment (a new release or
        configuration rolled onto it), then wait until it is ready."""
        proc = self.process(component)
        proc.env = {**proc.env, **env}
        self.restart(component)

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

    def detach(self) -> None:
        """Let the system outlive the harness (``--prsm-keep``): the reaper exits without a
        sweep."""
        if self._reaper is not None:
            os.kill(self._reaper.pid, 9)
            self._reaper = None

    def pids(self) -> dict[str, int]:
        """Current process ids by component."""
        return {n: c.process.pid for n, c in self._components.items() if c.process.pid}

    def stop(self) -> None:
        """Stop every component (API first, the servers it uses last), remove the temp dir,
        release the reaper."""
        self._background.shutdown(wait=True)
        names = list(reversed(self._components))  # the database may be added late
        for name in sorted(names, key=lambda n: (n in INFRASTRUCTURE, names.index(n))):
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


