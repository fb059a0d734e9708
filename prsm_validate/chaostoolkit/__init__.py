"""Chaos Toolkit provider: probes and actions for ``chaos run`` experiments (``scenarios/chaos``).

Use in an experiment as ``{"type": "python", "module": "prsm_validate.chaostoolkit",
"func": "<name>", "arguments": {...}}``. Which system they act on comes from the experiment's
configuration (or the environment):

- ``prsm_up`` (env ``PRSM_UP``): the state file ``prsm-validate up`` prints; probes and faults
  then run inside the up process, which can also restart what it started;
- ``prsm_target`` (env ``PRSM_TARGET``), with ``prsm_targets_file`` and
  ``prsm_allow_destructive``: a remote target of the targets file, reached from the chaos
  process itself (faults only as its capabilities and protection allow).

Probes return plain data with ``verdict`` ``pass`` | ``fail`` | ``unknown``; a tolerance such as
``{"type": "regex", "target": "verdict", "pattern": "^pass$"}`` accepts only a pass. Actions
return the fault's id; ``heal`` undoes every fault in force (use it in ``rollbacks``).
Component names are the target's (``node-2``, ``edge``, ``pipeline``, ``nats``...) or
``primary``: the primary agreed by f+1 replicas at that moment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["byzantine", "consensus_safety", "heal", "health", "kill", "link_blackhole",
           "link_latency", "partition", "pause", "restart", "sla_snapshot", "telemetry_lag"]
_CACHE: dict[tuple[str, str], Any] = {}
Configuration = dict[str, Any] | None


def _controller(configuration: Configuration) -> Any:
    """The controller the configuration names (one per system for the chaos process)."""
    from prsm_validate.chaostoolkit.controller import ControlError

    config = configuration or {}
    state = config.get("prsm_up") or os.environ.get("PRSM_UP")
    if state:
        return _cached(("up", str(state)), lambda: _remote(Path(str(state))))
    target = config.get("prsm_target") or os.environ.get("PRSM_TARGET")
    if target:
        return _cached(("target", str(target)), lambda: _in_process(str(target), config))
    raise ControlError("no system named: set configuration prsm_up (or PRSM_UP) to the state "
                       "file prsm-validate up prints, or prsm_target to a remote target")


def _cached(key: tuple[str, str], make: Any) -> Any:
    if key not in _CACHE:
        _CACHE[key] = make()
    return _CACHE[key]


def _remote(state: Path) -> Any:
    from prsm_validate.chaostoolkit.server import RemoteController

    return RemoteController(state)


def _in_process(target: str, config: dict[str, Any]) -> Any:
    from prsm_validate.chaostoolkit.controller import ControlError, Controller
    from prsm_validate.nightly.target import TargetRefused, resolve
    from prsm_validate.targets.remote import RemoteTarget

    file = config.get("prsm_targets_file")
    try:
        spec = resolve(target, Path(file) if file else None,
                       str(config.get("prsm_allow_destructive", "")).lower() == "true")
    except TargetRefused as exc:
        raise ControlError(str(exc)) from None
    if spec.kind != "remote":
        raise ControlError(f"target {target!r} is kind {spec.kind}: start it with "
                           "prsm-validate up and set prsm_up instead")
    return Controller(RemoteTarget(spec).start())


# ---- probes ------------------------------------------------------------------------------


def health(configuration: Configuration = None) -> dict[str, Any]:
    """The API's ``/health``: ``pass`` when it answers 200 (components listed)."""
    return _controller(configuration).health()


def consensus_safety(catch_up_s: float = 20.0, configuration: Configuration = None
                     ) -> dict[str, Any]:
    """Consensus agreement of every replica's log plus ledger conservation on each replica."""
    return _controller(configuration).consensus(catch_up_s=catch_up_s)


def telemetry_lag(bound_s: float = 5.0, configuration: Configuration = None
                  ) -> dict[str, Any]:
    """Edge -> database lag: p99 publish-to-land of the last 10 s must be under ``bound_s``."""
    return _controller(configuration).telemetry_lag(bound_s=bound_s)


def sla_snapshot(duration_s: float = 3.0, rate: float = 20.0,
                 thresholds: list[str] | None = None, configuration: Configuration = None
                 ) -> dict[str, Any]:
    """A short fixed-rate load on the API judged by SLA thresholds (k6 syntax)."""
    return _controller(configuration).sla_snapshot(duration_s=duration_s, rate=rate,
                                                   thresholds=thresholds)


# ---- actions -----------------------------------------------------------------------------


def kill(component: str, configuration: Configuration = None) -> dict[str, Any]:
    """SIGKILL a component (restarted by ``heal``)."""
    return _controller(configuration).fault("kill", component=component)


def pause(component: str, configuration: Configuration = None) -> dict[str, Any]:
    """SIGSTOP a component (SIGCONT by ``heal``)."""
    return _controller(configuration).fault("pause", component=component)


def restart(component: str, configuration: Configuration = None) -> dict[str, Any]:
    """Stop and start a component, waiting until it is ready."""
    return _controller(configuration).fault("restart", component=component)


def partition(shape: str = "isolate", nodes: list[str] | None = None,
              options: dict[str, Any] | None = None, configuration: Configuration = None
              ) -> dict[str, Any]:
    """Partition the replicas by shape (isolate, isolate-primary, halves, majority-minority,
    majorities-ring, bridge, explicit with ``options: {"grudge": ...}``)."""
    return _controller(configuration).fault("partition", shape=shape, nodes=nodes,
                                            options=options or {})


def link_latency(src: str, dst: str, ms: int = 200, jitter: int = 0,
                 configuration: Configuration = None) -> dict[str, Any]:
    """Delay the link ``src -> dst``."""
    return _controller(configuration).fault("latency", src=src, dst=dst, ms=ms, jitter=jitter)


def link_blackhole(src: str, dst: str, configuration: Configuration = None) -> dict[str, Any]:
    """Drop everything on the link ``src -> dst`` (connections held open)."""
    return _controller(configuration).fault("blackhole", src=src, dst=dst)


def byzantine(node: str, modes: list[str] | None = None, configuration: Configuration = None
              ) -> dict[str, Any]:
    """Restart a replica with Byzantine behaviours (``equivocate``, ``silence:1,2`` ...)."""
    return _controller(configuration).fault("byzantine", node=node,
                                            modes=modes or ["equivocate"])


def heal(fault_id: str | None = None, configuration: Configuration = None) -> dict[str, Any]:
    """Undo one fault, or every fault still in force."""
    return _controller(configuration).heal(fault_id=fault_id)
