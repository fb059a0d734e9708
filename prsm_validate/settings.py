"""The run's settings from ``--prsm-*`` options, ``prsm_*`` ini keys and defaults."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from prsm_validate.targets.base import LOCAL_CAPABILITIES
from prsm_validate.targets.config import (
    TargetConfigError,
    TargetSpec,
    default_targets_file,
    resolve_target,
)

OPTIONS = (
    # (name, kind, default, help)
    ("target", str, "local",
     "target: local (default), docker, or a name from the targets file"),
    ("targets-file", str, None, "targets file (default prsm-targets.yaml at the rootdir, "
     "else fixtures/targets.yaml)"),
    ("nodes", int, 4, "PBFT cluster size for targets the harness starts (default 4, f=(N-1)//3)"),
    ("seed", int, None, "seed for workloads and fault schedules (default: random, printed)"),
    ("gate", str, None, "run milestone gate M and write its verdict"),
    ("report", str, "reports", "report root folder (default reports/)"),
)


@dataclass(frozen=True)
class RunSettings:
    """Everything the plugin decided at configure time."""

    spec: TargetSpec
    targets_file: Path | None
    nodes: int
    seed: int
    report_root: Path
    report_explicit: bool
    keep: bool
    allow_destructive: bool
    gate: str | None


def _value(config: pytest.Config, name: str, kind: type, default: object) -> object:
    dest = "prsm_" + name.replace("-", "_")
    value = config.getoption(dest)
    if value is None:
        raw = config.getini(dest)
        value = kind(raw) if raw not in (None, "") else default
    return value


def read_settings(config: pytest.Config, seed: int | None = None) -> RunSettings:
    """Validate options and the targets file; mistakes become ``pytest.UsageError``."""
    rootdir = Path(config.rootpath)
    nodes = int(_value(config, "nodes", int, 4))  # type: ignore[arg-type]
    if nodes < 4:
        raise pytest.UsageError(f"--prsm-nodes={nodes}: PBFT needs at least 4 nodes (3f+1, f>=1)")
    file_opt = _value(config, "targets-file", str, None)
    targets_file = Path(str(file_opt)) if file_opt else default_targets_file(rootdir)
    if file_opt and not targets_file.is_absolute():
        targets_file = Path(config.invocation_params.dir) / targets_file
    if file_opt and not targets_file.is_file():
        raise pytest.UsageError(
            f"--prsm-targets-file={file_opt}: {targets_file} is not a file; give an existing "
            "YAML targets file, or leave the option out to use prsm-targets.yaml at the "
            "rootdir (else fixtures/targets.yaml)")
    spec = _resolve(str(_value(config, "target", str, "local")), targets_file)
    report_opt = config.getoption("prsm_report")
    report_root = Path(str(_value(config, "report", str, "reports")))
    if not report_root.is_absolute():
        base = config.invocation_params.dir if report_opt else rootdir
        report_root = Path(base) / report_root
    chosen_seed = seed if seed is not None else _value(config, "seed", int, None)
    return RunSettings(
        spec=spec, targets_file=targets_file if targets_file.exists() else None, nodes=nodes,
        seed=int(chosen_seed) if chosen_seed is not None else random.randrange(2**31),
        report_root=report_root, report_explicit=report_opt is not None,
        keep=bool(config.getoption("prsm_keep")),
        allow_destructive=bool(config.getoption("prsm_allow_destructive")),
        gate=_value(config, "gate", str, None),  # type: ignore[arg-type]
    )


def _resolve(name: str, targets_file: Path) -> TargetSpec:
    try:
        spec = resolve_target(name, targets_file, LOCAL_CAPABILITIES)
        if spec.kind == "remote":
            spec.credentials()  # fail now, not in the first test, when a variable is missing
        return spec
    except TargetConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
