"""A Chaos Toolkit journal as a harness run: ``prsm-validate report --chaos-journal FILE``.

Each probe of the steady-state hypothesis (before and after), each activity of the method and
each rollback becomes one entry of ``summary.json`` (node id
``chaos::<experiment>::<phase>::<activity>``): passed when the probe met its tolerance or the
action succeeded, failed otherwise, with the activity's output as its figures. The activities
also become a history (``histories/chaos-<experiment>.jsonl``): operations with their times,
and every fault an action started as a nemesis window until the heal that ended it, so the
report plots them with fault windows shaded. SLA snapshots' thresholds join the SLA table.
The run folder then renders with :mod:`prsm_validate.report.html`.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from prsm_validate.errors import UsageProblem
from prsm_validate.report.store import RunStore, new_run_id

FAULT_FUNCS = ("kill", "pause", "restart", "partition", "link_latency", "link_blackhole",
               "byzantine")


class JournalError(UsageProblem, ValueError):
    """The file is not a Chaos Toolkit journal."""


def load(path: Path) -> dict[str, Any]:
    """Read a journal, with an error naming the file and what is missing."""
    try:
        journal = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise JournalError(f"{path}: cannot read it as JSON ({exc})") from None
    missing = [k for k in ("experiment", "run", "steady_states", "status", "start")
               if not isinstance(journal, dict) or k not in journal]
    if missing:
        raise JournalError(f"{path}: not a Chaos Toolkit journal (no {', '.join(missing)}); "
                           "give the file chaos run --journal-path wrote")
    return journal


def _time(text: str | None) -> float:
    return datetime.fromisoformat(text).timestamp() if text else 0.0


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()[:60] or "experiment"


def _activities(journal: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(phase, run)`` of every activity, in the order they ran."""
    states = journal.get("steady_states") or {}
    found = [("steady-state-before", p) for p in (states.get("before") or {}).get("probes", [])]
    found += [("method", run) for run in journal.get("run", [])]
    found += [("steady-state-after", p) for p in (states.get("after") or {}).get("probes", [])]
    found += [("rollback", run) for run in journal.get("rollbacks", [])]
    return found


def _entry(experiment: str, phase: str, run: dict[str, Any]) -> dict[str, Any]:
    activity = run.get("activity", {})
    ok = run.get("status") == "succeeded" and run.get("tolerance_met", True) is not False
    entry: dict[str, Any] = {
        "nodeid": f"chaos::{experiment}::{phase}::{activity.get('name', '?')}",
        "outcome": "passed" if ok else "failed", "when": "call",
        "duration_s": round(float(run.get("duration") or 0.0), 4),
        "properties": {"type": activity.get("type"), "output": run.get("output")}}
    if not ok:
        why = "".join(run.get("exception") or []) or (
            "tolerance not met" if run.get("tolerance_met") is False else run.get("status"))
        entry["message"] = f"{activity.get('type')} {activity.get('name')}: {why}"[-4000:]
    return entry


def _history(journal: dict[str, Any], activities: list[tuple[str, dict[str, Any]]]
             ) -> list[dict[str, Any]]:
    """History events (Jepsen style, ns since the journal's start) of the activities and the
    faults they started and healed."""
    origin, events, open_faults = _time(journal["start"]), [], []
    for process, (_phase, run) in enumerate(activities):
        func = run.get("activity", {}).get("provider", {}).get("func", "")
        start, end = _time(run.get("start")), _time(run.get("end"))
        name = run.get("activity", {}).get("name", func)
        events.append({"time": int((start - origin) * 1e9), "process": process,
                       "type": "invoke", "f": name, "value": None})
        output = run.get("output") if isinstance(run.get("output"), dict) else {}
        kind = "ok" if run.get("status") == "succeeded" else "fail"
        events.append({"time": int((end - origin) * 1e9), "process": process, "type": kind,
                       "f": name, "value": output.get("verdict")})
        if func in FAULT_FUNCS and output.get("active"):
            open_faults.append(output)
            events.append(_nemesis(end - origin, output, "start"))
        elif func == "heal":
            healed = set(output.get("healed", []))
            for fault in [f for f in open_faults if f["id"] in healed]:
                open_faults.remove(fault)
                events.append(_nemesis(start - origin, fault, "heal"))
    events.sort(key=lambda e: e["time"])
    for index, event in enumerate(events):
        event["index"] = index
    return events


def _nemesis(at: float, fault: dict[str, Any], phase: str) -> dict[str, Any]:
    return {"time": int(at * 1e9), "process": "nemesis", "type": "info", "f": fault["kind"],
            "value": {"target": fault.get("target"), "phase": phase, "id": fault["id"]}}


def _thresholds(activities: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    found = []
    for _, run in activities:
        output = run.get("output")
        if isinstance(output, dict) and isinstance(output.get("thresholds"), list):
            name = run.get("activity", {}).get("name", "")
            found += [{**t, "name": f"{name}: {t.get('name')}"} for t in output["thresholds"]]
    return found


def summary(journal: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The harness's summary.json for the journal."""
    experiment = journal["experiment"]
    title = experiment.get("title", "experiment")
    activities = _activities(journal)
    tests = [_entry(_slug(title), phase, run) for phase, run in activities]
    counts: dict[str, int] = {}
    for test in tests:
        counts[test["outcome"]] = counts.get(test["outcome"], 0) + 1
    finished = max([_time(r.get("end")) for _, r in activities] + [_time(journal["start"])])
    ok = journal["status"] == "completed" and not journal.get("deviated")
    reasons = [] if ok else [f"experiment {journal['status']}"
                             + (", steady state deviated" if journal.get("deviated") else "")]
    return {"run_id": run_id, "started": _time(journal["start"]), "finished": finished,
            "exit_status": 0 if ok else 1, "seed": None,
            "verdict": "PASS" if ok and counts.get("passed") and not counts.get("failed")
            else "FAIL", "reasons": reasons,
            "target": {"name": "chaos run", "kind": "chaos-toolkit", "profile": ""},
            "deployments": [], "counts": counts, "tests": tests,
            "python": sys.version.split()[0], "argv": [f"(chaos run) {title}"],
            "versions": {"chaostoolkit-lib": str(journal.get("chaoslib-version"))},
            "thresholds": _thresholds(activities),
            "chaos": {"title": title, "status": journal["status"],
                      "deviated": bool(journal.get("deviated")),
                      "description": experiment.get("description", "")}}


def _write_junit(path: Path, data: dict[str, Any]) -> None:
    """JUnit XML of the activities (one testcase each), for CI dashboards."""
    import xml.etree.ElementTree as ET

    tests = data["tests"]
    suite = ET.Element("testsuite", name=f"chaos {data['chaos']['title']}",
                       tests=str(len(tests)),
                       failures=str(sum(t["outcome"] == "failed" for t in tests)))
    for test in tests:
        case = ET.SubElement(suite, "testcase", name=test["nodeid"],
                             time=str(test["duration_s"]))
        if test["outcome"] == "failed":
            ET.SubElement(case, "failure", message=test["message"][:200]).text = test["message"]
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def convert(path: Path, root: Path) -> Path:
    """Write the run folder for the journal at ``path`` under ``root``; returns report.html."""
    from prsm_validate.report import html

    journal = load(path)
    store = RunStore(root, new_run_id()).create()
    data = summary(journal, store.run_id)
    history = _history(journal, _activities(journal))
    folder = store.path / "histories"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"chaos-{_slug(data['chaos']['title'])}.jsonl").write_text(
        "".join(json.dumps(e) + "\n" for e in history))
    store.write_json("summary.json", data)
    store.write_json("faults.json", [e for e in history if e["process"] == "nemesis"])
    store.write_json("chaos-journal.json", journal)
    _write_junit(store.junit_path, data)
    page = html.render(store.path)
    (store.path / "report.html").write_text(page, encoding="utf-8")
    return store.path / "report.html"
