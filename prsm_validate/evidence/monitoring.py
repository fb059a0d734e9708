"""Monitoring evidence: Prometheus alert rules and Grafana dashboards.

Rule files are YAML with ``groups: [{name, rules}]`` (Prometheus's format; a PrometheusRule
object's ``spec.groups`` counts too). Every ``expr`` is parsed with promql-parser, and the
alerts must cover the edge roadmap's list (CPU, memory, disk, service down, API error rate,
slow responses, consumer lag, database connection failures, VPN peer, battery), each with a
severity label and a summary. Dashboards are Grafana JSON with panels whose queries parse.

Written here by hand: which alert names and expressions count for each topic (patterns below).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from prsm_validate.evidence.base import Finding, Line, Repository

ALERT_TOPICS = {
    "CPU": r"cpu",
    "memory": r"memory|\bmem",
    "disk": r"disk|filesystem",
    "service down": r"down|^up\b|\bup\{|\bup ",
    "API error rate": r"error",
    "slow responses": r"slow|latency|duration",
    "consumer lag": r"lag|pending",
    "database connection failures": r"database|postgres|\bdb",
    "VPN peer": r"vpn|wireguard|peer",
    "battery": r"battery",
}


def _rule_files(repo: Repository) -> list[tuple[Path, list[dict[str, Any]]]]:
    found = []
    for path in repo.files(".yaml", ".yml", ".rules"):
        try:
            docs = list(yaml.safe_load_all(repo.text(path)))
        except yaml.YAMLError:
            continue
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            groups = doc.get("groups") if "groups" in doc else (
                (doc.get("spec") or {}).get("groups") if doc.get("kind") == "PrometheusRule"
                else None)
            if isinstance(groups, list):
                found.append((path, [g for g in groups if isinstance(g, dict)]))
    return found


def _parse_promql(expr: str) -> str | None:
    import promql_parser

    try:
        promql_parser.parse(expr)
    except ValueError as exc:
        return str(exc)
    return None


def check_alert_rules(repo: Repository, params: dict[str, Any]) -> Finding:
    """Alert rules parse and cover every topic of the roadmap's alert list."""
    finding = Finding()
    files = _rule_files(repo)
    if not files:
        finding.gap(".", "prometheus rules", "no Prometheus rule file (YAML with groups)")
    alerts: list[tuple[Path, dict[str, Any]]] = []
    for path, groups in files:
        for group in groups:
            for rule in group.get("rules") or []:
                if isinstance(rule, dict):
                    _check_rule(repo, path, rule, finding)
                    if "alert" in rule:
                        alerts.append((path, rule))
    topics = params.get("topics") or list(ALERT_TOPICS)
    covered = {}
    for topic in topics:
        pattern = re.compile(ALERT_TOPICS.get(topic, re.escape(topic)), re.IGNORECASE)
        match = next(((p, r) for p, r in alerts if pattern.search(str(r["alert"]))), None)
        if match is None:
            finding.gap(repo.rel(files[0][0]) if files else ".", "alert rules",
                        f"no alert for {topic}")
            continue
        covered[topic] = match[1]["alert"]
        finding.cite(repo.find_line(match[0], rf"alert:\s*{re.escape(str(match[1]['alert']))}"))
    finding.measured = {"alerts": len(alerts), "topics_covered": f"{len(covered)}/{len(topics)}"}
    return finding


def _check_rule(repo: Repository, path: Path, rule: dict[str, Any], finding: Finding) -> None:
    name = str(rule.get("alert") or rule.get("record") or "rule")
    line = repo.find_line(path, rf"(alert|record):\s*{re.escape(name)}\b")
    where = line.line if line else None
    problem = _parse_promql(str(rule.get("expr", ""))) if rule.get("expr") else "expr not set"
    if problem:
        finding.gap(repo.rel(path), name, f"expr does not parse as PromQL: {problem}", where)
    if "alert" in rule:
        if not (rule.get("labels") or {}).get("severity"):
            finding.gap(repo.rel(path), name, "labels.severity not set", where)
        if not (rule.get("annotations") or {}).get("summary"):
            finding.gap(repo.rel(path), name, "annotations.summary not set", where)


def _dashboards(repo: Repository) -> list[tuple[Path, dict[str, Any]]]:
    found = []
    for path in repo.files(".json"):
        try:
            body = json.loads(repo.text(path))
        except json.JSONDecodeError:
            continue
        if isinstance(body, dict) and isinstance(body.get("dashboard"), dict):
            body = body["dashboard"]
        if isinstance(body, dict) and "panels" in body:
            found.append((path, body))
    return found


def _panels(panels: list[Any]) -> list[dict[str, Any]]:
    out = []
    for panel in panels:
        if not isinstance(panel, dict):
            continue
        if panel.get("type") == "row":
            out += _panels(panel.get("panels") or [])
        else:
            out.append(panel)
    return out


def check_dashboards(repo: Repository, params: dict[str, Any]) -> Finding:
    """Grafana dashboards: a title, panels, and a parsing PromQL query in every panel."""
    finding = Finding()
    dashboards = _dashboards(repo)
    least = int(params.get("min_dashboards", 1))
    if len(dashboards) < least:
        finding.gap(".", "grafana dashboards", f"{len(dashboards)} dashboard JSON file(s), "
                    f"needs >= {least}")
    panels_total = 0
    for path, body in dashboards:
        rel, title = repo.rel(path), str(body.get("title") or "")
        if not title:
            finding.gap(rel, "dashboard", "title not set")
        panels = _panels(body.get("panels") or [])
        panels_total += len(panels)
        if not panels:
            finding.gap(rel, f"dashboard {title!r}", "no panels")
        for panel in panels:
            _check_panel(repo, path, title, panel, finding)
        finding.cite(repo.find_line(path, r'"title"'))
    finding.measured = {"dashboards": len(dashboards), "panels": panels_total}
    return finding


def _check_panel(repo: Repository, path: Path, title: str, panel: dict[str, Any],
                 finding: Finding) -> None:
    name = str(panel.get("title") or panel.get("id"))
    line: Line | None = repo.find_line(path, rf'"title":\s*"{re.escape(name)}"')
    where = line.line if line else None
    exprs = [t.get("expr") for t in panel.get("targets") or [] if isinstance(t, dict)]
    if not any(exprs):
        finding.gap(repo.rel(path), f"dashboard {title!r} panel {name!r}", "no query (targets"
                    "[].expr)", where)
    for expr in filter(None, exprs):
        problem = _parse_promql(str(expr))
        if problem:
            finding.gap(repo.rel(path), f"dashboard {title!r} panel {name!r}",
                        f"query does not parse as PromQL: {problem}", where)
