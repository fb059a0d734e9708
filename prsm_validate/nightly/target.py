"""The nightly's target, outside pytest: the same kinds and the same targets file as the
plugin (``local``, ``docker``, named remote targets), and the same protection rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prsm_validate.errors import UsageProblem
from prsm_validate.targets.base import fault_permission
from prsm_validate.targets.config import TargetSpec, default_targets_file, resolve_target


class TargetRefused(UsageProblem, ValueError):
    """The target cannot be used for a nightly (unknown, malformed, or protected)."""


def resolve(name: str, targets_file: Path | None, allow_destructive: bool) -> TargetSpec:
    """The target's spec; raises :class:`TargetRefused` naming the problem and the fix."""
    from prsm_validate.targets.config import TargetConfigError
    from prsm_validate.targets.local import LocalTarget

    path = targets_file or default_targets_file(Path.cwd())
    try:
        spec = resolve_target(name, path, LocalTarget.capabilities)
        if spec.kind == "remote":
            spec.credentials()
    except TargetConfigError as exc:
        raise TargetRefused(str(exc)) from None
    reason = fault_permission(spec.protected, spec.allow_chaos, allow_destructive, spec.name)
    if reason:  # a nightly is chaos from start to end
        raise TargetRefused(reason.replace("--prsm-allow-destructive", "--allow-destructive"))
    return spec


def make(spec: TargetSpec, nodes: int) -> Any:
    """A target object (``start()`` / ``stop()``) for ``spec``."""
    if spec.kind == "local":
        from prsm_validate.targets.local import LocalOptions, LocalTarget

        return LocalTarget(LocalOptions(nodes=nodes))
    if spec.kind == "docker":
        from prsm_validate.targets.docker import DockerTarget

        return DockerTarget(nodes=nodes)
    if spec.kind == "remote":
        from prsm_validate.targets.remote import RemoteTarget

        return RemoteTarget(spec)
    raise TargetRefused(f"target {spec.name!r}: kind {spec.kind!r} cannot run a nightly yet")
