"""The gate section of ``report.html``: per criterion its citation, kind, measured value against
its threshold, and the evidence files with the line that decided (a small piece on its own so
the page's templates can take it in whole)."""

from __future__ import annotations

import html
import json
from typing import Any

CSS = """
.gate td.evidence{font:12px/1.35 ui-monospace,monospace}.gate .cite{color:#57606a;font-size:12px}
.gate ul{margin:0;padding-left:16px}.gate .gap{color:#cf222e}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _measured(value: Any) -> str:
    if value is None:
        return ""
    return _e(json.dumps(value, separators=(", ", ": ")) if isinstance(value, dict) else value)


def _evidence(criterion: dict[str, Any]) -> str:
    items = []
    if criterion.get("person_checks"):
        items.append(f"<li>a person must check: {_e(criterion['person_checks'])}</li>")
    for gap in criterion.get("gaps") or []:
        items.append(f"<li class='gap'>missing: {_e(gap)}</li>")
    for line in (criterion.get("evidence") or [])[:6]:
        where = f"{line.get('file')}:{line['line']}" if line.get("line") else line.get("file")
        items.append(f"<li><b>{_e(where)}</b> {_e(line.get('text', ''))}</li>")
    if not items and criterion.get("reason"):
        items.append(f"<li>{_e(criterion['reason'])}</li>")
    return f"<ul>{''.join(items)}</ul>"


def _cite(criterion: dict[str, Any]) -> str:
    cite = criterion.get("cite") or {}
    if not cite:
        return ""
    return (f"<div class='cite'>{_e(cite.get('source'))}, {_e(cite.get('section'))}: "
            f"&ldquo;{_e(cite.get('words'))}&rdquo;</div>")


def render_gate(gate: dict[str, Any]) -> str:
    """One gate verdict (the content of ``gate-M.json``) as an HTML block."""
    rows = "".join(
        f"<tr><td><b>{_e(c['id'])}</b><div>{_e(c.get('description', ''))}</div>{_cite(c)}</td>"
        f"<td>{_e(c['kind'])}</td><td class='{_e(c['verdict'])}'>{_e(c['verdict'])}</td>"
        f"<td>{_measured(c.get('measured'))}</td><td>{_e(c.get('threshold', ''))}</td>"
        f"<td class='evidence'>{_evidence(c)}</td></tr>" for c in gate["criteria"])
    union = (f" &mdash; union of {_e(', '.join(gate['union']))}" if gate.get("union") else "")
    cite = f"<p class='cite'>{_e(gate['cite'])}</p>" if gate.get("cite") else ""
    return (f"<div class='gate'><h3>{_e(gate['gate'])}: <span class='{_e(gate['verdict'])}'>"
            f"{_e(gate['verdict'].upper())}</span> &mdash; {_e(gate.get('title', ''))}{union}"
            f"</h3>{cite}<table><tr><th>criterion</th><th>kind</th><th>verdict</th>"
            f"<th>measured</th><th>threshold</th><th>evidence (file:line) / what a person "
            f"checks</th></tr>{rows}</table></div>")


def render_gates(gates: list[dict[str, Any]]) -> str:
    """Every gate of the run, with the section's own CSS; empty when no gate ran."""
    if not gates:
        return ""
    return f"<h2>Gates</h2><style>{CSS}</style>" + "".join(render_gate(g) for g in gates)
