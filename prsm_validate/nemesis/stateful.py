"""Fault schedules as a Hypothesis state machine: faults and client operations are rules,
safety is an invariant, and a failing schedule shrinks to a minimal one.

:func:`cluster_machine` builds a :class:`~hypothesis.stateful.RuleBasedStateMachine` class
bound to a live deployment: rules transfer tokens, kill/restart, pause/resume replicas, cut
and heal partitions and add link latency (never more than f replicas down or paused at once);
the invariant is agreement of the honest replicas' logs since the machine began; teardown
heals everything and checks the ledgers. Run it with
``hypothesis.stateful.run_state_machine_as_test(machine, settings=...)``.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from prsm_validate.checker.agreement import NodeLog, check_agreement
from prsm_validate.history import History
from prsm_validate.nemesis.core import PRIMARY_WAIT_S, ActiveFault, Nemesis

SHAPES = ("isolate", "isolate-primary", "halves", "majority-minority", "bridge")


def cluster_machine(nemesis: Nemesis, cluster: Any, api: Any,
                    accounts: list[str]) -> type[RuleBasedStateMachine]:
    """A state machine class driving ``nemesis`` against ``cluster`` through ``api``.

    The runs (examples) share one history and one starting ledger: a transfer still in flight
    when a run ends may be applied during the next one, so each run's ledger check judges every
    transfer since the first run began, all of them recorded.
    """
    names, f = list(cluster.names), cluster.f
    ids = itertools.count()
    history = History()
    before = cluster.settled_ledgers()

    class ClusterMachine(RuleBasedStateMachine):
        """One run: a random interleaving of transfers and faults on the live cluster."""

        def __init__(self) -> None:
            super().__init__()
            self.down: dict[str, ActiveFault] = {}
            self.partition: ActiveFault | None = None
            self.slow: list[ActiveFault] = []
            self.slowed: set[tuple[str, ...]] = set()
            self.start = max((v or 0) for v in cluster.last_executed().values())
            self.tag = uuid.uuid4().hex[:6]

        @rule(payer=st.sampled_from(accounts), payee=st.sampled_from(accounts),
              amount=st.integers(1, 5))
        def transfer(self, payer: str, payee: str, amount: int) -> None:
            if payer == payee:
                return
            op = {"id": f"sm-{self.tag}-{next(ids)}", "from": payer, "to": payee,
                  "amount": amount}
            process = history.new_process()
            with history.operation(process, "transfer", op) as recorder:
                response = api.call("transfer", op)
                kind = "ok" if response.ok else ("fail" if response.status < 500 else "info")
                getattr(recorder, kind)(op)

        @precondition(lambda self: len(self.down) < f)
        @rule(node=st.sampled_from(names), pause=st.booleans())
        def crash(self, node: str, pause: bool) -> None:
            if node not in self.down:
                start = nemesis.pause if pause else nemesis.kill
                self.down[node] = ActiveFault(nemesis, start(node))

        @precondition(lambda self: bool(self.down))
        @rule(data=st.data())
        def recover(self, data: st.DataObject) -> None:
            node = data.draw(st.sampled_from(sorted(self.down)))
            self.down.pop(node).heal()

        @precondition(lambda self: self.partition is None)
        @rule(shape=st.sampled_from(SHAPES))
        def cut(self, shape: str) -> None:
            if shape == "isolate-primary" and nemesis.agreed_primary(PRIMARY_WAIT_S) is None:
                return  # no primary agreed (a view change still going on): none to isolate
            self.partition = nemesis.partition(shape)

        @precondition(lambda self: self.partition is not None)
        @rule()
        def heal(self) -> None:
            assert self.partition is not None
            self.partition.heal()
            self.partition = None

        @precondition(lambda self: len(self.slow) < 2)
        @rule(pair=st.permutations(names).map(lambda p: p[:2]), ms=st.sampled_from([20, 100]))
        def slow_link(self, pair: list[str], ms: int) -> None:
            if tuple(pair) in self.slowed:  # one latency toxic per link
                return
            self.slowed.add(tuple(pair))
            self.slow.append(nemesis.link(pair[0], pair[1]).latency(ms, jitter=ms // 4))

        @invariant()
        def honest_logs_agree(self) -> None:
            logs = [NodeLog.from_json(n, data) for n in names
                    if (data := cluster.get(n, f"/log?from={self.start + 1}")) is not None]
            verdict = check_agreement(logs)
            assert verdict.valid is not False, verdict.to_json()

        def teardown(self) -> None:
            for fault in [*self.down.values(), *self.slow, self.partition]:
                if fault is not None:
                    fault.heal()
            verdict = cluster.safety(history.events, before)
            assert verdict, verdict.to_json()

    return ClusterMachine
