"""Every partition shape during a transfer workload, then heal.

The shape cuts the replicas' links on the fault proxies (connections held, data dropped, as a
real partition). While it holds, the cluster commits only if some side keeps a quorum of
2f+1 replicas that includes a primary it can agree on (``expect_progress``); after the heal
commits must resume within a bound, every replica must catch up, and safety must hold.
"""

from __future__ import annotations

import time

import pytest

from prsm_validate.client.workload import progress

pytestmark = [pytest.mark.partition, pytest.mark.requires("consensus", "partition")]
HOLD_S = 3.0
RECOVERY_BOUND_S = 20.0
FLICKERS, FLICKER_S = 10, 0.15

QUORUM_PROGRESS_S = 10.0  # a connected quorum commits within this (incl. a view change)

# shape -> must commits go on while it holds? (None: depends on where the primary falls)
SHAPES = {
    "isolate": True,              # one replica alone, three together
    "isolate-primary": True,      # after a view change among the other three
    "halves": False,              # 2 | 2: no quorum anywhere
    "majority-minority": True,    # n=4: 1 | 3
    "majorities-ring": None,      # each replica hears two others: quorums overlap in pieces
    "bridge": None,               # {a, b, c} | {c, d}: a quorum, maybe without the primary
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_partition_then_heal(shape, prsm_cluster, prsm_nemesis, prsm_transfers, prsm_history,
                             record_property):
    before = prsm_cluster.settled_ledgers()
    with prsm_transfers(clients=4, timeout_s=3.0) as run:
        progress(run, 50, 20, "commits before the partition")
        with prsm_nemesis.partition(shape) as fault:
            record_property("cut", fault.record.target)
            at_cut = run.ok_count()
            if SHAPES[shape]:
                progress(run, 20, QUORUM_PROGRESS_S, f"commits by the quorum {shape} leaves")
            time.sleep(HOLD_S)  # the partition holds while the workload runs
            committed_during = run.ok_count() - at_cut
        healed = time.monotonic()
        resumed = progress(run, 50, RECOVERY_BOUND_S, f"50 commits after healing {shape}")
        record_property("committed_during_partition", committed_during)
        record_property("recovered_after_heal_s", round(time.monotonic() - healed, 3))
        record_property("commits_resumed_s", round(resumed, 3))
    verdict = prsm_cluster.safety(prsm_history.events, before)
    record_property("safety", verdict.to_json())
    assert verdict, verdict.to_json()


def test_flickering_links_lose_messages_then_heal(prsm_cluster, prsm_nemesis, prsm_transfers,
                                                  prsm_history, record_property):
    """Every link into one backup drops all data for 150 ms, ten times (connections held, as a
    flaky network): that replica sees gaps of tens of sequence numbers and must fill them
    (re-sent messages, log fetch or state transfer) without ever skipping one."""
    primary = prsm_nemesis.primary()
    victim = next(n for n in prsm_cluster.names if n != primary)
    senders = [n for n in prsm_cluster.names if n != victim]
    before = prsm_cluster.settled_ledgers()
    with prsm_transfers(clients=4, timeout_s=3.0) as run:
        progress(run, 50, 20, "commits before the flicker")
        for _ in range(FLICKERS):
            cut = [prsm_nemesis.link(src, victim).blackhole() for src in senders]
            time.sleep(FLICKER_S)
            for fault in cut:
                fault.heal()
            time.sleep(FLICKER_S)
        resumed = progress(run, 50, RECOVERY_BOUND_S, "50 commits after the flicker")
        record_property("commits_resumed_s", round(resumed, 3))
    verdict = prsm_cluster.safety(prsm_history.events, before)
    record_property("safety", verdict.to_json())
    assert verdict, verdict.to_json()
