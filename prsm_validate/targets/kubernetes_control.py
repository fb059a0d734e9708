"""``control: {kind: kubernetes}``: faults on a cluster through the official ``kubernetes``
client. Kill deletes a component's pods at once (grace period 0; the deployment starts new
ones); restart deletes them gracefully and waits until the deployment is available again;
pause scales the deployment to 0 and resume scales it back to the replicas it had (Kubernetes
has no SIGSTOP: a paused component is absent, not frozen).

Untested against a live cluster (none can run where this was written); the unit tests drive it
with the client's own models.
"""

from __future__ import annotations

import time
from typing import Any

from prsm_validate.targets.control import ControlError, ControlSpec, _Control


class KubernetesControl(_Control):
    """Pods by label selector and deployments by name, in one namespace."""

    def __init__(self, spec: ControlSpec, core: Any = None, apps: Any = None) -> None:
        super().__init__(spec)
        if core is None or apps is None:
            from kubernetes import client, config

            config.load_kube_config(context=spec.context)
            core, apps = client.CoreV1Api(), client.AppsV1Api()
        self.core, self.apps = core, apps
        self._replicas: dict[str, int] = {}
        self._killed: set[str] = set()  # their deployment is already replacing the pods

    def _pods(self, component: str) -> list[str]:
        selector = self.component(component).selector
        if not selector:
            raise ControlError(f"{component}: no pod selector declared")
        pods = self.core.list_namespaced_pod(self.spec.namespace, label_selector=selector)
        return [p.metadata.name for p in pods.items]

    def _delete_pods(self, component: str, grace_s: int | None) -> None:
        names = self._pods(component)
        if not names:
            raise ControlError(f"{component}: no pod matches {self.component(component).selector}"
                               f" in namespace {self.spec.namespace}")
        for name in names:
            self.note(f"kubectl delete pod {name} -n {self.spec.namespace}"
                      + (f" --grace-period={grace_s}" if grace_s is not None else ""))
            self.core.delete_namespaced_pod(name, self.spec.namespace,
                                            grace_period_seconds=grace_s)

    def kill(self, component: str) -> None:
        """Delete the component's pods immediately."""
        self._delete_pods(component, 0)
        self._killed.add(component)

    def restart(self, component: str) -> None:
        """Delete the pods gracefully (after a kill: only wait for their replacements); wait
        for the deployment and the ready URL."""
        if component in self._killed:
            self._killed.discard(component)
        else:
            self._delete_pods(component, None)
        self._wait_available(component)
        self.wait_ready(component)

    def pause(self, component: str) -> None:
        """Scale the component's deployment to 0, remembering its replicas."""
        name = self._deployment(component)
        scale = self.apps.read_namespaced_deployment_scale(name, self.spec.namespace)
        self._replicas[component] = int(scale.spec.replicas or 1)
        self._scale(component, 0)

    def resume(self, component: str) -> None:
        """Scale the deployment back to the replicas it had before :meth:`pause`."""
        self._scale(component, self._replicas.pop(component, 1))
        self._wait_available(component)
        self.wait_ready(component)

    def _deployment(self, component: str) -> str:
        name = self.component(component).deployment
        if not name:
            raise ControlError(f"{component}: no deployment declared (pause scales it to 0)")
        return name

    def _scale(self, component: str, replicas: int) -> None:
        name = self._deployment(component)
        self.note(f"kubectl scale deployment {name} -n {self.spec.namespace} "
                  f"--replicas={replicas}")
        self.apps.patch_namespaced_deployment_scale(name, self.spec.namespace,
                                                    {"spec": {"replicas": replicas}})

    def _wait_available(self, component: str) -> None:
        name = self.component(component).deployment
        if not name:
            return
        deadline = time.monotonic() + self.spec.ready_timeout_s
        while True:
            status = self.apps.read_namespaced_deployment_status(name, self.spec.namespace)
            wanted = status.spec.replicas or 0
            if (status.status.available_replicas or 0) >= wanted:
                return
            if time.monotonic() > deadline:
                raise ControlError(f"{component}: deployment {name} not available within "
                                   f"{self.spec.ready_timeout_s:g} s")
            time.sleep(0.5)
