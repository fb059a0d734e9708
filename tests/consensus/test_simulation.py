"""Seeded simulated-network schedules: safety always, liveness with at most f faults.

Each schedule reorders, duplicates and drops messages and fires timers under one seed; the
faulty replica crashes, restarts, is wiped, or runs a byzantine behaviour. A failing seed is
printed with the line that replays it.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reference_system.consensus.replica import Replica
from reference_system.consensus.sim import SimConfig, Simulation, simulate

FAULTS = ["", "crash", "crash-restart", "wipe", "equivocate", "double-vote", "corrupt-sig",
          "mutate", "mutate-view", "mutate-seq", "mutate-digest", "silence", "silence:1,2",
          "replay", "equivocate+double-vote", "forge", "equivocate:1+forge:1"]


def _check(seed: int, liveness: bool = True, **options: object) -> Simulation:
    sim = simulate(seed, **options)
    problems = [p for p in sim.violations() if liveness or not p.startswith("liveness")]
    assert not problems, f"replay: simulate({seed}, **{options!r}) -> {problems[:5]}"
    return sim


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("faulty", [0, 2])
def test_seeded_schedules_with_one_faulty_replica(fault: str, faulty: int) -> None:
    for seed in range(12):
        faults = {faulty: fault} if fault else {}
        _check(seed, faults=faults, drop=0.1, duplicate=0.05)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), fault=st.sampled_from(FAULTS), faulty=st.integers(0, 3),
       drop=st.sampled_from([0.0, 0.05, 0.2]), duplicate=st.sampled_from([0.0, 0.1]),
       clients=st.integers(1, 3), interval=st.integers(1, 4))
def test_hypothesis_schedules_keep_agreement_validity_and_supply(
        seed: int, fault: str, faulty: int, drop: float, duplicate: float, clients: int,
        interval: int) -> None:
    # Safety under any schedule drawn at random; liveness is asserted on seeded schedules
    # (above and below), so that a CI run's verdict does not depend on the draw.
    _check(seed, liveness=False, faults={faulty: fault} if fault else {}, drop=drop,
           duplicate=duplicate, clients=clients, ops_per_client=4,
           params={"checkpoint_interval": interval})


# Lossy schedules that random search found unfinished while only the node process, not the
# replica core, re-asked its peers when idle (so the simulation did not): a primary that missed
# the COMMITs of its last batch, or a replica that missed the last commits of a quiet cluster,
# had no evidence it was behind. The core's ``resync`` timer now does it everywhere.
LOST_COMMIT_SCHEDULES = [
    (200, {"faults": {3: "silence"}, "drop": 0.2, "duplicate": 0.1, "clients": 1,
           "params": {"checkpoint_interval": 2}}),
    (1740533593, {"faults": {1: "crash"}, "drop": 0.2, "duplicate": 0.0, "clients": 2,
                  "params": {"checkpoint_interval": 3}}),
    # two replicas in different views, each taking the other for the primary, relayed one
    # request between them forever (a relay is now sent only for a request new to the relay)
    (2000718780, {"faults": {1: "wipe"}, "drop": 0.2, "duplicate": 0.1, "clients": 2,
                  "params": {"checkpoint_interval": 4}}),
]


def _random_schedule(rng: random.Random) -> tuple[int, dict]:
    """A schedule drawn as the Hypothesis test above draws one."""
    fault, faulty = rng.choice(FAULTS), rng.randrange(4)
    return rng.randrange(2**32), {
        "faults": {faulty: fault} if fault else {}, "drop": rng.choice([0.0, 0.05, 0.2]),
        "duplicate": rng.choice([0.0, 0.1]), "clients": rng.randint(1, 3),
        "params": {"checkpoint_interval": rng.randint(1, 4)}}


def test_seeded_random_schedules_all_finish() -> None:
    # Drawn like the 30,000 random schedules measured with none unfinished (12 of 33,000 were
    # unfinished before the replica core re-asked its peers while idle, and relayed a request
    # only once).
    rng = random.Random(20261201)
    for _ in range(400):
        seed, options = _random_schedule(rng)
        _check(seed, ops_per_client=4, **options)


@pytest.mark.parametrize(("seed", "options"), LOST_COMMIT_SCHEDULES)
def test_lossy_schedules_found_unfinished_now_finish(seed: int, options: dict) -> None:
    _check(seed, ops_per_client=4, **options)


def test_faults_actually_exercise_view_change_and_state_transfer() -> None:
    views = transfers = 0
    for seed in range(20):
        sim = _check(seed, faults={0: "wipe"}, drop=0.1, ops_per_client=6)
        views += max(r.view for r in sim.replicas.values())
        transfers += sum(type(r).__name__ == "StateInstalled" for r in sim.durable[0])
    assert views > 0 and transfers > 0


def test_every_client_operation_is_acknowledged_once_consistently() -> None:
    sim = _check(7, faults={1: "crash"}, drop=0.05, clients=3, ops_per_client=5)
    assert sum(len(c.accepted) for c in sim.clients) == 15
    balances = {sim.replicas[i].machine.snapshot() for i in (0, 2, 3)}
    assert len(balances) == 1


class _NoQuorumReplica(Replica):
    """Negative control: a replica that believes f = 0, so one vote is a quorum."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.f = 0


def test_the_checkers_catch_a_broken_quorum(monkeypatch: pytest.MonkeyPatch) -> None:
    import reference_system.consensus.sim as sim_module

    monkeypatch.setattr(sim_module, "Replica", _NoQuorumReplica)
    caught = 0
    for seed in range(40):
        sim = Simulation(SimConfig(seed=seed, faults={0: "equivocate:1"}, clients=3,
                                   ops_per_client=4, drop=0.05)).run()
        caught += any(p.startswith(("agreement", "client")) for p in sim.violations())
    assert caught > 0


@pytest.mark.slow
def test_thousands_of_seeded_schedules_in_well_under_a_minute() -> None:
    import time

    started, count = time.monotonic(), 0
    for seed in range(200):
        for fault in FAULTS:
            _check(seed, faults={seed % 4: fault} if fault else {}, drop=(seed % 3) * 0.07,
                   duplicate=0.05, clients=1 + seed % 3, params={"checkpoint_interval":
                                                                 1 + seed % 4})
            count += 1
    elapsed = time.monotonic() - started
    # The speed is a figure to read (printed), not a timed assertion that flakes on a busy
    # machine; what must hold is that every one of the thousands of schedules was safe.
    print(f"{count} schedules in {elapsed:.1f} s ({count / elapsed:.0f}/s)")
    assert count == 200 * len(FAULTS) >= 3000
