"""Gate verdicts from a run's outcomes: pass, fail, not-measured (a failure) or manual."""

from __future__ import annotations

import glob
import operator
from pathlib import Path
from typing import Any

import yaml

from prsm_validate.gates.definitions import Criterion, Gate, Threshold

_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq}


def selected(criterion: Criterion, nodeid: str) -> bool:
    """True when ``nodeid`` is one of the criterion's scenarios.

    A selector is a folder, a file, a test, or a test with parameters: it matches the node id
    itself and everything below it (the next character is ``/``, ``:`` or ``[``).
    """
    return any(_below(nodeid, s.rstrip("/")) for s in criterion.select)


def _below(nodeid: str, selector: str) -> bool:
    return nodeid == selector or (
        nodeid.startswith(selector) and nodeid[len(selector)] in "/:[")


def _figure(properties: dict[str, Any], dotted: str) -> float | None:
    value: Any = properties
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return float(value) if isinstance(value, int | float) else None


def automated(criterion: Criterion, outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """Verdict of an automated criterion from the run's test outcomes."""
    mine = [o for o in outcomes if selected(criterion, o["nodeid"])]
    failed = [o["nodeid"] for o in mine if o["outcome"] in ("failed", "error")]
    passed = [o for o in mine if o["outcome"] == "passed"]
    if failed:
        return {"verdict": "fail", "reason": "failed: " + ", ".join(failed[:5])}
    if not passed:
        return {"verdict": "not-measured", "reason": "no selected scenario ran and passed "
                f"(selection: {', '.join(criterion.select)})"}
    verdict = _thresholds(criterion.thresholds, passed)
    if verdict["verdict"] != "pass" or not criterion.sla:
        return verdict
    return _sla(criterion, passed, verdict)


GATE_SLA = "gate_sla"  # the property carrying a test's results of its gates' SLA lines


def _sla(criterion: Criterion, passed: list[dict[str, Any]], verdict: dict[str, Any]
         ) -> dict[str, Any]:
    """Every SLA line held in every selected scenario that recorded its metric."""
    results = [r for o in passed for r in o.get("properties", {}).get(GATE_SLA, [])
               if r.get("criterion") == criterion.id]
    for line in criterion.sla:
        mine = [r for r in results if r["line"] == line and r["verdict"] != "unknown"]
        if not mine:
            return {"verdict": "not-measured", "threshold": line,
                    "reason": f"no selected scenario recorded data for {line}"}
        bad = [r for r in mine if r["verdict"] != "pass"]
        if bad:
            return {"verdict": "fail", "threshold": line, "measured": bad[0].get("measured"),
                    "reason": f"{bad[0]['nodeid']}: {bad[0]['message']}"}
    return {**verdict, "threshold": "; ".join(filter(None, [verdict.get("threshold", ""),
                                                           *criterion.sla]))}


def _thresholds(thresholds: tuple[Threshold, ...], passed: list[dict[str, Any]]
                ) -> dict[str, Any]:
    evidence = ", ".join(o["nodeid"] for o in passed[:5])
    measured = {}
    for threshold in thresholds:
        values = [v for o in passed
                  if (v := _figure(o.get("properties", {}), threshold.property)) is not None]
        if not values:
            return {"verdict": "not-measured", "threshold": str(threshold),
                    "reason": f"no scenario recorded {threshold.property}"}
        worst = max(values) if threshold.op in ("<", "<=") else min(values)
        measured[threshold.property] = worst
        if not _OPS[threshold.op](worst, threshold.value):
            return {"verdict": "fail", "measured": measured, "threshold": str(threshold),
                    "reason": f"{threshold.property} = {worst:g} breaks {threshold}"}
    return {"verdict": "pass", "measured": measured or f"{len(passed)} scenario(s) passed",
            "threshold": "; ".join(str(t) for t in thresholds), "reason": evidence}


def evidence(criterion: Criterion, rootdir: Path) -> dict[str, Any]:
    """Verdict of an evidence criterion: the artifact exists and validates."""
    matches = sorted(glob.glob(str(rootdir / str(criterion.artifact)), recursive=True))
    if not matches:
        return {"verdict": "fail", "reason": f"no file matches {criterion.artifact}"}
    for path in matches:
        problem = _validate(Path(path), criterion.validate)
        if problem:
            return {"verdict": "fail", "reason": f"{path}: {problem}"}
    return {"verdict": "pass", "measured": f"{len(matches)} file(s)", "reason": ", ".join(
        str(Path(p).relative_to(rootdir)) for p in matches[:5])}


def _validate(path: Path, how: str | None) -> str | None:
    if how is None:
        return None
    try:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    except yaml.YAMLError as exc:
        return f"not valid YAML: {exc}"
    if how == "k8s":
        return _k8s_problem(documents)
    return None


def _k8s_problem(documents: list[Any]) -> str | None:
    """Validate against the Kubernetes JSON schemas bundled in kubernetes-validate (offline)."""
    import kubernetes_validate

    version = kubernetes_validate.latest_version()
    for doc in documents:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            return f"{doc.get('kind')} {doc.get('metadata', {}).get('name')}: {exc.message}"
        except kubernetes_validate.SchemaNotFoundError:
            return f"no Kubernetes {version} schema for {doc.get('apiVersion')} {doc.get('kind')}"
    return None


def evaluate(gate: Gate, outcomes: list[dict[str, Any]], rootdir: Path) -> dict[str, Any]:
    """The gate's verdict file content."""
    criteria = []
    for criterion in gate.criteria:
        if criterion.kind == "automated":
            result = automated(criterion, outcomes)
        elif criterion.kind == "evidence":
            result = evidence(criterion, rootdir)
        else:
            result = {"verdict": "manual", "reason": "not automatable: reviewed by a person"}
        criteria.append({"id": criterion.id, "kind": criterion.kind,
                         "description": criterion.description, **result})
    failing = [c["id"] for c in criteria if c["verdict"] in ("fail", "not-measured")]
    return {"gate": gate.name, "title": gate.title, "verdict": "fail" if failing else "pass",
            "failing": failing, "criteria": criteria}
