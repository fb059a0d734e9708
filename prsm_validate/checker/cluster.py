"""Safety of the consensus cluster after a scenario: agreement plus the ledger on every honest
replica, from the replicas' own ``/log`` and ``/ledger`` (taken before and after the run).

Tests share one ledger, so each replica's ledger is judged relative to its state when the
scenario began: replaying the transfers applied since then, from the balances it had then, must
give the balances it has now, never overdraw, and apply exactly the acknowledged transfers of
this history once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

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


class Replicas(Protocol):
    """What the safety check reads from a cluster: each replica's log, ledger and status."""

    names: list[str]

    def wait_caught_up(self, names: list[str], timeout_s: float) -> dict[str, int]: ...
    def logs(self, names: Iterable[str] | None = None, since: int | None = None
             ) -> list[NodeLog]: ...
    def ledgers(self, names: Iterable[str] | None = None) -> dict[str, Ledger | None]: ...
    def statuses(self, names: Iterable[str] | None = None) -> dict[str, Any]: ...


def cluster_safety(cluster: Replicas, events: Sequence[Event],
                   before: Mapping[str, Ledger | None], honest: Iterable[str] | None = None,
                   catch_up_s: float = 30.0, since: int | None = None) -> Verdict:
    """Agreement and per-replica ledgers of the ``honest`` replicas (default all), after
    waiting until they caught up with the most advanced one; agreement of the entries from
    sequence number ``since`` on when given (one trial on a long-lived cluster), else of
    whole logs."""
    honest = list(honest or cluster.names)
    caught_up = _caught_up(cluster, honest, catch_up_s)
    verdicts = cluster_verdicts(events, cluster.logs(honest, since), honest, before,
                                cluster.ledgers(honest))
    return compose([caught_up, *verdicts], "cluster-safety")


def _caught_up(cluster: Replicas, honest: list[str], timeout_s: float) -> Verdict:
    started = time.monotonic()
    try:
        reached = cluster.wait_caught_up(honest, timeout_s)
    except TimeoutError as exc:
        return Verdict("caught-up", False, str(exc), witness=cluster.statuses(honest))
    return Verdict("caught-up", True, f"every honest replica reached sequence "
                   f"{min(reached.values())} in {time.monotonic() - started:.2f}s",
                   figures={"last_executed": reached})


def assert_safe(cluster: Replicas, events: Sequence[Event],
                before: Mapping[str, Ledger | None],
                record_property: Callable[[str, Any], None]) -> None:
    """Judge the cluster's safety since ``before`` (its settled ledgers), record the verdict
    as the test's ``safety`` property and fail the test with it when it is not valid."""
    from prsm_validate.errors import require_valid

    verdict = cluster_safety(cluster, events, before)
    record_property("safety", verdict.to_json())
    require_valid(verdict)
