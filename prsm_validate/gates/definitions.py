"""Gate definitions (version 2): the roadmaps' milestones, read from a versioned YAML file.

Gate ids follow the roadmaps (DESIGN.md section 14): M1-M12 are the Phase 0 roadmap's
milestones, T1-T4 its tranche gates (``union:`` of milestones: every criterion of each), EDGE
the edge roadmap's success metrics. Every criterion cites its roadmap (``cite: {source,
section, words}``). Criterion kinds:

- ``automated``: a selection of scenarios (node-id prefixes) that must run and pass, plus
  optional thresholds on figures the scenarios record (``record_property``), e.g.
  ``{property: e2e_latency_ms.p99, op: "<", value: 5000}``, and optional k6-style SLA lines
  (``sla: ["http_req_duration{name:health}: p(99)<10ms over 5s"]``) judged on the metrics each
  selected scenario recorded; a line no selected scenario recorded data for is not-measured;
- ``evidence``: a named check over the platform's repository (``check: terraform.rds``, with
  optional ``params``), see :mod:`prsm_validate.evidence`;
- ``manual``: what a person must check (``person_checks``); never reported as passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from prsm_validate.errors import UsageProblem

VERSION = 2
KINDS = ("automated", "evidence", "manual")
OPS = ("<", "<=", ">", ">=", "==")
V1_CHANGES = (
    "version 2 renumbered the gates to the Phase 0 roadmap's milestones (M1 Terraform "
    "provisioning, M2 Kubernetes manifests, M3 network formation, M4 consensus-network "
    "integration, M5 data architecture, M6 CI/CD, M7 end-to-end testing, M8 staging, M9 "
    "performance baselines, M10 production, M11 99.9% uptime, M12 operational documentation), "
    "added the tranche gates T1-T4 (union: of milestones), requires a cite: {source, section, "
    "words} on every criterion, replaced artifact:/validate: by check: (an evidence check) and "
    "requires person_checks: on manual criteria; start from fixtures/gates.yaml")


class GateFileError(UsageProblem, ValueError):
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
class Citation:
    """Where a roadmap asks for a criterion, in its own words."""

    source: str
    section: str
    words: str

    def __str__(self) -> str:
        return f'{self.source}, {self.section}: "{self.words}"'


@dataclass(frozen=True)
class Criterion:
    """One criterion of a gate."""

    id: str
    kind: str
    description: str
    cite: Citation | None = None
    select: tuple[str, ...] = ()
    thresholds: tuple[Threshold, ...] = ()
    sla: tuple[str, ...] = ()
    check: str | None = None
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    person_checks: str | None = None


@dataclass(frozen=True)
class Gate:
    """A milestone or tranche gate."""

    name: str
    title: str
    criteria: tuple[Criterion, ...] = field(default_factory=tuple)
    cite: Citation | None = None
    union: tuple[str, ...] = ()


def load_gates(path: Path) -> dict[str, Gate]:
    """Parse and validate the gate file; tranche gates get their milestones' criteria."""
    data = _read(path)
    sources = data.get("sources") or {}
    if not isinstance(sources, dict):
        raise GateFileError(f"{path}: sources: must map a source id to its title")
    reader = _Reader(path, {str(k): str(v) for k, v in sources.items()})
    bodies = data["gates"]
    gates = {str(name): reader.gate(str(name), body) for name, body in bodies.items()
             if not (isinstance(body, dict) and "union" in body)}
    for name, body in bodies.items():
        if isinstance(body, dict) and "union" in body:
            gates[str(name)] = reader.tranche(str(name), body, gates)
    return {str(name): gates[str(name)] for name in bodies}


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise GateFileError(f"gate file {path} does not exist") from None
    except IsADirectoryError:
        raise GateFileError(f"gate file {path} is a directory; name a YAML file") from None
    except UnicodeDecodeError:
        raise GateFileError(f"gate file {path} is not text (UTF-8 YAML)") from None
    except yaml.YAMLError as exc:
        raise GateFileError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise GateFileError(f"{path}: top-level key 'gates' must map gate names to gates")
    version = data.get("version", 1)
    if version != VERSION:
        raise GateFileError(f"{path}: version: {version!r} is not supported; this harness "
                            f"reads version {VERSION}: {V1_CHANGES}")
    if not isinstance(data.get("gates"), dict) or not data["gates"]:
        raise GateFileError(f"{path}: top-level key 'gates' must map gate names to gates")
    return data


@dataclass
class _Reader:
    path: Path
    sources: dict[str, str]

    def fail(self, where: str, problem: str) -> GateFileError:
        return GateFileError(f"{self.path}: {where}: {problem}")

    def gate(self, name: str, body: Any) -> Gate:
        if not isinstance(body, dict) or not isinstance(body.get("criteria"), list):
            raise self.fail(f"gates.{name}", "needs 'title', 'cite' and a list 'criteria' "
                            "(or 'union' for a tranche gate)")
        criteria = tuple(self.criterion(f"gates.{name}.criteria[{i}]", c)
                         for i, c in enumerate(body["criteria"]))
        ids = [c.id for c in criteria]
        if len(set(ids)) != len(ids):
            raise self.fail(f"gates.{name}.criteria", "criterion ids must be unique")
        return Gate(name, str(body.get("title", name)), criteria,
                    self.citation(f"gates.{name}.cite", body.get("cite")))

    def tranche(self, name: str, body: dict[str, Any], gates: dict[str, Gate]) -> Gate:
        members = body["union"]
        if not isinstance(members, list) or not members:
            raise self.fail(f"gates.{name}.union", "must list the milestone gates it joins")
        unknown = [m for m in members if str(m) not in gates]
        if unknown:
            raise self.fail(f"gates.{name}.union", f"no gate {', '.join(map(str, unknown))} "
                            f"(milestone gates: {', '.join(gates)})")
        criteria: dict[str, Criterion] = {}
        for member in members:
            for criterion in gates[str(member)].criteria:
                criteria.setdefault(criterion.id, criterion)
        return Gate(name, str(body.get("title", name)), tuple(criteria.values()),
                    self.citation(f"gates.{name}.cite", body.get("cite")),
                    tuple(str(m) for m in members))

    def citation(self, where: str, body: Any) -> Citation:
        if not isinstance(body, dict) or not all(body.get(k) for k in
                                                  ("source", "section", "words")):
            raise self.fail(where, "needs {source, section, words}: the roadmap, its section "
                            "and its words")
        if self.sources and str(body["source"]) not in self.sources:
            raise self.fail(f"{where}.source", f"{body['source']!r} is not one of the "
                            f"sources: {', '.join(self.sources)}")
        return Citation(self.sources.get(str(body["source"]), str(body["source"])),
                        str(body["section"]), str(body["words"]))

    def criterion(self, where: str, body: Any) -> Criterion:
        if not isinstance(body, dict) or body.get("kind") not in KINDS:
            raise self.fail(f"{where}.kind", f"must be one of {list(KINDS)}")
        for key in ("id", "description"):
            if not body.get(key):
                raise self.fail(f"{where}.{key}", "required")
        if "artifact" in body or "validate" in body:
            raise self.fail(where, "artifact:/validate: are version-1 keys; name an evidence "
                            "check instead (check: kubernetes.schemas)")
        kind = body["kind"]
        self._kind_keys(where, kind, body)
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise self.fail(f"{where}.params", "must be a mapping")
        return Criterion(
            id=str(body["id"]), kind=kind, description=str(body["description"]),
            cite=self.citation(f"{where}.cite", body.get("cite")),
            select=tuple(str(s) for s in body.get("select", [])),
            thresholds=tuple(self.threshold(where, t) for t in body.get("thresholds", [])),
            sla=tuple(self.sla_line(where, line) for line in body.get("sla", [])),
            check=body.get("check"), params=dict(params),
            person_checks=body.get("person_checks"),
        )

    def _kind_keys(self, where: str, kind: str, body: dict[str, Any]) -> None:
        if kind == "automated" and not body.get("select"):
            raise self.fail(f"{where}.select", "an automated criterion selects scenarios")
        if kind == "evidence":
            from prsm_validate.evidence import CHECKS

            if body.get("check") not in CHECKS:
                raise self.fail(f"{where}.check", f"{body.get('check')!r} is not an evidence "
                                f"check; checks: {', '.join(CHECKS)}")
        if kind == "manual" and not body.get("person_checks"):
            raise self.fail(f"{where}.person_checks", "a manual criterion says what a person "
                            "must check")

    def sla_line(self, where: str, line: Any) -> str:
        from prsm_validate.sla.thresholds import ThresholdSyntaxError, parse_line

        try:
            parse_line(str(line))
        except ThresholdSyntaxError as exc:
            raise self.fail(f"{where}.sla", str(exc)) from None
        return str(line)

    def threshold(self, where: str, body: Any) -> Threshold:
        if not isinstance(body, dict) or body.get("op") not in OPS or "property" not in body:
            raise self.fail(f"{where}.thresholds", f"each needs property, op in {list(OPS)} "
                            "and a numeric value")
        try:
            return Threshold(str(body["property"]), body["op"], float(body["value"]))
        except (KeyError, TypeError, ValueError):
            raise self.fail(f"{where}.thresholds", "value must be a number") from None


def select_gates(gates: dict[str, Gate], spec: str, path: Path) -> list[Gate]:
    """The gates named by ``--prsm-gate`` (one id or a comma list, e.g. ``M4,M5``)."""
    names = [part.strip() for part in spec.split(",")]
    if not spec.strip() or any(not name for name in names):
        raise GateFileError(f"--prsm-gate={spec!r}: name one gate or a comma list such as "
                            f"M4,M5; gates in {path}: {', '.join(gates)}")
    unknown = [name for name in names if name not in gates]
    if unknown:
        raise GateFileError(f"--prsm-gate={spec}: no such gate {', '.join(unknown)} in "
                            f"{path}; gates: {', '.join(gates)}")
    return [gates[name] for name in dict.fromkeys(names)]
