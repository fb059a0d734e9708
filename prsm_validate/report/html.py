"""``report.html``: one self-contained page per run (inline CSS and SVG, no network).

The page is the Jinja2 template ``templates/report.html.j2`` (autoescaped); this module only
gathers what it shows from the run folder. Sections: the verdict with its reasons, failures by
class with a one-line cause each, gate verdicts, SLA thresholds with units and the machine's
floor, every scenario with the reason of every skip or failure, latency/throughput plots with
fault windows shaded, the fault timeline, trends across runs, and the environment.
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Any

from prsm_validate.report import plots

TEMPLATE = "report.html.j2"


@cache
def _environment() -> Any:
    import jinja2

    # Lenient undefined: a key that an older run's summary lacks renders empty.
    env = jinja2.Environment(loader=jinja2.PackageLoader("prsm_validate.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["breakable"] = _breakable
    return env


def _breakable(text: object) -> Any:
    """A test id or metric name that wraps after ``/``, ``::``, ``_``, ``.`` or ``[``, never
    inside a word."""
    import re

    from markupsafe import Markup, escape

    return Markup(re.sub(r"(/|::|_|\.|\[|,)", r"\1<wbr>", str(escape(text))))


def overall(summary: dict[str, Any]) -> str:
    """The run's verdict as decided when it ended (:mod:`prsm_validate.report.verdict`)."""
    if "verdict" in summary:
        return str(summary["verdict"])
    from prsm_validate.report.verdict import decide  # a summary from before verdicts

    return decide(summary.get("exit_status", 0), summary.get("counts", {}), [], []).verdict


def render(run_dir: Path, trend: list[dict[str, Any]] | None = None) -> str:
    """The HTML page of the run stored in ``run_dir``."""
    summary = json.loads((run_dir / "summary.json").read_text())
    gates = [json.loads(p.read_text()) for p in sorted(run_dir.glob("gate-*.json"))]
    return _environment().get_template(TEMPLATE).render(
        **_context(summary, gates, run_dir, trend or []))


def _context(summary: dict[str, Any], gates: list[dict[str, Any]], run_dir: Path,
             trend: list[dict[str, Any]]) -> dict[str, Any]:
    plots_, timeline = _plots(run_dir)
    tests = [_test(t) for t in summary.get("tests", [])]
    return {
        "run_id": summary["run_id"], "verdict": overall(summary),
        "reasons": summary.get("reasons", []), "counts_text": _counts_text(summary),
        "target": {"profile": None, **summary.get("target", {})}, "seed": summary.get("seed"),
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(summary["started"])),
        "duration": f"{summary['finished'] - summary['started']:.0f}s",
        "failure_classes": summary.get("failure_classes", {}),
        "failures": [{"class": t["failure"]["class"], "nodeid": t["nodeid"],
                      "cause": t["failure"]["cause"]} for t in tests if t.get("failure")],
        "gates": gates, "thresholds": [_threshold(t) for t in summary.get("thresholds") or []],
        "tests": tests, "plots": plots_, "timeline": timeline,
        "trend_plots": _trend_plots(trend), "python": summary.get("python"),
        "versions": ", ".join(f"{k} {v}" for k, v in (summary.get("versions") or {}).items()),
        "argv": " ".join(summary.get("argv", [])),
        "deployments": [_deployment(d) for d in summary.get("deployments", [])],
    }


def _counts_text(summary: dict[str, Any]) -> str:
    counts = dict(summary.get("counts", {}))
    if summary.get("not_run"):
        counts["not run"] = len(summary["not_run"])
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no tests"


def _test(test: dict[str, Any]) -> dict[str, Any]:
    props = test.get("properties")
    return {"failure": None, "reason": None, "message": None, **test,
            "properties_json": json.dumps(props, indent=1) if props else ""}


def _threshold(t: dict[str, Any]) -> dict[str, Any]:
    from prsm_validate.sla.evaluate import duration_text

    measured = t.get("measured_text") or ("" if t.get("measured") is None else t["measured"])
    floor = t.get("floor")
    unit_text = duration_text if t.get("unit") == "ms" else str
    detail = t.get("reason") or t.get("window") or ""
    if t.get("floor_note") and not t.get("machine_floor"):
        detail = f"{detail}; {t['floor_note']}"
    return {**t, "measured_text": measured, "detail": detail,
            "floor_text": "" if floor is None else unit_text(floor)}


def _plots(run_dir: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    found, timeline = [], []
    for path in sorted((run_dir / "histories").glob("*.jsonl")):
        samples, windows = plots.read_history(path)
        timeline += [{"test": path.stem, "kind": w.kind, "target": w.target,
                      "start": f"{w.start_s:.2f}s",
                      "end": "still in force" if w.end_s is None else f"{w.end_s:.2f}s"}
                     for w in windows]
        if len(samples) < 20 and not windows:
            continue
        found.append({"name": path.stem, "latency": plots.latency_plot(samples, windows),
                      "throughput": plots.throughput_plot(samples, windows)})
    return found, timeline


def _trend_plots(trend: list[dict[str, Any]]) -> list[str]:
    if not trend:
        return []
    ratio = [t["passed"] / t["total"] if t.get("total") else None for t in trend]
    return [plots.trend_plot(ratio, "pass ratio"),
            plots.trend_plot([t.get("ready_s") for t in trend], "time to ready (s)"),
            plots.trend_plot([t.get("duration_s") for t in trend], "run duration (s)")]


def _deployment(d: dict[str, Any]) -> dict[str, Any]:
    ready = d.get("ready_s")
    identity = d.get("identity")
    return {"worker": d.get("worker"), "api_url": d.get("api_url"),
            "capabilities": d.get("capabilities", []),
            "ready_text": "" if ready is None else f"{ready:.2f}s", "identity": identity,
            "identity_json": json.dumps(identity, indent=1) if identity else ""}
