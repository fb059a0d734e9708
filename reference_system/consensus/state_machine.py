"""The replicated, deterministic state machine: FTNS ledger, task queue, no-op.

Operations are JSON objects with ``op`` and a client-chosen ``id``:

- ``{"op": "transfer", "id", "from", "to", "amount"}``: moves a positive integer amount; never
  overdraws; a rejected transfer is still ordered and returns ``{"ok": false, "error"}``.
- ``{"op": "balance", "id", "account"}``.
- ``{"op": "task_submit", "id", "type", "payload", "priority"}``: appends a task and assigns
  it to ``workers[seq % len(workers)]`` (deterministic: derived from the sequence number).
- ``{"op": "task_get", "id"}``.
- ``{"op": "noop", "id"}``.

Every result carries the operation's ``id``. The snapshot (canonical JSON) also holds the last
reply per client, so deduplication survives state transfer as in PBFT.
"""

from __future__ import annotations

import json
from typing import Any

from reference_system.consensus.messages import canonical

Result = dict[str, Any]


class Ledger:
    """FTNS balances with a fixed total supply set at genesis."""

    def __init__(self, genesis: dict[str, int]) -> None:
        self.balances = {str(k): int(v) for k, v in genesis.items()}

    def transfer(self, op: dict[str, Any]) -> Result:
        """Move ``amount`` from ``from`` to ``to`` if the sender can pay."""
        source, target, amount = op.get("from"), op.get("to"), op.get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return {"ok": False, "error": "amount must be a positive integer"}
        if not isinstance(source, str) or not isinstance(target, str) or source == target:
            return {"ok": False, "error": "from and to must be two distinct accounts"}
        if self.balances.get(source, 0) < amount:
            return {"ok": False, "error": "insufficient funds"}
        self.balances[source] -= amount
        self.balances[target] = self.balances.get(target, 0) + amount
        return {"ok": True, "from_balance": self.balances[source]}

    def balance(self, op: dict[str, Any]) -> Result:
        """The balance of ``account`` (0 for unknown accounts)."""
        account = str(op.get("account"))
        return {"ok": True, "account": account, "balance": self.balances.get(account, 0)}

    def total_supply(self) -> int:
        """Sum of all balances (conserved by every transfer)."""
        return sum(self.balances.values())


class TaskQueue:
    """Tasks in consensus order, each assigned deterministically to a worker."""

    def __init__(self, workers: list[str]) -> None:
        self.workers = workers
        self.tasks: dict[str, dict[str, Any]] = {}

    def submit(self, op: dict[str, Any], seq: int) -> Result:
        """Append a task; duplicate ids are rejected (still ordered)."""
        task_id = op.get("id")
        if not isinstance(task_id, str) or task_id in self.tasks:
            return {"ok": False, "error": "task id missing or already used"}
        task = {"id": task_id, "type": op.get("type"), "payload": op.get("payload"),
                "priority": op.get("priority", 0), "seq": seq, "position": len(self.tasks),
                "worker": self.workers[seq % len(self.workers)], "status": "assigned"}
        self.tasks[task_id] = task
        return {"ok": True, "task": task}

    def get(self, op: dict[str, Any]) -> Result:
        """The task with the operation's ``id``."""
        task = self.tasks.get(str(op.get("id")))
        return {"ok": True, "task": task} if task else {"ok": False, "error": "no such task"}


class StateMachine:
    """Ledger + task queue + the reply cache, with canonical snapshots."""

    def __init__(self, genesis: dict[str, int], workers: list[str]) -> None:
        self.genesis = dict(genesis)
        self.workers = list(workers)
        self.ledger = Ledger(genesis)
        self.tasks = TaskQueue(self.workers)
        self.replies: dict[str, tuple[int, Any]] = {}

    def apply(self, op: dict[str, Any], seq: int) -> Result:
        """Execute one operation at sequence ``seq``; unknown operations are errors."""
        kind = op.get("op")
        if kind == "transfer":
            result = self.ledger.transfer(op)
        elif kind == "balance":
            result = self.ledger.balance(op)
        elif kind == "task_submit":
            result = self.tasks.submit(op, seq)
        elif kind == "task_get":
            result = self.tasks.get(op)
        elif kind == "noop":
            result = {"ok": True}
        else:
            result = {"ok": False, "error": f"unknown operation {kind!r}"}
        return {"id": op.get("id"), **result}

    def snapshot(self) -> bytes:
        """Canonical bytes of the whole state (its sha256 is the checkpoint digest)."""
        return canonical({"balances": self.ledger.balances, "tasks": self.tasks.tasks,
                          "replies": {c: list(v) for c, v in self.replies.items()}})

    def restore(self, snapshot: bytes) -> None:
        """Replace the state with a snapshot taken by :meth:`snapshot`."""
        data = json.loads(snapshot)
        self.ledger.balances = {k: int(v) for k, v in data["balances"].items()}
        self.tasks.tasks = data["tasks"]
        self.replies = {c: (int(v[0]), v[1]) for c, v in data["replies"].items()}
