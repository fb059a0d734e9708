"""JUnit XML from the collected test outcomes (one testsuite per run)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def write_junit(path: Path, outcomes: list[dict[str, Any]], run_id: str,
                properties: dict[str, str]) -> None:
    """Write ``outcomes`` (as collected by the session) as a JUnit testsuite."""
    suite = ET.Element("testsuite", name=f"prsm-validate {run_id}")
    props = ET.SubElement(suite, "properties")
    for name, value in properties.items():
        ET.SubElement(props, "property", name=name, value=value)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for outcome in outcomes:
        _testcase(suite, outcome, counts)
        total_time += outcome["duration_s"]
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{total_time:.3f}")
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)


def _testcase(suite: ET.Element, outcome: dict[str, Any], counts: dict[str, int]) -> None:
    module, _, name = outcome["nodeid"].rpartition("::")
    case = ET.SubElement(suite, "testcase", classname=module.replace("/", ".").removesuffix(".py"),
                         name=name or module, time=f"{outcome['duration_s']:.3f}")
    kind = outcome["outcome"]
    counts["tests"] += 1
    if kind == "failed":
        counts["failures"] += 1
        ET.SubElement(case, "failure", message="failed").text = outcome.get("message", "")
    elif kind == "error":
        counts["errors"] += 1
        ET.SubElement(case, "error", message=f"error in {outcome['when']}").text = outcome.get(
            "message", "")
    elif kind == "skipped":
        counts["skipped"] += 1
        ET.SubElement(case, "skipped", message=outcome.get("reason", ""))
