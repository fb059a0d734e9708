"""``prsm-validate check-history PATH... --model M``: check recorded histories, print verdicts.

Each PATH is a history file or a directory (its ``*.jsonl`` and ``*.log`` files, sorted), all
checked in this one process. One file prints its verdict, witness and figures; several print
one verdict line each and a summary line. Exit status: 0 valid, 1 invalid, 2 unknown (budget
exhausted or nothing to decide), 3 a file cannot be read as a history (a one-line error
naming the file and line); for several files, the worst of them (3 > 1 > 2 > 0).

Files are read as the checker consumes them, so memory holds the operations, not every event
and line; the ``--budget-seconds`` clock starts before reading, so a huge file is cut short
too (unknown), never checked for longer than asked.
"""

from __future__ import annotations

import argparse
import bisect
import json
import sys
import time
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

NAME = "check-history"
HELP = ("Check histories (JSON Lines or Jepsen text logs; files or directories) for "
        "linearizability (register, cas-register, kv) or set semantics; exit 0 valid, "
        "1 invalid, 2 unknown, 3 bad file (the worst of them for several).")
MODELS = ("register", "cas-register", "kv", "set", "total-queue")
EXIT = {True: 0, False: 1, "unknown": 2}
BAD_FILE = 3
SEVERITY = (0, 2, 1, 3)  # exit statuses, mildest first
SUFFIXES = (".jsonl", ".log")
DEFAULT_BUDGET_S = 10.0


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``check-history``."""
    parser.add_argument("paths", type=Path, nargs="+", metavar="PATH",
                        help="history files, or directories of *.jsonl / *.log files")
    parser.add_argument("--model", required=True, choices=MODELS, help="what the history is of")
    parser.add_argument("--format", choices=("jsonl", "jepsen"), default=None,
                        help="file format (default: detected from the content)")
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help="wall-clock time per file after which the verdict is unknown "
                        f"(default {DEFAULT_BUDGET_S:g}, or none when --max-steps is given)")
    parser.add_argument("--max-steps", type=int, default=None,
                        help="search steps per file after which the verdict is unknown: a "
                        "budget that gives the same verdict however busy the machine is")
    parser.add_argument("--json", action="store_true",
                        help="print each verdict as one JSON object per line")


def run(args: argparse.Namespace) -> int:
    """Check every file; print verdicts (and a summary for several); the worst exit status."""
    try:
        files = expand(args.paths)
    except ValueError as exc:
        return _bad_file(str(exc))
    seconds = args.budget_seconds
    if seconds is None and args.max_steps is None:
        seconds = DEFAULT_BUDGET_S
    if seconds is not None and not seconds > 0:  # also rejects NaN
        return _bad_file(f"--budget-seconds must be a positive number, got {seconds}")
    statuses = []
    for path in files:
        started = time.monotonic()
        status, verdict = check_file(path, args.model, args.format, seconds, args.max_steps)
        statuses.append(status)
        if verdict is not None:
            _print(path, verdict, args.json, single=len(files) == 1,
                   seconds=time.monotonic() - started)
    worst = max(statuses, key=SEVERITY.index)
    if len(files) > 1:
        _summary(statuses, worst, args.json)
    return worst


def expand(paths: list[Path]) -> list[Path]:
    """Files named, and the history files of directories named (sorted); ValueError if none."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in SUFFIXES)
            if not found:
                raise ValueError(f"{path}: a directory with no {' or '.join(SUFFIXES)} files")
            files += found
        else:
            files.append(path)  # a missing file is reported when it is checked
    return files


def check_file(path: Path, model: str, format: str | None, seconds: float | None,
               max_steps: int | None) -> tuple[int, Any]:
    """(exit status, verdict or None when the file is unreadable, the error printed)."""
    from prsm_validate.checker import HistoryError, check_linearizable
    from prsm_validate.checker.linear import Budget
    from prsm_validate.checker.sets import check_set, check_total_queue
    from prsm_validate.history_formats import HistoryFormatError, iter_history

    budget = Budget(seconds, max_steps)  # the clock runs from before reading the file
    lines = _LineMap()
    try:
        events = lines.follow(iter_history(path, format))
        if model == "set":
            verdict = check_set(list(events))
        elif model == "total-queue":
            verdict = check_total_queue(list(events))
        else:
            verdict = check_linearizable(events, model, budget=budget)
    except HistoryFormatError as exc:
        return _bad_file(str(exc)), None
    except HistoryError as exc:
        line = lines.line_of(exc.index)
        return _bad_file(f"{path}:{line if line is not None else '?'}: {exc}"), None
    except (OSError, UnicodeError) as exc:
        return _bad_file(f"{path}: cannot be read: {exc}"), None
    return EXIT[verdict.valid], verdict


class _LineMap:
    """Source line of each event read, kept compactly (two machine-word arrays)."""

    def __init__(self) -> None:
        self.indices = array("q")
        self.lines = array("q")

    def follow(self, pairs: Iterator[tuple[int, Any]]) -> Iterator[Any]:
        """The events of ``(line, event)`` pairs, noting each one's line."""
        for line, event in pairs:
            self.indices.append(event.index)
            self.lines.append(line)
            yield event

    def line_of(self, index: int | None) -> int | None:
        """The line of the event with ``index`` (the latest read, or found by bisection:
        indices increase, or pairing would have stopped at the first that did not)."""
        if index is None or not self.indices:
            return None
        if self.indices[-1] == index:
            return self.lines[-1]
        position = bisect.bisect_left(self.indices, index, 0, len(self.indices) - 1)
        if position < len(self.indices) and self.indices[position] == index:
            return self.lines[position]
        return None


def _bad_file(message: str) -> int:
    print(f"prsm-validate check-history: {message}", file=sys.stderr)
    return BAD_FILE


def _print(path: Path, verdict: Any, as_json: bool, single: bool, seconds: float) -> None:
    data = verdict.to_json()
    if as_json:
        print(json.dumps(data if single else {"file": str(path), **data}))
        return
    if not single:
        print(f"{path}: {verdict.label} ({seconds:.3f} s)"
              + (f" - {verdict.reason}" if verdict.valid is not True else ""))
        return
    print(verdict)
    if data["witness"] is not None:
        print("witness:")
        print(json.dumps(data["witness"], indent=2))
    print("figures: " + json.dumps({k: v for k, v in data["figures"].items()
                                    if not isinstance(v, list | dict)}))


def _summary(statuses: list[int], worst: int, as_json: bool) -> None:
    counts = {name: statuses.count(status) for name, status in
              (("valid", 0), ("invalid", 1), ("unknown", 2), ("unreadable", BAD_FILE))}
    if as_json:
        print(json.dumps({"files": len(statuses), **counts, "exit": worst}))
    else:
        print(f"{len(statuses)} files: " + ", ".join(f"{n} {k}" for k, n in counts.items())
              + f"; exit {worst}")
