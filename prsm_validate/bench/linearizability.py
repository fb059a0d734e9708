"""``prsm-validate bench linearizability``: the checker's time per history of a corpus.

By default the public Jepsen etcd histories kept under ``fixtures/histories`` (cas-register);
``--corpus DIR`` checks every ``*.log``/``*.jsonl`` file of a directory instead, e.g. the 102
etcd logs Porcupine ships in ``test_data/jepsen``. Every file is checked in this one process,
with a budget counted in search steps (the same verdict however busy the machine is). Per file
it prints the verdict, CPU and wall seconds, steps and configurations; then the totals, the
slowest files and, with ``--peer-seconds`` (another checker's time on the same corpus, e.g.
Porcupine's), the ratio of our wall time to it. JSON on the last line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

NAME = "linearizability"
HELP = ("Linearizability checker time per history of a corpus (fixtures, or --corpus DIR), "
        "in one process; JSON on the last line.")
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "histories"
MAX_STEPS = 50_000_000


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the linearizability benchmark."""
    parser.add_argument("--corpus", type=Path, default=None,
                        help="directory of histories (default: the etcd logs in fixtures/)")
    parser.add_argument("--model", default="cas-register",
                        choices=("register", "cas-register", "kv"))
    parser.add_argument("--max-steps", type=int, default=MAX_STEPS,
                        help=f"search steps per file before unknown (default {MAX_STEPS})")
    parser.add_argument("--peer-seconds", type=float, default=None,
                        help="another checker's total on the same corpus, for the ratio")


def corpus_files(corpus: Path | None) -> list[Path]:
    """The histories to check, sorted."""
    if corpus is None:
        return sorted(FIXTURES.glob("etcd_*.log"))
    if not corpus.is_dir():
        raise SystemExit(f"--corpus {corpus}: not a directory")
    files = sorted(p for p in corpus.iterdir() if p.suffix in (".log", ".jsonl"))
    if not files:
        raise SystemExit(f"--corpus {corpus}: no .log or .jsonl files")
    return files


def check_one(path: Path, model: str, max_steps: int) -> dict[str, Any]:
    """One file's verdict and costs (an unreadable file is reported, not raised)."""
    from prsm_validate.checker import HistoryError, check_linearizable
    from prsm_validate.history_formats import HistoryFormatError, iter_history

    wall, cpu = time.perf_counter(), time.process_time()
    try:
        verdict = check_linearizable((e for _, e in iter_history(path)), model,
                                     budget_seconds=None, max_steps=max_steps)
    except (HistoryFormatError, HistoryError) as exc:
        return {"file": path.name, "verdict": "UNREADABLE", "error": str(exc)[:200],
                "seconds": time.perf_counter() - wall, "cpu_seconds": 0.0}
    figures = verdict.figures or {}
    return {"file": path.name, "verdict": verdict.label, "ops": figures.get("ops"),
            "steps": figures.get("steps"), "configurations": figures.get("configurations"),
            "seconds": time.perf_counter() - wall,
            "cpu_seconds": time.process_time() - cpu}


def run(args: argparse.Namespace) -> int:
    """Check every file; print one line each, the totals; JSON on the last line."""
    rows = []
    for path in corpus_files(args.corpus):
        rows.append(check_one(path, args.model, args.max_steps))
        row = rows[-1]
        print(f"{row['file']:24} {row['verdict']:10} {row['seconds'] * 1000:9.1f} ms "
              f"(CPU {row['cpu_seconds'] * 1000:8.1f} ms) steps {row.get('steps')}", flush=True)
    total = sum(r["seconds"] for r in rows)
    cpu = sum(r["cpu_seconds"] for r in rows)
    counts = {v: sum(r["verdict"] == v for r in rows)
              for v in ("VALID", "INVALID", "UNKNOWN", "UNREADABLE")}
    slowest = sorted(rows, key=lambda r: r["seconds"], reverse=True)[:3]
    print(f"{len(rows)} files in {total:.3f} s (CPU {cpu:.3f} s): "
          + ", ".join(f"{n} {v.lower()}" for v, n in counts.items()) + "; slowest "
          + ", ".join(f"{r['file']} {r['seconds']:.3f} s" for r in slowest))
    result: dict[str, Any] = {"files": len(rows), "seconds": round(total, 4),
                              "cpu_seconds": round(cpu, 4), **counts,
                              "slowest": [r["file"] for r in slowest]}
    if args.peer_seconds:
        result["ratio_to_peer"] = round(total / args.peer_seconds, 2)
        print(f"{result['ratio_to_peer']}x the peer's {args.peer_seconds:g} s")
    result["per_file"] = [{k: (round(v, 4) if isinstance(v, float) else v)
                           for k, v in r.items()} for r in rows]
    print(json.dumps(result))
    return 0 if not counts["UNREADABLE"] else 3
