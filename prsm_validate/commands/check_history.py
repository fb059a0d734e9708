"""``prsm-validate check-history FILE --model M``: check a recorded history, print the verdict.

Exit status: 0 valid, 1 invalid, 2 unknown (budget exhausted or nothing to decide), 3 the file
cannot be read as a history (a one-line error naming the file and line).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

NAME = "check-history"
HELP = ("Check a history (JSON Lines or a Jepsen text log) for linearizability (register, "
        "cas-register, kv) or set semantics; exit 0 valid, 1 invalid, 2 unknown, 3 bad file.")
MODELS = ("register", "cas-register", "kv", "set", "total-queue")
EXIT = {True: 0, False: 1, "unknown": 2}
BAD_FILE = 3


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``check-history``."""
    parser.add_argument("file", type=Path, help="history file")
    parser.add_argument("--model", required=True, choices=MODELS, help="what the history is of")
    parser.add_argument("--format", choices=("jsonl", "jepsen"), default=None,
                        help="file format (default: detected from the content)")
    parser.add_argument("--budget-seconds", type=float, default=10.0,
                        help="search time after which the verdict is unknown (default 10)")
    parser.add_argument("--json", action="store_true",
                        help="print only the verdict as one JSON object")


def run(args: argparse.Namespace) -> int:
    """Load, check, print; return the exit status."""
    from prsm_validate.checker import HistoryError, check_linearizable, check_set
    from prsm_validate.checker.sets import check_total_queue
    from prsm_validate.history_formats import HistoryFormatError, load_history

    try:
        loaded = load_history(args.file, args.format)
        if args.model == "set":
            verdict = check_set(loaded.events)
        elif args.model == "total-queue":
            verdict = check_total_queue(loaded.events)
        else:
            verdict = check_linearizable(loaded.events, args.model, args.budget_seconds)
    except HistoryFormatError as exc:
        return _bad_file(str(exc))
    except HistoryError as exc:
        line = loaded.line_of(exc.index)
        return _bad_file(f"{args.file}:{line if line is not None else '?'}: {exc}")
    _print(verdict, args.json)
    return EXIT[verdict.valid]


def _bad_file(message: str) -> int:
    print(f"prsm-validate check-history: {message}", file=sys.stderr)
    return BAD_FILE


def _print(verdict: object, as_json: bool) -> None:
    data = verdict.to_json()  # type: ignore[attr-defined]
    if as_json:
        print(json.dumps(data))
        return
    print(verdict)
    if data["witness"] is not None:
        print("witness:")
        print(json.dumps(data["witness"], indent=2))
    print("figures: " + json.dumps({k: v for k, v in data["figures"].items()
                                    if not isinstance(v, list | dict)}))
