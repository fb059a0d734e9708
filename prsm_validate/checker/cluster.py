"""Safety of the consensus cluster after a scenario: agreement plus the ledger on every honest
replica, from the replicas' own ``/log`` and ``/ledger`` (taken before and after the run).

Tests share one ledger, so each replica's ledger is judged relative to its state when the
scenario began: replaying the transfers applied since then, from the balances it had then, must
give the balances it has now, never overdraw, and apply exactly the acknowledged transfers of
this history once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prsm_validate.checker.agreement import NodeLog, check_agreement
from prsm_validate.checker.ledger import LedgerState, check_ledger, transfers_from_history
from prsm_validate.checker.verdict import UNKNOWN, Verdict, compose
from prsm_validate.history import Event

Ledger = Mapping[str, Any]  # a replica's /ledger body: balances, applied, genesis


def ledger_since(before: Ledger, after: Ledger) -> LedgerState:
    """The ledger ``after`` the scenario, with the state ``before`` it as its genesis."""
    applied = list(after["applied"])
    already = list(before["applied"])
    if applied[:len(already)] != already:
        # A replica's applied list only grows: a changed prefix is itself a safety violation.
        return LedgerState(sum(after["genesis"].values()), after["balances"], applied,
                           extra={"rewritten_history": True})
    return LedgerState(sum(after["genesis"].values()), after["balances"],
                       applied[len(already):], genesis_balances=dict(before["balances"]))


def check_replica_ledger(node: str, events: Sequence[Event], before: Ledger | None,
                         after: Ledger | None) -> Verdict:
    """The ledger checker on one replica, relative to its state before the scenario."""
    name = f"ledger@{node}"
    if before is None or after is None:
        return Verdict(name, UNKNOWN, f"{node} did not answer /ledger "
                       f"{'before' if before is None else 'after'} the scenario")
    state = ledger_since(before, after)
    if state.extra.get("rewritten_history"):
        return Verdict(name, False, f"{node} rewrote transfers applied before the scenario",
                       witness={"before": list(before["applied"])[-10:],
                                "after": list(after["applied"])[:len(before["applied"])][-10:]})
    verdict = check_ledger(transfers_from_history(events), state)
    verdict.checker = name
    return verdict


def check_cluster(events: Sequence[Event], logs: Sequence[NodeLog], honest: Iterable[str],
                  before: Mapping[str, Ledger | None], after: Mapping[str, Ledger | None]
                  ) -> Verdict:
    """Agreement of the honest replicas' logs, and every honest replica's ledger."""
    return compose(cluster_verdicts(events, logs, honest, before, after), "cluster-safety")


def cluster_verdicts(events: Sequence[Event], logs: Sequence[NodeLog], honest: Iterable[str],
                     before: Mapping[str, Ledger | None], after: Mapping[str, Ledger | None]
                     ) -> list[Verdict]:
    """The verdicts :func:`check_cluster` composes: agreement, then one ledger per replica."""
    honest = list(honest)
    verdicts = [check_agreement(logs, honest)]
    verdicts += [check_replica_ledger(n, events, before.get(n), after.get(n)) for n in honest]
    return verdicts
