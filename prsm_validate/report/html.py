"""``report.html``: one self-contained page per run (inline CSS and SVG, no network).

Sections: overall verdict, gate verdicts, every test with its outcome and the reason of every
skip or failure, recorded figures, latency/throughput plots with fault windows shaded, the fault
timeline, trends across runs, and the environment.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from prsm_validate.report import plots

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1f2328;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
table{border-collapse:collapse;width:100%;margin:8px 0}td,th{border:1px solid #d0d7de;
padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f6f8fa}
.passed,.pass{color:#1a7f37;font-weight:600}.failed,.error,.fail{color:#cf222e;font-weight:600}
.skipped,.unknown,.not-measured,.manual{color:#9a6700;font-weight:600}
.verdict{font-size:20px;padding:8px 12px;border-radius:6px;display:inline-block}
.v-pass{background:#dafbe1}.v-fail{background:#ffebe9}pre{white-space:pre-wrap;font-size:12px;
max-height:220px;overflow:auto;background:#f6f8fa;padding:6px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def overall(summary: dict[str, Any]) -> str:
    """PASS when nothing failed or errored and something passed; otherwise FAIL."""
    counts = summary.get("counts", {})
    bad = counts.get("failed", 0) + counts.get("error", 0)
    return "PASS" if not bad and counts.get("passed", 0) else "FAIL"


def render(run_dir: Path, trend: list[dict[str, Any]] | None = None) -> str:
    """The HTML page of the run stored in ``run_dir``."""
    summary = json.loads((run_dir / "summary.json").read_text())
    gates = [json.loads(p.read_text()) for p in sorted(run_dir.glob("gate-*.json"))]
    verdict = overall(summary)
    body = [
        f"<h1>prsm-validate run {_e(summary['run_id'])}</h1>",
        f'<p><span class="verdict v-{verdict.lower()}">{verdict}</span> '
        f"{_e(_counts_text(summary))} — target <b>{_e(summary['target'].get('name'))}</b>"
        f" ({_e(summary['target'].get('kind'))}), seed {_e(summary['seed'])}</p>",
        _gates_section(gates), _sla_section(summary), _tests_section(summary),
        _plots_section(run_dir, summary),
        _trend_section(trend or []), _environment_section(summary),
    ]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>prsm-validate "
            f"{_e(summary['run_id'])} {verdict}</title><style>{CSS}</style></head><body>"
            + "".join(body) + "</body></html>")


def _counts_text(summary: dict[str, Any]) -> str:
    counts = summary.get("counts", {})
    return ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no tests"


def _gates_section(gates: list[dict[str, Any]]) -> str:
    if not gates:
        return ""
    parts = ["<h2>Gates</h2>"]
    for gate in gates:
        parts.append(f"<h3>{_e(gate['gate'])}: <span class='{_e(gate['verdict'])}'>"
                     f"{_e(gate['verdict'].upper())}</span> — {_e(gate.get('title', ''))}</h3>")
        rows = "".join(
            f"<tr><td>{_e(c['id'])}</td><td>{_e(c['kind'])}</td><td>{_e(c['description'])}</td>"
            f"<td class='{_e(c['verdict'])}'>{_e(c['verdict'])}</td><td>{_e(c.get('measured'))}"
            f"</td><td>{_e(c.get('threshold', ''))}</td><td>{_e(c.get('reason', ''))}</td></tr>"
            for c in gate["criteria"])
        parts.append("<table><tr><th>criterion</th><th>kind</th><th>what</th><th>verdict</th>"
                     f"<th>measured</th><th>threshold</th><th>evidence / reason</th></tr>{rows}"
                     "</table>")
    return "".join(parts)


def _sla_section(summary: dict[str, Any]) -> str:
    thresholds = summary.get("thresholds") or []
    if not thresholds:
        return "<h2>SLA thresholds</h2><p>No thresholds were evaluated in this run.</p>"
    rows = "".join(
        f"<tr><td>{_e(t['source'])}</td><td>{_e(t['name'])}</td><td>{_e(t['threshold'])}</td>"
        f"<td>{_e(t.get('measured'))}</td><td class='{_e(t['verdict'])}'>{_e(t['verdict'])}"
        f"</td></tr>" for t in thresholds)
    return ("<h2>SLA thresholds</h2><table><tr><th>source</th><th>name</th><th>threshold</th>"
            f"<th>measured</th><th>verdict</th></tr>{rows}</table>")


def _tests_section(summary: dict[str, Any]) -> str:
    rows = []
    for test in summary.get("tests", []):
        detail = test.get("reason") or test.get("message", "")
        props = test.get("properties")
        rows.append(
            f"<tr><td>{_e(test['nodeid'])}</td><td class='{_e(test['outcome'])}'>"
            f"{_e(test['outcome'])}</td><td>{test['duration_s']:.2f}s</td><td>"
            + (f"<pre>{_e(detail)}</pre>" if detail else "")
            + (f"<pre>{_e(json.dumps(props, indent=1))}</pre>" if props else "")
            + "</td></tr>")
    return ("<h2>Scenarios</h2><table><tr><th>scenario</th><th>outcome</th><th>time</th>"
            f"<th>reason, witness and figures</th></tr>{''.join(rows)}</table>")


def _plots_section(run_dir: Path, summary: dict[str, Any]) -> str:
    parts, timeline = ["<h2>Latency and throughput (fault windows shaded)</h2>"], []
    for path in sorted((run_dir / "histories").glob("*.jsonl")):
        samples, windows = plots.read_history(path)
        timeline += [(path.stem, w) for w in windows]
        if len(samples) < 20 and not windows:
            continue
        parts.append(f"<h3>{_e(path.stem)}</h3>{plots.latency_plot(samples, windows)}"
                     f"{plots.throughput_plot(samples, windows)}")
    if len(parts) == 1:
        parts.append("<p>No scenario recorded enough operations to plot.</p>")
    rows = "".join(f"<tr><td>{_e(test)}</td><td>{_e(w.kind)}</td><td>{_e(w.target)}</td>"
                   f"<td>{w.start_s:.2f}s</td><td>"
                   f"{'still in force' if w.end_s is None else f'{w.end_s:.2f}s'}</td></tr>"
                   for test, w in timeline)
    parts.append("<h2>Fault timeline</h2>" + (
        f"<table><tr><th>scenario</th><th>fault</th><th>target</th><th>from</th><th>until</th>"
        f"</tr>{rows}</table>" if rows else "<p>No faults were injected in this run.</p>"))
    return "".join(parts)


def _trend_section(trend: list[dict[str, Any]]) -> str:
    if not trend:
        return ""
    ratio = [t["passed"] / t["total"] if t.get("total") else None for t in trend]
    ready = [t.get("ready_s") for t in trend]
    duration = [t.get("duration_s") for t in trend]
    return ("<h2>Trends across runs</h2>" + plots.trend_plot(ratio, "pass ratio")
            + plots.trend_plot(ready, "time to ready (s)")
            + plots.trend_plot(duration, "run duration (s)"))


def _environment_section(summary: dict[str, Any]) -> str:
    deployments = summary.get("deployments", [])
    rows = "".join(f"<tr><td>{_e(d.get('worker'))}</td><td>{_e(d.get('api_url'))}</td>"
                   f"<td>{_e(', '.join(d.get('capabilities', [])))}</td><td>"
                   f"{_e(round(d.get('ready_s') or 0, 3))}s</td><td>{_identity(d)}</td></tr>"
                   for d in deployments)
    versions = ", ".join(f"{k} {v}" for k, v in (summary.get("versions") or {}).items())
    return (f"<h2>Environment</h2><p>python {_e(summary.get('python'))}; {_e(versions)}; "
            f"command: <code>pytest {_e(' '.join(summary.get('argv', [])))}</code></p>"
            "<table><tr><th>worker</th><th>API</th><th>capabilities</th><th>ready in (first "
            f"healthy answer)</th><th>target identity and contract</th></tr>{rows}</table>")


def _identity(deployment: dict[str, Any]) -> str:
    """The target's own versions: OpenAPI title and version, Server header, /health body."""
    identity = deployment.get("identity") or {}
    parts = []
    if identity.get("openapi_title"):
        parts.append(f"{identity['openapi_title']} {identity.get('openapi_version', '')}")
    if identity.get("server"):
        parts.append(f"Server: {identity['server']}")
    if identity.get("health") is not None:
        parts.append(f"/health: {json.dumps(identity['health'])[:300]}")
    if deployment.get("contract"):
        parts.append(f"contract: {deployment['contract']}")
    return "<br>".join(_e(p) for p in parts)
