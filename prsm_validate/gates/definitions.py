"""Gate definitions: which criteria make a milestone, read from a versioned YAML file.

Criterion kinds:
- ``automated``: a selection of scenarios (node-id prefixes) that must run and pass, plus
  optional thresholds on figures the scenarios record (``record_property``), e.g.
  ``{property: e2e_latency_ms.p99, op: "<", value: 5000}``, and optional k6-style SLA lines
  (``sla: ["http_req_duration{name:health}: p(99)<10ms over 5s"]``) judged on the metrics each
  selected scenario recorded (its full per-second HDR store, so windows and any percentile
  are exact); a line no selected scenario recorded data for is not-measured;
- ``evidence``: an artifact (glob) that must exist and validate (``yaml`` or ``k8s``);
- ``manual``: listed as not automatable; never reported as passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KINDS = ("automated", "evidence", "manual")
OPS = ("<", "<=", ">", ">=", "==")


class GateFileError(ValueError):
    """The gate file is wrong; the message names the file, the key and the fix."""


@dataclass(frozen=True)
class Threshold:
    """A bound on a recorded figure."""

    property: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.property} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Criterion:
    """One criterion of a gate."""

    id: str
    kind: str
    description: str
    select: tuple[str, ...] = ()
    thresholds: tuple[Threshold, ...] = ()
    sla: tuple[str, ...] = ()
    artifact: str | None = None
    validate: str | None = None


@dataclass(frozen=True)
class Gate:
    """A milestone gate."""

    name: str
    title: str
    criteria: tuple[Criterion, ...] = field(default_factory=tuple)


def load_gates(path: Path) -> dict[str, Gate]:
    """Parse and validate the gate file."""
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise GateFileError(f"gate file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise GateFileError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("gates"), dict):
        raise GateFileError(f"{path}: top-level key 'gates' must map gate names to gates")
    return {str(name): _gate(path, str(name), body) for name, body in data["gates"].items()}


def _gate(path: Path, name: str, body: Any) -> Gate:
    if not isinstance(body, dict) or not isinstance(body.get("criteria"), list):
        raise GateFileError(f"{path}: gates.{name}: needs 'title' and a list 'criteria'")
    criteria = tuple(_criterion(path, f"gates.{name}.criteria[{i}]", c)
                     for i, c in enumerate(body["criteria"]))
    return Gate(name, str(body.get("title", name)), criteria)


def _criterion(path: Path, where: str, body: Any) -> Criterion:
    if not isinstance(body, dict) or body.get("kind") not in KINDS:
        raise GateFileError(f"{path}: {where}.kind: must be one of {list(KINDS)}")
    for key in ("id", "description"):
        if not body.get(key):
            raise GateFileError(f"{path}: {where}.{key}: required")
    kind = body["kind"]
    if kind == "automated" and not body.get("select"):
        raise GateFileError(f"{path}: {where}.select: an automated criterion selects scenarios")
    if kind == "evidence" and not body.get("artifact"):
        raise GateFileError(f"{path}: {where}.artifact: an evidence criterion names a file")
    return Criterion(
        id=str(body["id"]), kind=kind, description=str(body["description"]),
        select=tuple(str(s) for s in body.get("select", [])),
        thresholds=tuple(_threshold(path, where, t) for t in body.get("thresholds", [])),
        sla=tuple(_sla_line(path, where, line) for line in body.get("sla", [])),
        artifact=body.get("artifact"), validate=body.get("validate"),
    )


def _sla_line(path: Path, where: str, line: Any) -> str:
    from prsm_validate.sla.thresholds import ThresholdSyntaxError, parse_line

    try:
        parse_line(str(line))
    except ThresholdSyntaxError as exc:
        raise GateFileError(f"{path}: {where}.sla: {exc}") from None
    return str(line)


def _threshold(path: Path, where: str, body: Any) -> Threshold:
    if not isinstance(body, dict) or body.get("op") not in OPS or "property" not in body:
        raise GateFileError(f"{path}: {where}.thresholds: each needs property, op in "
                            f"{list(OPS)} and a numeric value")
    try:
        return Threshold(str(body["property"]), body["op"], float(body["value"]))
    except (KeyError, TypeError, ValueError):
        raise GateFileError(f"{path}: {where}.thresholds: value must be a number") from None
