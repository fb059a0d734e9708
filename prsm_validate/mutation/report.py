"""The mutation score: per module and per subsystem, as ``mutation-score.json`` and
``mutation-score.html`` in a run folder of the report store, and one line per run in
``reports/mutation-trend.jsonl`` (the nightly's trend across runs).

Score = killed / (killed + survived + timeout): a timeout is never a kill; equivalent,
unreachable and incompetent mutants are left out, and so are the ones the budget did not reach.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prsm_validate.mutation.catalogue import GOALS, SUBSYSTEMS

OUTCOMES = ("killed", "survived", "timeout", "equivalent", "unreachable", "incompetent",
            "not-run")
TREND_FILE = "mutation-trend.jsonl"
TEMPLATE = "mutation-score.html.j2"


def counts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Outcome counts of ``rows`` with ``run`` (mutants that got a verdict) and ``score``."""
    found = {o: sum(1 for r in rows if r["outcome"] == o) for o in OUTCOMES}
    decided = found["killed"] + found["survived"] + found["timeout"]
    return {"sampled": len(rows), "run": decided, **found,
            "score": round(found["killed"] / decided, 4) if decided else None}


def summarise(rows: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    """The whole ``mutation-score.json``: settings, totals, per subsystem, per module."""
    subsystems = {}
    for key, title in SUBSYSTEMS.items():
        mine = [r for r in rows if r["subsystem"] == key]
        if mine:
            entry = {"title": title, "goal": GOALS[key], **counts(mine)}
            entry["meets_goal"] = entry["score"] is not None and entry["score"] >= GOALS[key]
            subsystems[key] = entry
    modules = {m: counts([r for r in rows if r["module"] == m])
               for m in dict.fromkeys(r["module"] for r in rows)}
    return {**meta, "total": counts(rows), "subsystems": subsystems, "modules": modules,
            "mutants": rows}


def table(result: dict[str, Any]) -> str:
    """The terminal table: one line per subsystem, then the total."""
    lines = [f"{'subsystem':26} {'run':>4} {'kill':>5} {'surv':>5} {'tout':>5} {'equi':>5} "
             f"{'unre':>5} {'inc':>4} {'nrun':>5} {'score':>6}  goal"]
    for entry in result["subsystems"].values():
        lines.append(_line(entry["title"], entry) + f"  {entry['goal']:.0%}"
                     + ("" if entry["meets_goal"] else "  BELOW GOAL"))
    lines.append(_line("total", result["total"]))
    return "\n".join(lines)


def _line(title: str, c: dict[str, Any]) -> str:
    score = "-" if c["score"] is None else f"{c['score']:.0%}"
    return (f"{title:26} {c['run']:>4} {c['killed']:>5} {c['survived']:>5} {c['timeout']:>5} "
            f"{c['equivalent']:>5} {c['unreachable']:>5} {c['incompetent']:>4} "
            f"{c['not-run']:>5} {score:>6}")


def trend_entry(result: dict[str, Any]) -> dict[str, Any]:
    """The figures of one run kept in the trend file."""
    return {"run_id": result["run_id"], "finished": result["finished"], "seed": result["seed"],
            "sample": result["sample"], "modules": len(result["modules"]),
            "score": result["total"]["score"], "run": result["total"]["run"],
            "subsystems": {k: v["score"] for k, v in result["subsystems"].items()}}


def append_trend(root: Path, result: dict[str, Any]) -> None:
    """Add this run's line to ``reports/mutation-trend.jsonl``."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / TREND_FILE).open("a") as out:
        out.write(json.dumps(trend_entry(result)) + "\n")


def load_trend(root: Path) -> list[dict[str, Any]]:
    """Every trend line, oldest first."""
    path = root / TREND_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def render(result: dict[str, Any], trend: list[dict[str, Any]]) -> str:
    """``mutation-score.html`` (the template ``report/templates/mutation-score.html.j2``):
    the score table, each survivor's diff, the trend."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("prsm_validate.report", "templates"),
                             autoescape=True)
    survivors = [m for m in result["mutants"] if m["outcome"] in ("survived", "timeout")]
    return env.get_template(TEMPLATE).render(r=result, trend=trend, survivors=survivors,
                                             pct=_pct)


def _pct(score: float | None) -> str:
    return "-" if score is None else f"{score:.0%}"
