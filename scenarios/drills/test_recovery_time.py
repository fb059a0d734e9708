"""Recovery time drill (Phase 0 roadmap, Success Metrics: "Recovery Time: <15 minutes from
failure detection to recovery"; Milestone 11).

Every kind of fault the chaos scenarios apply, one at a time: a killed API replica, backup
replica, primary, PostgreSQL, Redis, NATS, pipeline and edge agent; a paused primary; the
primary isolated and the cluster split in halves. Each is detected by what monitoring sees
(health through the load-balanced entry, a consensus read, every replica's status, the
component's own health), remedied at once (restart, resume, heal, as a supervisor would) and
timed until everything is healthy again. The slowest recovery is judged against 15 minutes.
"""

from __future__ import annotations

import pytest

from prsm_validate import PROBE_TIMEOUT_S, ApiClient, Watch, measure_recovery

pytestmark = [pytest.mark.requires("kill", "pause", "partition", "consensus"),
              pytest.mark.chaos, pytest.mark.slow]
RTO_S = 900.0
PROCESSES = ["api-1", "postgres", "redis", "nats", "pipeline", "edge"]


@pytest.fixture
def watch(prsm_deployment, prsm_history):
    entry = prsm_deployment.services.get("gateway") or prsm_deployment.api_url
    api = ApiClient(entry, prsm_deployment.profile, prsm_history, PROBE_TIMEOUT_S)
    assert api.login(prsm_deployment.credentials).ok
    watcher = Watch(prsm_deployment, api)
    try:
        yield watcher
    finally:
        watcher.close()
        api.close()


class Partition:
    """A partition shape applied by the nemesis, healed on demand."""

    def __init__(self, nemesis, shape: str) -> None:
        self.nemesis, self.shape, self.fault = nemesis, shape, None

    def inject(self) -> None:
        self.fault = self.nemesis.partition(self.shape)

    def heal(self) -> None:
        if self.fault is not None:
            self.fault.heal()


def _health_url(deployment, component: str) -> str | None:
    url = deployment.services.get(component)
    return f"{url}/health" if url else None


def test_recovery_time_of_every_chaos_fault(prsm_deployment, prsm_nemesis, prsm_control,
                                            watch, record_property):
    nemesis, outcomes = prsm_nemesis, []
    assert watch.problem() is None, f"not healthy before the drill: {watch.problem()}"
    components = set(prsm_control.components())
    for name in [p for p in PROCESSES if p in components]:
        outcomes.append(measure_recovery(watch, f"kill {name}", lambda n=name: nemesis.kill(n),
                                         lambda n=name: nemesis.start(n),
                                         _health_url(prsm_deployment, name)))
    primary = nemesis.primary()
    backup = next(n for n in nemesis.nodes if n != primary)
    outcomes.append(measure_recovery(watch, f"kill backup {backup}", lambda: nemesis.kill(backup),
                                     lambda: nemesis.start(backup)))
    primary = nemesis.primary()
    outcomes.append(measure_recovery(watch, f"pause primary {primary}",
                                     lambda: nemesis.pause(primary),
                                     lambda: nemesis.resume(primary)))
    primary = nemesis.primary()
    outcomes.append(measure_recovery(watch, f"kill primary {primary}",
                                     lambda: nemesis.kill(primary),
                                     lambda: nemesis.start(primary)))
    for shape in ("isolate-primary", "halves"):
        partition = Partition(nemesis, shape)
        outcomes.append(measure_recovery(watch, f"partition {shape}", partition.inject,
                                         partition.heal))
    figures = [o.to_json() for o in outcomes]
    timed = [o.recovery_s for o in outcomes if o.recovery_s is not None]
    record_property("recovery", {"max_s": round(max(timed), 3) if timed else None,
                                 "faults": figures})
    untimed = [f for f in figures if f["recovery_s"] is None]
    assert not untimed, f"faults without a measured recovery: {untimed}"
    assert max(timed) < RTO_S, f"slowest recovery {max(timed):.1f}s >= 15 min: {figures}"
