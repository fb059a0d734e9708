"""The replicated, deterministic state machine: FTNS ledger, task queue, no-op.

Operations are JSON objects with ``op`` and a client-chosen ``id``:

- ``{"op": "transfer", "id", "from", "to", "amount"}``: moves a positive integer amount; never
  overdraws; a rejected transfer is still ordered and returns ``{"ok": false, "error"}``. A
  transfer id applies at most once and names one request: a later transfer with an applied id
  and the same ``from``, ``to`` and ``amount`` changes nothing and returns the first outcome
  with ``"duplicate": true`` (so an API retry is exactly-once); with any other body it changes
  nothing and is refused with ``"conflict": true`` (another user's id reused, or a client
  bug: it was answered ``applied`` before, while nothing moved). The source account names the
  owner (the API lets a user spend only from their own accounts), so the body binds both.
- ``{"op": "ledger", "id"}``: balances and the applied transfer ids in order.
- ``{"op": "balance", "id", "account"}``.
- ``{"op": "task_submit", "id", "type", "payload", "priority"}``: appends a task and assigns
  it to ``workers[seq % len(workers)]`` (deterministic: derived from the sequence number).
- ``{"op": "task_get", "id"}``.
- ``{"op": "noop", "id"}``.

Every result carries the operation's ``id``. The snapshot (canonical JSON) also holds the last
reply per client, so deduplication survives state transfer as in PBFT.

Checkpoints cost what changed, not the whole history: the applied transfers (with their
outcomes) and the tasks only grow, so each is digested by a running hash chain extended as
items are appended; a checkpoint digest hashes the balances, the reply cache and the two chain
heads (:meth:`StateMachine.digest`). A :class:`Mark` remembers a checkpoint's small parts and
the lengths of the grown parts, so its snapshot bytes are produced only when a lagging peer
asks for them (:meth:`StateMachine.snapshot_at`). Without this every checkpoint re-serialised
the whole history: a replica's restart replay grew quadratically with the log (a node took
more than 30 s to come back late in a CI run).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

from reference_system.consensus.messages import canonical, sha256_hex

Result = dict[str, Any]


class Chain:
    """A running sha256 over appended items: the digest of a growing list, kept up to date
    in O(1) per append instead of re-reading the list."""

    def __init__(self) -> None:
        self.count = 0
        self.head = b""

    def add(self, item: Any) -> None:
        """Extend the chain by one item."""
        self.head = hashlib.sha256(self.head + canonical(item)).digest()
        self.count += 1

    def value(self) -> list[Any]:
        """``[length, head]``: what a digest covers."""
        return [self.count, self.head.hex()]


def _request(op: dict[str, Any]) -> list[Any]:
    """What a transfer id is bound to: its source (hence its owner), target and amount."""
    return [op.get("from"), op.get("to"), op.get("amount")]


class Ledger:
    """FTNS balances with a fixed total supply set at genesis."""

    def __init__(self, genesis: dict[str, int]) -> None:
        self.balances = {str(k): int(v) for k, v in genesis.items()}
        self.applied: list[str] = []  # transfer ids in the order they took effect
        self.outcomes: dict[str, Result] = {}
        self.chain = Chain()  # over [id, outcome] of each applied transfer

    def transfer(self, op: dict[str, Any]) -> Result:
        """Apply the transfer once per id; a repeated id returns the first outcome."""
        transfer_id = op.get("id")
        if isinstance(transfer_id, str) and transfer_id in self.outcomes:
            first = self.outcomes[transfer_id]
            if first.get("request", _request(op)) != _request(op):
                return {"ok": False, "conflict": True,
                        "error": "transfer id already used for another transfer"}
            return {**{k: v for k, v in first.items() if k != "request"}, "duplicate": True}
        result = self._move(op)
        if isinstance(transfer_id, str) and result["ok"]:
            self.remember(transfer_id, {**result, "request": _request(op)})
        return result

    def remember(self, transfer_id: str, outcome: Result) -> None:
        """Record an applied transfer (in execution order or when restoring a snapshot)."""
        self.outcomes[transfer_id] = outcome
        self.applied.append(transfer_id)
        self.chain.add([transfer_id, outcome])

    def _move(self, op: dict[str, Any]) -> Result:
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

    def state(self) -> Result:
        """Balances and applied transfer ids (for checkers)."""
        return {"ok": True, "balances": dict(self.balances), "applied": list(self.applied)}

    def total_supply(self) -> int:
        """Sum of all balances (conserved by every transfer)."""
        return sum(self.balances.values())


class TaskQueue:
    """Tasks in consensus order, each assigned deterministically to a worker."""

    def __init__(self, workers: list[str]) -> None:
        self.workers = workers
        self.tasks: dict[str, dict[str, Any]] = {}  # in submission (position) order
        self.chain = Chain()  # over each task as submitted

    def submit(self, op: dict[str, Any], seq: int) -> Result:
        """Append a task; duplicate ids are rejected (still ordered)."""
        task_id = op.get("id")
        if not isinstance(task_id, str) or task_id in self.tasks:
            return {"ok": False, "error": "task id missing or already used"}
        task = {"id": task_id, "type": op.get("type"), "payload": op.get("payload"),
                "priority": op.get("priority", 0), "seq": seq, "position": len(self.tasks),
                "worker": self.workers[seq % len(self.workers)], "status": "assigned"}
        self.remember(task)
        return {"ok": True, "task": task}

    def remember(self, task: dict[str, Any]) -> None:
        """Append a task (at submission or when restoring a snapshot, in position order)."""
        self.tasks[task["id"]] = task
        self.chain.add(task)

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
        elif kind == "ledger":
            result = self.ledger.state()
        elif kind == "noop":
            result = {"ok": True}
        else:
            result = {"ok": False, "error": f"unknown operation {kind!r}"}
        return {"id": op.get("id"), **result}

    def mark(self) -> Mark:
        """Remember the current state cheaply (for a checkpoint): copies of the small parts,
        lengths of the append-only ones, and its digest."""
        balances, replies = dict(self.ledger.balances), dict(self.replies)
        return Mark(balances, replies, len(self.ledger.applied), len(self.tasks.tasks),
                    self._digest(balances, replies))

    def digest(self) -> str:
        """The digest of the current state (what a CHECKPOINT certifies)."""
        return self._digest(self.ledger.balances, self.replies)

    def _digest(self, balances: dict[str, int], replies: dict[str, Any]) -> str:
        return sha256_hex(canonical({
            "balances": balances, "replies": {c: list(v) for c, v in replies.items()},
            "applied": self.ledger.chain.value(), "tasks": self.tasks.chain.value()}))

    def snapshot(self) -> bytes:
        """Canonical bytes of the whole current state."""
        return self.snapshot_at(self.mark())

    def snapshot_at(self, mark: Mark) -> bytes:
        """Canonical bytes of the state when ``mark`` was taken (the applied transfers and
        tasks since then are left out)."""
        applied = self.ledger.applied[:mark.applied]
        tasks = list(itertools.islice(self.tasks.tasks.values(), mark.tasks))
        return canonical({"balances": mark.balances, "applied": applied,
                          "outcomes": {t: self.ledger.outcomes[t] for t in applied},
                          "tasks": tasks,
                          "replies": {c: list(v) for c, v in mark.replies.items()}})

    def restore(self, snapshot: bytes) -> None:
        """Replace the state with a snapshot taken by :meth:`snapshot` (chains recomputed)."""
        data = json.loads(snapshot)
        self.ledger = Ledger({k: int(v) for k, v in data["balances"].items()})
        for transfer_id in data["applied"]:
            self.ledger.remember(transfer_id, data["outcomes"][transfer_id])
        self.tasks = TaskQueue(self.workers)
        for task in sorted(data["tasks"], key=lambda t: t["position"]):
            self.tasks.remember(task)
        self.replies = {c: (int(v[0]), v[1]) for c, v in data["replies"].items()}


@dataclass(frozen=True)
class Mark:
    """A checkpoint's state: its small parts copied, its append-only parts by length."""

    balances: dict[str, int]
    replies: dict[str, tuple[int, Any]]
    applied: int
    tasks: int
    digest: str
