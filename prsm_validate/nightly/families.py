"""The nightly's schedule families: what each randomises, on which components, under which
workload, judged by which checkers.

- ``consensus``: kills, pauses (also of the primary of the moment) and restarts of replicas,
  with some link latency, during FTNS transfers; safety (agreement + every replica's ledger)
  and recovery (commits resume within a bound after the schedule heals).
- ``partition``: partition shapes and link faults (blackhole, reset, latency, bandwidth) on
  the consensus links, same workload and checks.
- ``pipeline``: kills, pauses and restarts of the pipeline consumer and the broker, and cuts of
  the pipeline -> broker link, while the nightly publishes telemetry as its own device; every
  acknowledged reading must land exactly once, and publishing must resume after the heal.
- ``edge``: kills, pauses and restarts of the edge agent during inference requests; the API
  must serve them by failing over to the cloud and send traffic back to the edge afterwards.
"""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prsm_validate.checker.liveness import FaultWindow, check_recovery, progress_from_history
from prsm_validate.checker.verdict import UNKNOWN, Verdict
from prsm_validate.generator.schedule import ScheduleConfig
from prsm_validate.nightly.trial import AVAILABILITY, SAFETY, Check, Trial, wait_for
from prsm_validate.targets import base

RECOVERY_BOUND_S = 15.0  # commits / publishes must resume this soon after the last heal
EDGE_RETURN_BOUND_S = 5.0
FAILOVER_MIN_SUCCESS = 0.999


@dataclass(frozen=True)
class Family:
    """A kind of schedule: its vocabulary, its components, its workload and checks."""

    name: str
    requires: frozenset[str]
    duration_s: float
    config: ScheduleConfig
    components: Callable[[base.Deployment], list[str]]
    run: Callable[[Trial], list[Check]]


def _replicas(deployment: base.Deployment) -> list[str]:
    return [node.id for node in deployment.nodes]


# ---- transfers (consensus, partition) ------------------------------------------------------


def transfers(trial: Trial, before_ops: int = 10, after_ops: int = 20) -> list[Check]:
    """FTNS transfers from 4 clients through the schedule; safety and recovery checks."""
    from prsm_validate.client.api import ApiClient
    from prsm_validate.client.nodes import Cluster
    from prsm_validate.client.workload import WorkloadRun, fund_accounts
    from prsm_validate.generator.transfers import TransferWorkload

    deployment, budget, history = trial.deployment, trial.budget, trial.history
    tag = f"n{trial.seed % 10**8}-{uuid.uuid4().hex[:4]}"
    user = deployment.credentials.username if deployment.credentials else "user"
    names = [f"{user}/{tag}-{i}" for i in range(4)]
    with Cluster(deployment) as cluster, ApiClient(deployment.api_url, deployment.profile,
                                                   history) as api:
        before = cluster.settled_ledgers(budget.cap(30))
        # Judge what this trial committed: a defect an earlier trial left in a replica's log
        # was that trial's finding (and must not fail the shrinker's re-runs).
        since = min((v for v in cluster.last_executed().values() if v is not None),
                    default=0) + 1
        if deployment.credentials is not None:
            api.login(deployment.credentials)
        problem = fund_accounts(api, history, user, names, 10_000, tag)
        if problem:
            return [Check(AVAILABILITY, Verdict("funding", False, problem))]
        workload = TransferWorkload(names, trial.seed, prefix=tag)
        run = WorkloadRun(deployment, history, [workload.client(n) for n in range(4)],
                          accounts=names, timeout_s=3.0, deadline_s=budget.left())
        with run:
            started = wait_for(lambda: run.ok_count() >= before_ops, budget.cap(20))
            trial.run_faults()
            target = run.ok_count() + after_ops
            resumed = wait_for(lambda: run.ok_count() >= target, budget.cap(RECOVERY_BOUND_S))
        events = history.events
        trial.figures.update(acknowledged=run.ok_count(), operations=len(events) // 2,
                             resumed_after_s=None if resumed is None else round(resumed, 3))
        checks = [Check(SAFETY, cluster.safety(events, before, catch_up_s=budget.cap(30),
                                                since=since))]
    if started is None:
        checks.append(Check(AVAILABILITY, Verdict("progress", False, f"fewer than "
                            f"{before_ops} transfers committed before the schedule")))
    checks.append(Check(AVAILABILITY, _schedule_recovery(events, "transfer")))
    return checks


def _schedule_recovery(events: list[Any], f: str) -> Verdict:
    """Progress of ``f`` must resume within the bound after the schedule's last heal."""
    from prsm_validate.checker import faults_from_history

    windows = faults_from_history(events)
    if not windows:
        return Verdict("recovery", True, "no fault was applied")
    span = FaultWindow("schedule", min(w.start for w in windows), max(w.end for w in windows))
    return check_recovery(progress_from_history(events, f), [span], RECOVERY_BOUND_S)


# ---- telemetry (pipeline) ------------------------------------------------------------------


class Publisher:
    """Publishes readings as its own device, each retried until acknowledged, in a thread."""

    def __init__(self, trial: Trial, pace_s: float = 0.02) -> None:
        self.trial, self.pace_s = trial, pace_s
        self.device = f"nightly-{trial.seed % 10**8}-{uuid.uuid4().hex[:6]}"
        self.acknowledged: list[int] = []
        self.stop = threading.Event()
        self.error: str | None = None
        self.reconnects = 0
        self.thread = threading.Thread(target=self._main, daemon=True, name="nightly-publish")

    def __enter__(self) -> Publisher:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(self.trial.budget.cap(65))

    def _main(self) -> None:
        try:
            asyncio.run(self._publish())
        except Exception as exc:  # reported as an unknown check, never lost
            self.error = f"{type(exc).__name__}: {exc}"

    async def _publish(self) -> None:
        import nats

        from prsm_validate.client import telemetry as tel
        from reference_system.edge import publish_until_acked

        async def quiet(_: Exception) -> None:  # reconnects are the point of the schedule
            self.reconnects += 1

        nc = await nats.connect(self.trial.deployment.nats_url or "", connect_timeout=2,
                                max_reconnect_attempts=-1, reconnect_time_wait=0.1,
                                error_cb=quiet)
        rng, history, seq = random.Random(self.trial.seed), self.trial.history, 0
        try:
            js = nc.jetstream()
            while not self.stop.is_set():
                seq += 1
                value = {"device": self.device, "seq": seq}
                history.invoke(0, "publish", value)
                try:
                    await asyncio.wait_for(publish_until_acked(js, tel.reading(
                        self.device, seq, rng)), 60)
                except TimeoutError:
                    history.append(0, "info", "publish", value)
                    raise
                history.append(0, "ok", "publish", value)
                self.acknowledged.append(seq)
                await asyncio.sleep(self.pace_s)
        finally:
            await nc.close()


def telemetry(trial: Trial, before: int = 10, after: int = 20) -> list[Check]:
    """Telemetry through the schedule: exactly once in the database, publishing resumes."""
    from prsm_validate.client import telemetry as tel

    deployment, budget = trial.deployment, trial.budget
    with Publisher(trial) as publisher:
        wait_for(lambda: len(publisher.acknowledged) >= before or publisher.error is not None,
                 budget.cap(20))
        trial.run_faults()
        target = len(publisher.acknowledged) + after
        resumed = wait_for(lambda: len(publisher.acknowledged) >= target
                           or publisher.error is not None, budget.cap(RECOVERY_BOUND_S))
    if publisher.error is not None:
        return [Check(AVAILABILITY, Verdict("publish", UNKNOWN, publisher.error))]
    run = tel.PublishRun(publisher.device, len(publisher.acknowledged),
                         list(publisher.acknowledged))
    rows = tel.wait_landed(deployment.postgres_dsn or "", publisher.device,
                           set(run.acknowledged), budget.cap(30))
    copies = asyncio.run(tel.stream_copies(deployment.nats_url or "", publisher.device))
    accounting = tel.account(run, rows, copies)
    trial.figures.update(telemetry=accounting.to_json(), broker_errors=publisher.reconnects,
                         resumed_after_s=None if resumed is None else round(resumed, 3))
    once = not accounting.lost and accounting.duplicates == 0
    return [Check(SAFETY, Verdict("exactly-once", once, "every acknowledged reading landed "
                                  "once" if once else f"{len(accounting.lost)} lost, "
                                  f"{accounting.duplicates} duplicated",
                                  witness=None if once else accounting.to_json())),
            Check(AVAILABILITY, _schedule_recovery(trial.history.events, "publish"))]


# ---- inference (edge) ----------------------------------------------------------------------


def inference(trial: Trial) -> list[Check]:
    """Inference requests through the schedule: served (edge or cloud), back at the edge."""
    from prsm_validate.client.api import ApiClient

    deployment, budget = trial.deployment, trial.budget
    served: list[str | None] = []
    stop = threading.Event()

    def client() -> None:
        with ApiClient(deployment.api_url, deployment.profile, trial.history,
                       timeout_s=10.0) as api:
            if deployment.credentials is not None:
                api.login(deployment.credentials)
            while not stop.is_set():
                served.append(_location(api))

    thread = threading.Thread(target=client, daemon=True, name="nightly-inference")
    thread.start()
    try:
        trial.run_faults()
        back = wait_for(lambda: bool(served) and served[-1] == "edge",
                        budget.cap(EDGE_RETURN_BOUND_S + 30))
    finally:
        stop.set()
        thread.join(budget.cap(15))
    ok = [s for s in served if s is not None]
    ratio = len(ok) / len(served) if served else 0.0
    trial.figures.update(requests=len(served), success_ratio=round(ratio, 5),
                         cloud=ok.count("cloud"), edge=ok.count("edge"),
                         back_to_edge_s=None if back is None else round(back, 3))
    return [Check(AVAILABILITY, Verdict(
                "failover", ratio >= FAILOVER_MIN_SUCCESS if served else UNKNOWN,
                f"{ratio:.4%} of {len(served)} inference requests served (needs "
                f"{FAILOVER_MIN_SUCCESS:.1%})")),
            Check(AVAILABILITY, Verdict(
                "back-to-edge", back is not None,
                "traffic returned to the edge after the heal" if back is not None else
                "traffic did not return to the edge after the heal"))]


def _location(api: Any) -> str | None:
    import httpx

    try:
        response = api.call("inference", {"prompt": "nightly status", "max_tokens": 8})
    except httpx.HTTPError:
        return None
    return response.body.get("location") if response.ok else None


# ---- the families --------------------------------------------------------------------------

FAMILIES: dict[str, Family] = {
    "consensus": Family(
        "consensus", frozenset({base.CONSENSUS, base.KILL, base.PAUSE, base.RESTART}), 14.0,
        ScheduleConfig(weights={"kill": 1, "pause": 1.5, "restart": 0.5, "latency": 0.5},
                       min_duration=0.5, max_duration=1.5, min_gap=0.2, max_gap=0.6,
                       primary_faults=0.3, latencies_ms=(20, 50, 100)),
        _replicas, transfers),
    "partition": Family(
        "partition", frozenset({base.CONSENSUS, base.PARTITION, base.LINK_FAULTS}), 14.0,
        ScheduleConfig(weights={"partition": 2, "blackhole-link": 0.5, "reset-link": 0.5,
                                "latency": 0.5, "bandwidth": 0.3},
                       min_duration=0.5, max_duration=2.0, min_gap=0.2, max_gap=0.8,
                       primary="@primary"),  # resolved to a replica name at generation
        _replicas, transfers),
    "pipeline": Family(
        "pipeline", frozenset({base.PIPELINE, base.BROKER, base.DB, base.KILL, base.PAUSE,
                               base.RESTART, base.LINK_FAULTS}), 12.0,
        ScheduleConfig(weights={"kill": 1, "pause": 1, "restart": 0.5, "cut": 1},
                       min_duration=0.5, max_duration=2.0, min_gap=0.3, max_gap=1.0,
                       max_faulty=1, links=(("pipeline", "nats"),)),
        lambda _deployment: ["pipeline", "nats"], telemetry),
    "edge": Family(
        "edge", frozenset({base.EDGE, base.KILL, base.PAUSE, base.RESTART}), 10.0,
        ScheduleConfig(weights={"kill": 1, "pause": 0.5, "restart": 0.5},
                       min_duration=0.5, max_duration=2.0, min_gap=0.5, max_gap=1.5,
                       max_faulty=1),
        lambda _deployment: ["edge"], inference),
}


def missing(family: Family, deployment: base.Deployment) -> list[str]:
    """Capabilities the family needs that the target lacks."""
    return sorted(family.requires - deployment.capabilities)
