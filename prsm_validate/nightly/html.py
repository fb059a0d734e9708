"""The nightly's ``report.html``: one self-contained page (inline CSS and SVG).

Sections: verdict and summary line; named regressions; every schedule with its outcome and
replay line; shrinks (original, minimal, the minimal's replay); the soak's SLA table and its
latency and throughput over the night with every fault window shaded; plots of failing
schedules; trends across nights; memory over the night; the environment. Kept apart from
:mod:`prsm_validate.report.html` (the pytest run's page) so either can change alone.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from prsm_validate.report import plots

PLOTTED_TRIALS = 6  # failing trials first, then the first of each family
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1f2328;max-width:1200px}
h1{font-size:22px}h2{font-size:17px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
table{border-collapse:collapse;width:100%;margin:8px 0}td,th{border:1px solid #d0d7de;
padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}th{background:#f6f8fa}
.pass{color:#1a7f37;font-weight:600}.fail,.error{color:#cf222e;font-weight:600}
.skipped,.unknown{color:#9a6700;font-weight:600}
.verdict{font-size:20px;padding:8px 12px;border-radius:6px;display:inline-block}
.v-pass{background:#dafbe1}.v-fail{background:#ffebe9}pre{white-space:pre-wrap;font-size:12px;
max-height:260px;overflow:auto;background:#f6f8fa;padding:6px}svg{max-width:100%;height:auto}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def render(run_dir: Path, data: dict[str, Any], trend: list[dict[str, Any]]) -> str:
    """The page of the night stored in ``run_dir``."""
    verdict = data["verdict"]
    windows = _night_windows(run_dir, data["outcomes"])
    body = [
        f"<h1>prsm-validate nightly {_e(data['run_id'])}</h1>",
        f'<p><span class="verdict v-{verdict.lower()}">{verdict}</span> '
        f"class <b>{_e(data['failure_class'])}</b>, exit status {data['exit_status']}</p>",
        f"<p><code>{_e(data['summary_line'])}</code></p>",
        _regressions(data.get("regressions", {})), _stages(data), _schedules(data["outcomes"]),
        _shrinks(data["outcomes"]), _soak(data, windows), _trial_plots(run_dir, data),
        _trends(trend), _resources(data), _environment(data),
    ]
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>nightly "
            f"{_e(data['run_id'])} {verdict}</title><style>{CSS}</style></head><body>"
            + "".join(body) + "</body></html>")


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    cells = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{cells}</table>"


def _regressions(found: dict[str, Any]) -> str:
    parts = ["<h2>Regressions</h2>"]
    named = found.get("regressions", [])
    parts.append("<ul>" + "".join(f"<li class='fail'>{_e(r['text'])}</li>" for r in named)
                 + "</ul>" if named else "<p>None named tonight.</p>")
    better = found.get("improvements", [])
    if better:
        parts.append("<p>Improvements:</p><ul>" + "".join(
            f"<li>{_e(r['text'])}</li>" for r in better) + "</ul>")
    waiting = found.get("not_judged", [])
    if waiting:
        parts.append(f"<p>Not judged yet ({len(waiting)} figures): "
                     f"{_e(waiting[0]['reason'])}.</p>")
    return "".join(parts)


def _stages(data: dict[str, Any]) -> str:
    rows = [[_e(s["name"]), f"<span class='{_e(s['verdict'])}'>{_e(s['verdict'])}</span>",
             _e(", ".join(s["failure_classes"])), _e(s["reason"]),
             _e(", ".join(f"{k}: {v}" for k, v in sorted(s["scenarios"].items())))]
            for s in data["stages"]]
    errors = "".join(f"<p class='error'>harness: {_e(e)}</p>" for e in data["harness_errors"])
    return "<h2>Stages</h2>" + _table(["stage", "verdict", "classes", "reason", "scenarios"],
                                      rows) + errors


def _schedules(outcomes: list[dict[str, Any]]) -> str:
    rows = [[_e(o["name"]), _e(o["seed"]), f"{o['faults_applied']}/{len(o['lines'])}",
             f"{o['started_s']:.0f}-{o['ended_s']:.0f}s",
             f"<span class='{_e(o['verdict'])}'>{_e(o['verdict'])}</span>",
             _e(o["failure_class"] or ""), _e(o["reason"]), f"<code>{_e(o['replay'])}</code>"]
            for o in outcomes]
    return ("<h2>Schedules</h2>" + (_table(["schedule", "seed", "faults", "when", "verdict",
                                            "class", "reason", "replay"], rows)
                                    if rows else "<p>No schedule ran.</p>"))


def _shrinks(outcomes: list[dict[str, Any]]) -> str:
    parts = []
    for o in outcomes:
        shrink = o.get("shrink")
        if not shrink:
            continue
        state = "1-minimal" if shrink["complete"] else "budget ran out first"
        if shrink.get("persists_without_faults"):
            state = "fails with no fault at all: the system stayed broken after the original"
        parts.append(
            f"<h3>{_e(o['name'])}: {len(shrink['original'])} faults -> "
            f"{len(shrink['minimal'])} ({shrink['tests']} re-runs, {shrink['elapsed_s']}s, "
            f"{state})</h3><p>original:</p><pre>{_e(chr(10).join(shrink['original']))}</pre>"
            f"<p>minimal (faults {_e(shrink['indices'])} of the original):</p>"
            f"<pre>{_e(chr(10).join(shrink['minimal']) or '(no fault at all)')}</pre>"
            f"<p>replay of the minimal schedule: <code>{_e(shrink['replay'])}</code></p>")
    return "<h2>Shrinking</h2>" + ("".join(parts) or "<p>No schedule failed.</p>")


def _night_windows(run_dir: Path, outcomes: list[dict[str, Any]]) -> list[plots.FaultWindow]:
    """Every fault window of the night, in seconds since the night began."""
    windows = []
    for o in outcomes:
        path = run_dir / (o.get("history") or "")
        if not o.get("history") or not path.exists():
            continue
        _, found = plots.read_history(path)
        windows += [plots.FaultWindow(f"{o['name']} {w.kind}", w.target,
                                      w.start_s + o["started_s"],
                                      None if w.end_s is None else w.end_s + o["started_s"])
                    for w in found]
    return windows


def _soak(data: dict[str, Any], windows: list[plots.FaultWindow]) -> str:
    chaos = next((s for s in data["stages"] if s["name"] == "chaos"), None)
    if chaos is None or not chaos["details"].get("sla"):
        return "<h2>Load soak</h2><p>No soak ran.</p>"
    sla = chaos["details"]["sla"]
    rows = [[_e(r["name"]), _e(r["threshold"]), _e(r.get("measured")), _e(r["window"]),
             f"<span class='{_e(r['verdict'])}'>{_e(r['verdict'])}</span>"] for r in sla]
    points = chaos["details"].get("soak_points", [])
    samples = [plots.Sample(p["at_s"], p["p99_ms"], "soak", "fail" if p["failures"] else "ok")
               for p in points]
    # Each second's requests spread over that second, so buckets count them where they were.
    throughput = [plots.Sample(p["at_s"] + k / p["requests"], 0, "soak", "ok")
                  for p in points for k in range(p["requests"])]
    return ("<h2>Load soak (fixed arrival rate, during the chaos)</h2>"
            + _table(["metric", "threshold", "measured", "window", "verdict"], rows)
            + "<p>p99 latency of each second (ms), every fault window shaded:</p>"
            + plots.latency_plot(samples, windows)
            + "<p>requests per second:</p>" + plots.throughput_plot(throughput, windows))


def _trial_plots(run_dir: Path, data: dict[str, Any]) -> str:
    chosen: list[dict[str, Any]] = [o for o in data["outcomes"] if o["verdict"] != "pass"]
    seen = {o["family"] for o in chosen}
    for o in data["outcomes"]:
        if o["family"] not in seen:
            chosen.append(o)
            seen.add(o["family"])
    parts = ["<h2>Schedules up close (operations, fault windows shaded)</h2>"]
    for o in chosen[:PLOTTED_TRIALS]:
        path = run_dir / (o.get("history") or "")
        if not o.get("history") or not path.exists():
            continue
        samples, windows = plots.read_history(path)
        parts.append(f"<h3>{_e(o['name'])} ({_e(o['verdict'])})</h3>"
                     + plots.latency_plot(samples, windows)
                     + plots.throughput_plot(samples, windows))
    return "".join(parts) if len(parts) > 1 else ""


def _trends(trend: list[dict[str, Any]]) -> str:
    if not trend:
        return ""
    def figure(name: str) -> list[Any]:
        return [t.get("figures", {}).get(name) for t in trend]

    passed = [_pass_ratio(t) for t in trend]
    rows = [[_e(t["run_id"]), _e(t.get("verdict")), _e(t.get("exit_status")),
             _e(", ".join(f"{k}: {v}" for k, v in sorted(t.get("outcomes", {}).items())))]
            for t in trend[-10:]]
    return ("<h2>Trend across nights</h2>"
            + plots.trend_plot(passed, "scenarios passing (ratio)")
            + plots.trend_plot(figure("soak_me_p95_ms"), "soak me p95 (ms)")
            + plots.trend_plot(figure("soak_achieved_rps"), "soak achieved rps")
            + plots.trend_plot(figure("consensus_max_resume_s"), "consensus max resume (s)")
            + plots.trend_plot(figure("harness_peak_rss_mb"), "harness peak RSS (MB)")
            + _table(["night", "verdict", "exit", "scenarios"], rows))


def _pass_ratio(line: dict[str, Any]) -> float | None:
    outcomes = [v for v in line.get("outcomes", {}).values() if v != "skipped"]
    return sum(v == "pass" for v in outcomes) / len(outcomes) if outcomes else None


def _resources(data: dict[str, Any]) -> str:
    res = data.get("resources", {})
    if not res:
        return ""
    series = [plots.Sample(t, mb, "rss", "ok") for t, mb in res.get("rss_series", [])]
    return (f"<h2>Memory</h2><p>harness peak RSS {res.get('harness_peak_rss_mb')} MB, slope "
            f"{res.get('harness_rss_mb_per_hour')} MB/hour over {res.get('rss_span_s')} s "
            f"({res.get('rss_samples')} samples, fitted after the warm-up); whole process "
            f"tree peak {res.get('tree_peak_rss_mb')} MB.</p>"
            + ("<p>harness RSS (MB) over the night:</p>" + plots.latency_plot(series, [])
               if len(series) > 2 else ""))


def _environment(data: dict[str, Any]) -> str:
    return (f"<h2>Environment</h2><p>target {_e(json.dumps(data['target']))}; seed "
            f"{_e(data['seed'])}{' (auto)' if data.get('seed_was_auto') else ''}; python "
            f"{_e(data['python'])}; options <code>{_e(json.dumps(data['options']))}</code></p>"
            f"<p>replay the night: <code>{_e(data['replay'])}</code></p>")
