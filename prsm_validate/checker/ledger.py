"""Ledger checker: conserved supply, no negative balance, exactly-once acknowledged transfers.

Input is plain data: what clients attempted and were told (:class:`Transfer`), and what the
ledger shows afterwards (:class:`LedgerState`: final balances and the ids of applied transfers,
from node logs or the final state). Transfers with unknown outcome (``info``) may or may not
have been applied; one acknowledged ``ok`` must be applied exactly once; one that definitely
failed, or was never attempted, must not be applied at all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prsm_validate.checker.linear import operations
from prsm_validate.checker.ops import Op
from prsm_validate.checker.verdict import Verdict
from prsm_validate.history import Event

Amount = int  # token minor units: integer arithmetic keeps conservation exact


@dataclass(frozen=True)
class Transfer:
    """One attempted transfer and what the client was told (ok, fail or info)."""

    id: str
    source: str
    target: str
    amount: Amount
    outcome: str


@dataclass
class LedgerState:
    """The ledger after the run: balances, supply at genesis, applied transfer ids in order."""

    genesis_supply: Amount
    balances: Mapping[str, Amount]
    applied: Sequence[str]
    genesis_balances: Mapping[str, Amount] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def transfers_from_history(history: Iterable[Event] | Iterable[Op],
                           f: str = "transfer") -> list[Transfer]:
    """Transfers from history ops ``f`` whose value holds id, from/source, to/target, amount."""
    found = []
    for op in operations(history):
        if op.f == f and isinstance(op.value, dict):
            value = op.value
            found.append(Transfer(str(value["id"]), str(value.get("from", value.get("source"))),
                                  str(value.get("to", value.get("target"))),
                                  value["amount"], op.outcome))
    return found


def check_ledger(transfers: Sequence[Transfer], state: LedgerState) -> Verdict:
    """Supply conserved, no negative balance, acknowledged transfers applied exactly once,
    nothing applied that failed or was never attempted."""
    problems: dict[str, Any] = {}
    _conservation(state, problems)
    _negative(state, problems)
    _exactly_once(transfers, state, problems)
    if state.genesis_balances is not None:
        _replay(transfers, state, problems)
    figures = {"transfers": len(transfers), "applied": len(state.applied),
               "acknowledged": sum(t.outcome == "ok" for t in transfers),
               "unknown_outcome": sum(t.outcome == "info" for t in transfers),
               "supply": sum(state.balances.values())}
    if not problems:
        return Verdict("ledger", True, f"supply {state.genesis_supply} conserved, "
                       f"{figures['acknowledged']} acknowledged transfers applied once",
                       figures=figures)
    return Verdict("ledger", False, "; ".join(problems), witness=problems, figures=figures)


def _conservation(state: LedgerState, problems: dict[str, Any]) -> None:
    total = sum(state.balances.values())
    if total != state.genesis_supply:
        problems["supply not conserved"] = {
            "genesis_supply": state.genesis_supply, "sum_of_balances": total,
            "difference": total - state.genesis_supply}


def _negative(state: LedgerState, problems: dict[str, Any]) -> None:
    negative = {account: b for account, b in state.balances.items() if b < 0}
    if negative:
        problems["negative balance"] = negative


def _exactly_once(transfers: Sequence[Transfer], state: LedgerState,
                  problems: dict[str, Any]) -> None:
    counts = Counter(state.applied)
    by_id = {t.id: t for t in transfers}
    checks = {
        "acknowledged but not applied": [t.id for t in transfers
                                         if t.outcome == "ok" and not counts[t.id]],
        "applied more than once": [i for i, n in counts.items() if n > 1],
        "applied but never attempted": [i for i in counts if i not in by_id],
        "applied but failed": [i for i in counts if i in by_id and by_id[i].outcome == "fail"],
    }
    problems.update({k: sorted(v)[:50] for k, v in checks.items() if v})


def _replay(transfers: Sequence[Transfer], state: LedgerState,
            problems: dict[str, Any]) -> None:
    # Replaying the applied transfers from genesis must give the final balances and never
    # overdraw an account on the way.
    by_id = {t.id: t for t in transfers}
    balances = dict(state.genesis_balances or {})
    for transfer_id in state.applied:
        transfer = by_id.get(transfer_id)
        if transfer is None:
            continue
        balances[transfer.source] = balances.get(transfer.source, 0) - transfer.amount
        balances[transfer.target] = balances.get(transfer.target, 0) + transfer.amount
        if balances[transfer.source] < 0:
            problems.setdefault("overdrawn during replay", []).append(
                {"transfer": transfer_id, "account": transfer.source,
                 "balance": balances[transfer.source]})
    differing = {a: {"replayed": balances.get(a, 0), "reported": b}
                 for a, b in state.balances.items() if balances.get(a, 0) != b}
    if differing:
        problems["final balances differ from replay of applied transfers"] = differing
