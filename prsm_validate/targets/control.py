"""Declared control of a remote target's components (``control:`` in a targets-file entry).

```yaml
control:
  kind: docker                  # docker | command | kubernetes
  network: staging-net          # docker only, optional: cuts by `docker network disconnect`
  ready_timeout_s: 60
  components:
    api: {container: staging-api-1, ready_url: http://127.0.0.1:8000/health}
    edge: staging-edge-1        # docker: the container name
```

``command``: per component, shell commands ``kill``, ``pause``, ``resume``, ``restart`` run
with a timeout, their output kept for the run's logs. ``kubernetes``: per component a pod
``selector`` (kill deletes the pods at once, restart deletes them gracefully and waits for the
deployment) and a ``deployment`` (pause scales it to 0, resume scales it back) through the
official client. The capabilities follow from what is declared: ``kill`` when every component
that can be killed can also be restarted (a kill is undone by a restart), ``pause`` with
``resume``, ``restart``; ``link_faults`` for docker with a network; ``edge`` when an ``edge``
component is declared. Faults still need both opt-ins on a protected target.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from prsm_validate.errors import HarnessError, UsageProblem
from prsm_validate.targets import base

log = logging.getLogger("prsm_validate.control")
KINDS = ("docker", "command", "kubernetes")
ACTIONS = ("kill", "pause", "resume", "restart")


class ControlConfigError(UsageProblem, ValueError):
    """``control:`` is malformed; the message is ``key: problem and fix``."""


class ControlError(HarnessError, RuntimeError):
    """A control action failed (a command exited non-zero, a container is gone...)."""


@dataclass(frozen=True)
class ComponentSpec:
    """How one component is reached by the control."""

    name: str
    target: str = ""  # docker: container name
    commands: dict[str, str] = field(default_factory=dict)  # command: action -> shell command
    selector: str = ""  # kubernetes: pod label selector
    deployment: str = ""  # kubernetes: deployment name
    ready_url: str | None = None


@dataclass(frozen=True)
class ControlSpec:
    """A parsed ``control:`` block."""

    kind: str
    components: dict[str, ComponentSpec]
    network: str | None = None
    namespace: str = "default"
    context: str | None = None
    timeout_s: float = 30.0
    ready_timeout_s: float = 60.0

    @property
    def capabilities(self) -> frozenset[str]:
        """What the declared control can do."""
        found = set()
        actions = self._actions()
        if actions["restart"]:
            found.add(base.RESTART)
        if actions["kill"] and actions["kill"] <= actions["restart"]:
            found.add(base.KILL)
        if actions["pause"] and actions["pause"] <= actions["resume"]:
            found.add(base.PAUSE)
        if self.kind == "docker" and self.network:
            found.add(base.LINK_FAULTS)
        if "edge" in self.components and base.KILL in found:
            found.add(base.EDGE)
        return frozenset(found)

    def _actions(self) -> dict[str, set[str]]:
        acts: dict[str, set[str]] = {a: set() for a in ACTIONS}
        for name, comp in self.components.items():
            if self.kind == "docker":
                possible = set(ACTIONS)
            elif self.kind == "command":
                possible = set(comp.commands)
            else:
                possible = ({"kill", "restart"} if comp.selector else set()) | (
                    {"pause", "resume"} if comp.deployment else set())
            for action in possible:
                acts[action].add(name)
        return acts


def parse_control(raw: Any) -> ControlSpec:
    """Validate a ``control:`` block."""
    if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
        raise ControlConfigError(f"control.kind: give one of {list(KINDS)} (and components)")
    kind = raw["kind"]
    allowed = {"kind", "components", "ready_timeout_s", "timeout_s"} | (
        {"network"} if kind == "docker" else set()) | (
        {"namespace", "context"} if kind == "kubernetes" else set())
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ControlConfigError(f"control.{unknown[0]}: unknown key for kind {kind}; allowed: "
                                 f"{sorted(allowed)}")
    comps = raw.get("components")
    if not isinstance(comps, dict) or not comps:
        raise ControlConfigError("control.components: a mapping of component name -> how to "
                                 "reach it")
    parsed = {str(n): _component(kind, str(n), c) for n, c in comps.items()}
    spec = ControlSpec(kind, parsed, raw.get("network"), str(raw.get("namespace", "default")),
                       raw.get("context"), _positive(raw, "timeout_s", 30.0),
                       _positive(raw, "ready_timeout_s", 60.0))
    if kind == "command":
        for comp in parsed.values():
            if "kill" in comp.commands and "restart" not in comp.commands:
                raise ControlConfigError(f"control.components.{comp.name}.restart: a component "
                                         "that can be killed needs a restart command (the kill "
                                         "is undone by it)")
    return spec


def _positive(raw: dict[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ControlConfigError(f"control.{key}: {value!r} must be a positive number")
    return float(value)


def _component(kind: str, name: str, raw: Any) -> ComponentSpec:
    where = f"control.components.{name}"
    if kind == "docker" and isinstance(raw, str):
        return ComponentSpec(name, target=raw)
    if not isinstance(raw, dict):
        raise ControlConfigError(f"{where}: give a mapping ({_fix(kind)})")
    ready = raw.get("ready_url")
    if ready is not None and not (isinstance(ready, str) and ready.startswith("http")):
        raise ControlConfigError(f"{where}.ready_url: {ready!r} is not an http(s) URL")
    if kind == "docker":
        if not isinstance(raw.get("container"), str) or set(raw) - {"container", "ready_url"}:
            raise ControlConfigError(f"{where}: {_fix(kind)}")
        return ComponentSpec(name, target=raw["container"], ready_url=ready)
    if kind == "command":
        commands = {k: v for k, v in raw.items() if k != "ready_url"}
        if not commands or set(commands) - set(ACTIONS) or not all(
                isinstance(v, str) and v.strip() for v in commands.values()):
            raise ControlConfigError(f"{where}: {_fix(kind)}")
        return ComponentSpec(name, commands=commands, ready_url=ready)
    if set(raw) - {"selector", "deployment", "ready_url"} or not (
            raw.get("selector") or raw.get("deployment")):
        raise ControlConfigError(f"{where}: {_fix(kind)}")
    return ComponentSpec(name, selector=str(raw.get("selector") or ""),
                         deployment=str(raw.get("deployment") or ""), ready_url=ready)


def _fix(kind: str) -> str:
    return {
        "docker": "a container name, or {container: NAME, ready_url: URL}",
        "command": "shell commands {kill, pause, resume, restart: COMMAND} and an optional "
                   "ready_url",
        "kubernetes": "{selector: LABEL=VALUE, deployment: NAME} and an optional ready_url",
    }[kind]


def make_control(spec: ControlSpec) -> Any:
    """The control object of a parsed spec."""
    if spec.kind == "docker":
        return DockerControl(spec)
    if spec.kind == "command":
        return CommandControl(spec)
    from prsm_validate.targets.kubernetes_control import KubernetesControl

    return KubernetesControl(spec)


class _Control:
    """What every declared control shares: component lookup, readiness, an action log."""

    def __init__(self, spec: ControlSpec) -> None:
        self.spec = spec
        self.log: list[str] = []
        self._lock = threading.Lock()

    def components(self) -> list[str]:
        """The declared component names."""
        return list(self.spec.components)

    def component(self, name: str) -> ComponentSpec:
        """The declaration of ``name``."""
        try:
            return self.spec.components[name]
        except KeyError:
            raise ControlError(f"no component {name!r} declared under control.components; "
                               f"declared: {self.components()}") from None

    def note(self, line: str) -> None:
        """Keep one line for the run's logs (``logs/control.log``)."""
        with self._lock:
            self.log.append(f"{time.strftime('%H:%M:%S')} {line}")
        log.info("%s", line)

    def wait_ready(self, name: str) -> None:
        """Poll the component's ``ready_url`` (if declared) until it answers 2xx."""
        from prsm_validate.targets.probes import http_ok

        url = self.component(name).ready_url
        if url is None:
            return
        deadline = time.monotonic() + self.spec.ready_timeout_s
        while not _answers(http_ok, url):
            if time.monotonic() > deadline:
                raise ControlError(f"{name}: not ready at {url} within "
                                   f"{self.spec.ready_timeout_s:g} s after its restart")
            time.sleep(0.1)


def _answers(probe: Any, url: str) -> bool:
    try:  # refused, reset or dropped while the component starts: not ready yet
        return bool(probe(url))
    except Exception:
        return False


class DockerControl(_Control):
    """Containers named in ``components``, through the Docker SDK (kill, pause, unpause,
    restart; ``docker network disconnect`` for a cut)."""

    def __init__(self, spec: ControlSpec) -> None:
        super().__init__(spec)
        import docker

        self.client = docker.from_env()

    def _container(self, name: str) -> Any:
        import docker.errors

        try:
            return self.client.containers.get(self.component(name).target)
        except docker.errors.NotFound:
            raise ControlError(f"{name}: container {self.component(name).target!r} not "
                               "found") from None

    def kill(self, component: str) -> None:
        """``docker kill`` (SIGKILL)."""
        self.note(f"docker kill {self.component(component).target}")
        self._container(component).kill()

    def pause(self, component: str) -> None:
        """``docker pause``."""
        self.note(f"docker pause {self.component(component).target}")
        self._container(component).pause()

    def resume(self, component: str) -> None:
        """``docker unpause``."""
        self.note(f"docker unpause {self.component(component).target}")
        self._container(component).unpause()

    def restart(self, component: str) -> None:
        """Start a stopped container or restart a running one; wait until it is ready."""
        container = self._container(component)
        container.reload()
        if container.status == "paused":
            container.unpause()
        self.note(f"docker {'restart' if container.status == 'running' else 'start'} "
                  f"{container.name}")
        container.restart(timeout=5) if container.status == "running" else container.start()
        self.wait_ready(component)

    def cut_link(self, source: str, dest: str) -> None:
        """Disconnect ``source`` from the declared network (it loses every peer)."""
        self.note(f"docker network disconnect {self.spec.network} "
                  f"{self.component(source).target}")
        self.client.networks.get(self.spec.network).disconnect(self._container(source),
                                                               force=True)

    def heal_link(self, source: str, dest: str) -> None:
        """Reconnect ``source`` to the declared network under its component name."""
        self.note(f"docker network connect {self.spec.network} {self.component(source).target}")
        self.client.networks.get(self.spec.network).connect(self._container(source),
                                                            aliases=[source])


class CommandControl(_Control):
    """Shell commands per component and action, run with a timeout; output logged."""

    def _run(self, component: str, action: str) -> None:
        command = self.component(component).commands.get(action)
        if command is None:
            raise ControlError(f"{component}: no {action} command declared under "
                               f"control.components.{component}")
        self.note(f"{component} {action}: $ {command}")
        try:
            done = subprocess.run(command, shell=True, capture_output=True, text=True,
                                  timeout=self.spec.timeout_s)
        except subprocess.TimeoutExpired:
            raise ControlError(f"{component} {action}: command did not finish within "
                               f"{self.spec.timeout_s:g} s: {command}") from None
        for line in (done.stdout + done.stderr).splitlines()[-20:]:
            self.note(f"  {line}")
        if done.returncode != 0:
            raise ControlError(f"{component} {action}: command exited {done.returncode}: "
                               f"{command}")

    def kill(self, component: str) -> None:
        """Run the component's kill command."""
        self._run(component, "kill")

    def pause(self, component: str) -> None:
        """Run the component's pause command."""
        self._run(component, "pause")

    def resume(self, component: str) -> None:
        """Run the component's resume command."""
        self._run(component, "resume")

    def restart(self, component: str) -> None:
        """Run the component's restart command, then wait until it is ready."""
        self._run(component, "restart")
        self.wait_ready(component)
