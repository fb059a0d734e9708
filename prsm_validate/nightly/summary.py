"""The night's summary: ``summary.json`` for notification, one line for stdout, and a
distinct exit status per failure class.

Exit statuses (the worst class found decides, in this order):

==== ================ ========================================================================
code class            meaning
==== ================ ========================================================================
0    pass             every schedule, the soak and every stage passed; no regression
4    harness          the harness could not do its work (target did not start, a crash)
1    safety           an invariant checker found a violation (agreement, ledger, exactly-once)
3    availability     the system did not recover or serve within its bound
6    sla              the soak breached an SLA threshold (as pytest's SLA-only exit status)
5    unknown          something could not be decided or did not run: never a pass
7    regression       nothing failed, but a figure drifted beyond the limit from its median
2    usage            bad options (argparse's status), printed as one line
==== ================ ========================================================================
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prsm_validate.nightly.night import Night

EXIT = {"pass": 0, "safety": 1, "usage": 2, "availability": 3, "harness": 4, "unknown": 5,
        "sla": 6, "regression": 7}
RESOURCE_FIGURES = ("harness_peak_rss_mb", "harness_rss_mb_per_hour", "tree_peak_rss_mb")
PRECEDENCE = ("harness", "safety", "availability", "sla", "unknown", "regression")


def build(night: Night, resources: dict[str, Any]) -> dict[str, Any]:
    """Everything the night found, as plain data."""
    stages = [r.to_json() for r in night.results]
    classes = sorted({c for r in night.results for c in r.failure_classes})
    if night.harness_errors:
        classes.append("harness")
    if night.interrupted:  # cut short: what did not run cannot pass
        classes.append("unknown")
    outcomes = [o for r in night.results for o in r.details.get("outcomes", [])]
    return {
        "run_id": night.store.run_id, "kind": "nightly", "started": night.started_wall,
        "finished": time.time(), "budget_s": night.options.budget_s,
        "elapsed_s": round(night.budget.elapsed, 1), "seed": night.options.seed,
        "seed_was_auto": night.options.seed_was_auto, "target": night.target_info,
        "options": {"families": list(night.options.families), "rate": night.options.rate,
                    "thresholds": list(night.options.thresholds),
                    "drift_percent": night.options.drift_percent,
                    "trend_window": night.options.trend_window,
                    "keep_runs": night.options.keep_runs, "only": night.options.only},
        "failure_classes": sorted(set(classes)), "stages": stages, "outcomes": outcomes,
        "scenarios": {k: v for r in night.results for k, v in r.scenarios.items()},
        "figures": {**{k: v for r in night.results for k, v in r.figures.items()},
                    **{k: v for k, v in resources.items() if k in RESOURCE_FIGURES}},
        "resources": resources, "harness_errors": night.harness_errors,
        "interrupted": night.interrupted,
        "replay": f"prsm-validate nightly --target {night.options.target} "
                  f"--seed {night.options.seed} --budget {night.options.budget_s:g}s",
        "python": sys.version.split()[0],
    }


def trend_entry(data: dict[str, Any]) -> dict[str, Any]:
    """Tonight's line in ``trend.jsonl``."""
    return {"run_id": data["run_id"], "finished": data["finished"], "seed": data["seed"],
            "verdict": data.get("verdict"), "exit_status": data.get("exit_status"),
            "outcomes": data["scenarios"],
            "figures": {k: v for k, v in data["figures"].items()
                        if isinstance(v, int | float) and not isinstance(v, bool)}}


def settle(data: dict[str, Any]) -> None:
    """Decide the verdict, exit status and summary line (after regressions are known)."""
    classes = list(data["failure_classes"])
    if data.get("regressions", {}).get("regressions"):
        classes.append("regression")
    worst = next((c for c in PRECEDENCE if c in classes), "pass")
    data["failure_class"] = worst
    data["exit_status"] = EXIT[worst]
    data["verdict"] = "PASS" if worst == "pass" else "FAIL"
    data["summary_line"] = summary_line(data)


def summary_line(data: dict[str, Any]) -> str:
    """One line: verdict, schedules, soak, regressions, where the report is."""
    outcomes = data["outcomes"]
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome["verdict"]] = counts.get(outcome["verdict"], 0) + 1
    shrunk = [f"{o['name']} shrunk {len(o['shrink']['original'])}->"
              f"{len(o['shrink']['minimal'])}" for o in outcomes if o.get("shrink")]
    figures = data["figures"]
    soak = data["scenarios"].get("soak")
    parts = [f"prsm nightly {data['run_id']}: {data['verdict']}"
             + (f" ({data['failure_class']}, exit {data['exit_status']})"
                if data["verdict"] != "PASS" else ""),
             f"{len(outcomes)} schedules (" + ", ".join(
                 f"{n} {k}" for k, n in sorted(counts.items())) + ")"
             + (f" [{'; '.join(shrunk)}]" if shrunk else "")]
    if soak is not None:
        parts.append(f"soak {soak} at {figures.get('soak_achieved_rps')} rps, me p95 "
                     f"{figures.get('soak_me_p95_ms')} ms")
    regressions = data.get("regressions", {}).get("regressions", [])
    parts.append(f"{len(regressions)} regression{'s' if len(regressions) != 1 else ''}")
    if "harness_peak_rss_mb" in figures:
        parts.append(f"peak RSS {figures['harness_peak_rss_mb']} MB")
    if data.get("interrupted"):
        parts.append(str(data["interrupted"]))
    parts.append(f"{data['elapsed_s']:.0f}s of {data['budget_s']:g}s")
    return " — ".join(parts)
