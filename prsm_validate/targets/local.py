"""The ``local`` target: the whole reference system as child processes on loopback, and its
control.

PostgreSQL, Redis and NATS (JetStream) are the real servers shipped in PyPI wheels; the API is
``prsm-ref api``, ordering FTNS transfers and tasks through a PBFT cluster of ``prsm-ref node``
processes; a fault proxy process (``prsm-validate proxy``) sits on every node-to-node and
API-to-node link, and on the pipeline's link to the broker: one mechanism cuts every link.
Everything gets free ports and a private temporary directory; each process runs in its own
process group; a reaper process cleans up if the harness dies.

How it starts is :mod:`prsm_validate.targets.local_launch`; this module is what a running
system lets the harness do: the control protocols of :mod:`prsm_validate.targets.base`
(processes, links, Byzantine restarts, twins, wipes, logs, keeping it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prsm_validate.faultproxy.client import ProxyClient
from prsm_validate.nemesis.partitions import Partition, heal_link, link_name
from prsm_validate.targets import base, probes
from prsm_validate.targets.cluster import ClusterLayout, node_index
from prsm_validate.targets.local_launch import (
    GENESIS_BALANCE,
    TOXIPROXY_ENV,
    USERNAME,
    Component,
    LocalOptions,
    LocalSystem,
    critical_path,
)
from prsm_validate.targets.processes import ManagedProcess, StartupError
from reference_system.ports import free_ports

__all__ = ["GENESIS_BALANCE", "TOXIPROXY_ENV", "USERNAME", "LocalOptions", "LocalTarget",
           "critical_path"]


@dataclass
class LocalTarget:
    """Starts and stops the reference system on this machine, and controls it."""

    options: LocalOptions = field(default_factory=LocalOptions)
    name: str = "local"
    capabilities: frozenset[str] = base.LOCAL_CAPABILITIES
    system: LocalSystem | None = None
    deployment: base.Deployment | None = None
    _twin_links: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def start(self) -> base.Deployment:
        """Start every component and wait until all are ready."""
        self.system = LocalSystem(self.options, self.name, self.capabilities)
        self.deployment = self.system.start(control=self)
        return self.deployment

    @property
    def root(self) -> Path | None:
        """The system's private folder (logs, data, cluster files) while it runs."""
        return self.system.root if self.system else None

    @property
    def ready_s(self) -> float | None:
        """Seconds the start took (None before it finished)."""
        return self.system.ready_s if self.system else None

    @property
    def cluster(self) -> ClusterLayout | None:
        """The consensus cluster's layout (keys, config, link proxies)."""
        return self.system.cluster if self.system else None

    @property
    def proxy_url(self) -> str | None:
        """The fault proxy's API (the embedded one, or ``PRSM_TOXIPROXY_URL``)."""
        return self.system.proxy_url if self.system else None

    @property
    def reaper_pid(self) -> int | None:
        """The process that cleans up if the harness dies (None once detached)."""
        return self.system.reaper.pid if self.system and self.system.reaper else None

    def timeline(self) -> dict[str, tuple[float, float | None]]:
        """Per component: (spawned, ready) seconds from the start (StartupTimeline)."""
        return self.system.timeline() if self.system else {}

    def _running(self) -> LocalSystem:
        if self.system is None:
            raise StartupError("the local target is not running: start it first")
        return self.system

    def _cluster(self) -> ClusterLayout:
        cluster = self._running().cluster
        if cluster is None:
            raise StartupError("the local target runs no consensus cluster")
        return cluster

    # ProcessControl -----------------------------------------------------------------------

    def components(self) -> list[str]:
        """Names of the components this target runs."""
        return list(self._running().components)

    def process(self, component: str) -> ManagedProcess:
        """The managed process of ``component``."""
        try:
            return self._running().components[component].process
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
        self._running().wait(component)
        if self.deployment is not None and proc.pid is not None:
            self.deployment.pids[component] = proc.pid

    def redeploy(self, component: str, env: Mapping[str, str]) -> None:
        """Restart ``component`` with ``env`` added to its environment (a new release or
        configuration rolled onto it), then wait until it is ready."""
        proc = self.process(component)
        proc.env = {**proc.env, **env}
        self.restart(component)

    def restart_node(self, name: str, byzantine: Sequence[str] = ()) -> None:
        """Restart replica ``name`` with the given Byzantine behaviours (none = honest)."""
        proc = self.process(name)
        proc.stop()
        proc.argv = self._cluster().node_argv(node_index(name), byzantine)
        proc.start()
        self._running().wait(name)

    def wipe_node(self, name: str) -> None:
        """Kill replica ``name``, delete its durable log, start it empty (it must catch up
        by state transfer)."""
        proc = self.process(name)
        proc.kill()
        shutil.rmtree(self._cluster().data_dir(node_index(name)), ignore_errors=True)
        proc.start()
        self._running().wait(name)

    def start_twin(self, name: str) -> tuple[str, str]:
        """Start a second process with replica ``name``'s identity and history (a copy of its
        durable log) on its own addresses, its messages to the other replicas on its own
        link proxies (``<name>-twin-to-<peer>``); returns (component name, listen address)."""
        cluster, i = self._cluster(), node_index(name)
        tcp, http, *ports = free_ports(2 + cluster.n - 1)
        listen, twin = f"127.0.0.1:{tcp}", f"{name}-twin"
        # The twin starts from the original's durable log as of now (a torn last line is
        # ignored on replay): one replica, two processes, the same history up to the fork.
        shutil.rmtree(cluster.data_dir(i, twin=True), ignore_errors=True)
        if cluster.data_dir(i).exists():
            shutil.copytree(cluster.data_dir(i), cluster.data_dir(i, twin=True))
        links = cluster.twin_links(i, ports)
        with ProxyClient(self._proxy_url()) as client:
            client.populate([{"name": link, "listen": p.listen, "upstream": p.upstream,
                              "enabled": True} for link, p in links.items()])
        self._twin_links[twin] = list(links)
        argv = cluster.node_argv(i, listen=listen, http=f"127.0.0.1:{http}",
                                 config=cluster.twin_config(i, links))
        proc = self._running().spawn(twin, argv)
        url = f"http://127.0.0.1:{http}/status"
        self._running().components[twin] = Component(proc, lambda: probes.http_ok(url))
        self._running().wait(twin)
        return twin, listen

    def stop_twin(self, twin: str) -> None:
        """Stop a twin started by :meth:`start_twin`, delete its link proxies, forget it."""
        component = self._running().components.pop(twin, None)
        if component is not None:
            component.process.stop()
        links = self._twin_links.pop(twin, [])
        if links:
            with ProxyClient(self._proxy_url()) as client:
                for link in links:
                    client.delete_proxy(link)

    def links(self) -> list[tuple[str, str]]:
        """The links this target can cut, as (source, destination)."""
        return list(self._running().links)

    def cut_link(self, source: str, dest: str) -> None:
        """Partition ``source`` from ``dest``: both directions of their connection held, as
        a partition of the cluster's links holds them."""
        src, dst = self._link_ends(source, dest)
        with ProxyClient(self._proxy_url()) as client:
            Partition(client, {dst: [src]}).apply()

    def heal_link(self, source: str, dest: str) -> None:
        """Heal the link between ``source`` and ``dest``."""
        with ProxyClient(self._proxy_url()) as client:
            heal_link(client, link_name(*self._link_ends(source, dest)))

    def _link_ends(self, source: str, dest: str) -> tuple[str, str]:
        for link in ((source, dest), (dest, source)):
            if link in self._running().links:
                return link
        raise KeyError(f"no controllable link {source}->{dest}; have {self.links()}")

    def _proxy_url(self) -> str:
        if self._running().proxy_url is None:
            raise StartupError("the fault proxy is not running: the target was not started")
        return self._running().proxy_url

    def detach(self) -> None:
        """Let the system outlive the harness (``--prsm-keep``): the reaper exits without a
        sweep."""
        if self.system is not None and self.system.reaper is not None:
            os.kill(self.system.reaper.pid, 9)
            self.system.reaper = None

    def pids(self) -> dict[str, int]:
        """Current process ids by component."""
        return self.system.pids() if self.system else {}

    def stop(self) -> None:
        """Stop every component, remove the private folder, release the reaper."""
        if self.system is not None:
            self.system.stop()

    def save_logs(self, dest: Path) -> None:
        """Copy the component logs to ``dest`` (for the run report)."""
        if self.root is not None and (self.root / "logs").exists():
            shutil.copytree(self.root / "logs", dest, dirs_exist_ok=True)
