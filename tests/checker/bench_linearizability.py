"""Speed of the linearizability checker on cas-register histories (a figure, not a test).

Histories come from a simulated linearizable cas-register shared by a few concurrent processes:
each operation takes effect at a random moment between its invocation and completion, and a
small fraction time out (``info``; such an operation takes effect or not, at random). So every
generated history is linearizable and the search has to find a linearization.

Run: ``.venv/bin/python -m tests.checker.bench_linearizability [--processes 5] [--budget 10]``.
Prints one line per size and, last, a JSON object with operations checked per second and the
largest history checked within the budget.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

from prsm_validate.checker import check_linearizable
from prsm_validate.history import Event

VALUES = range(5)


@dataclass
class _Pending:
    process: int
    f: str
    value: Any
    applied: bool = False
    output: Any = None
    outcome: str = "ok"


@dataclass
class SimulatedRegister:
    """A linearizable cas-register driven by ``processes`` concurrent clients."""

    processes: int
    seed: int
    info_rate: float = 0.01
    state: Any = None
    events: list[Event] = field(default_factory=list)

    def run(self, operations: int) -> list[Event]:
        """Events of ``operations`` invocations (all completed by the end)."""
        rng = random.Random(self.seed)
        idle, pending, invoked, next_process = list(range(self.processes)), [], 0, self.processes
        while invoked < operations or pending:
            choice = rng.random()
            if idle and invoked < operations and (choice < 0.4 or not pending):
                pending.append(self._invoke(idle.pop(rng.randrange(len(idle))), rng))
                invoked += 1
                continue
            op = rng.choice(pending)
            if not op.applied and choice < 0.7:
                self._apply(op)
                continue
            pending.remove(op)
            if self._complete(op, rng):
                idle.append(op.process)
            else:
                idle.append(next_process)
                next_process += 1
        return self.events

    def _emit(self, process: int, kind: str, f: str, value: Any) -> None:
        index = len(self.events)
        self.events.append(Event(index, index, process, kind, f, value))  # type: ignore[arg-type]

    def _invoke(self, process: int, rng: random.Random) -> _Pending:
        f = rng.choice(["read", "write", "cas"])
        value = {"read": None, "write": rng.choice(VALUES),
                 "cas": [rng.choice(VALUES), rng.choice(VALUES)]}[f]
        self._emit(process, "invoke", f, value)
        return _Pending(process, f, value)

    def _apply(self, op: _Pending) -> None:
        op.applied = True
        if op.f == "read":
            op.output = self.state
        elif op.f == "write":
            self.state, op.output = op.value, op.value
        elif self.state == op.value[0]:
            self.state, op.output = op.value[1], op.value
        else:
            op.outcome, op.output = "fail", op.value

    def _complete(self, op: _Pending, rng: random.Random) -> bool:
        """Emit the completion; False when it was a timeout (the process is retired)."""
        if rng.random() < self.info_rate:
            if not op.applied and rng.random() < 0.5:
                self._apply(op)  # a timed-out operation that took effect anyway
            self._emit(op.process, "info", op.f, op.value)
            return False
        if not op.applied:
            self._apply(op)
        self._emit(op.process, op.outcome, op.f, op.output)
        return True


def measure(operations: int, processes: int, budget: float, runs: int,
            info_rate: float = 0.01) -> dict[str, Any]:
    """Median figures of ``runs`` checks of differently seeded histories of one size."""
    results = []
    for seed in range(runs):
        events = SimulatedRegister(processes, seed, info_rate).run(operations)
        started = time.perf_counter()
        verdict = check_linearizable(events, "cas-register", budget_seconds=budget)
        results.append((time.perf_counter() - started, verdict))
    seconds = statistics.median(s for s, _ in results)
    return {"ops": operations, "seconds": round(seconds, 3),
            "ops_per_second": round(operations / seconds),
            "verdicts": [v.label for _, v in results]}


def main(argv: list[str] | None = None) -> int:
    """Double the history size until a check no longer finishes within the budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=5)
    parser.add_argument("--budget", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--info-rate", type=float, default=0.01,
                        help="fraction of operations that time out (info)")
    parser.add_argument("--start", type=int, default=500)
    parser.add_argument("--max-ops", type=int, default=2_000_000)
    args = parser.parse_args(argv)
    rows, size = [], args.start
    while size <= args.max_ops:
        row = measure(size, args.processes, args.budget, args.runs, args.info_rate)
        print(json.dumps(row), flush=True)
        if any(v != "VALID" for v in row["verdicts"]) or row["seconds"] > args.budget:
            break
        rows.append(row)
        size *= 2
    largest = rows[-1] if rows else None
    print(json.dumps({"model": "cas-register", "processes": args.processes,
                      "info_rate": args.info_rate,
                      "budget_seconds": args.budget,
                      "largest_ops_within_budget": largest and largest["ops"],
                      "ops_per_second": largest and largest["ops_per_second"],
                      "sizes": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
