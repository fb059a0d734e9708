"""Every partition shape during a transfer workload, then heal.

The shape cuts the replicas' links on the fault proxies (connections held, data dropped, as a
real partition). While it holds, the cluster commits only if some side keeps a quorum of
2f+1 replicas that includes a primary it can agree on (``expect_progress``); after the heal
commits must resume within a bound, every replica must catch up, and safety must hold.
"""

from __future__ import annotations

import time

import pytest

from prsm_validate import assert_safe, eventually, progress

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
    assert_safe(prsm_cluster, prsm_history.events, before, record_property)


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
    assert_safe(prsm_cluster, prsm_history.events, before, record_property)



def _commits_with_one_more_down(run, nemesis, victim: str, rejoined: str) -> float:
    """Seconds to 50 commits with ``victim`` killed: the quorum left needs ``rejoined``."""
    with nemesis.killed(victim):
        return progress(run, 50, RECOVERY_BOUND_S,
                        f"50 commits with {victim} down and {rejoined} back")


def _agreed_view(cluster, exclude=()) -> dict[str, int] | None:
    """``{"view": v}`` when f+1 replicas (not ``exclude``) are active in view v (the others
    may be amid a view change of their own)."""
    view = cluster.view(exclude=exclude)
    return None if view is None else {"view": view}


def test_a_backup_cut_off_alone_waits_one_view_ahead(prsm_cluster, prsm_nemesis,
                                                    prsm_transfers, prsm_history,
                                                    record_property):
    """A backup cut off from the other replicas, while the client's retries still reach it,
    times out and votes for view v+1 alone. PBFT lets a replica move past v+1 only once 2f+1
    replicas voted for v+1, so it must wait there, voting again, however long the cut lasts;
    a replica that ran views ahead alone would be left out of the next view change. Then
    another backup is killed: the three left commit only if the cut-off one is counted."""
    before = prsm_cluster.settled_ledgers()
    names, view = prsm_cluster.names, prsm_cluster.view()
    primary, successor = names[view % len(names)], names[(view + 1) % len(names)]
    lone, victim = (n for n in names if n not in (primary, successor))
    grudge = {lone: [n for n in names if n != lone], **{n: [lone] for n in names if n != lone}}
    with prsm_transfers(clients=4, timeout_s=3.0) as run:
        progress(run, 50, 20, "commits before the cut")
        # the API's link to the primary is slow, so its retries are broadcast to every
        # replica, the cut-off one included: it has requests waiting that it cannot order
        with prsm_nemesis.partition("explicit", grudge=grudge), \
                prsm_nemesis.link("api", primary).latency(ms=800):
            time.sleep(6.0)  # its view-change timer (1 s, doubling) fires more than once
            lone_view = prsm_cluster.status(lone)["view"]
            others_view = eventually(lambda: _agreed_view(prsm_cluster, exclude=[lone]), 5.0,
                                     what="a view the others agree on")["view"]
        record_property("views", {"cut_off_backup": lone_view, "others": others_view})
        assert view < lone_view <= others_view + 1, (
            f"{lone} cut off alone reached view {lone_view}; the others are in view "
            f"{others_view}: without 2f+1 votes a replica must not pass view v+1")
        resumed = _commits_with_one_more_down(run, prsm_nemesis, victim, lone)
        record_property("commits_with_the_cut_off_backup_in_quorum_s", round(resumed, 3))
    assert_safe(prsm_cluster, prsm_history.events, before, record_property)


REJOIN_BOUND_S = 10.0


def _all_in_one_view(cluster) -> dict[str, int] | None:
    """``{"view": v}`` when every replica is active in view v, else None."""
    statuses = cluster.statuses().values()
    views = {(s or {}).get("view") for s in statuses if (s or {}).get("view_active")}
    answered = all(s is not None and s.get("view_active") for s in statuses)
    return {"view": views.pop()} if answered and len(views) == 1 else None


def test_cut_off_primary_rejoins_then_counts_in_the_quorum(prsm_cluster, prsm_nemesis,
                                                          prsm_transfers, prsm_history,
                                                          record_property):
    """The primary is cut off for 6 s while the other three change view. A primary does not
    suspect itself (PBFT), so it stays in its old view, or waits one view ahead if it had
    joined a view change; after the heal it learns the others' view (their messages of a
    higher view make it fetch that view's NEW-VIEW) and must be active with them. Then
    another backup is killed: the three left commit only if the old primary counts again."""
    before = prsm_cluster.settled_ledgers()
    old_primary = prsm_nemesis.primary()
    with prsm_transfers(clients=4, timeout_s=3.0) as run:
        progress(run, 50, 20, "commits before the partition")
        with prsm_nemesis.partition("isolate-primary"):
            progress(run, 20, QUORUM_PROGRESS_S, "commits by the three after a view change")
            time.sleep(6.0)  # its view-change timer (1 s, doubling) fires more than once
            cut_off_view = prsm_cluster.status(old_primary)["view"]
        healed = time.monotonic()
        view = eventually(lambda: _all_in_one_view(prsm_cluster), REJOIN_BOUND_S,
                          what=f"{old_primary} active in the others' view after the heal")["view"]
        record_property("rejoined_after_heal_s", round(time.monotonic() - healed, 3))
        record_property("views", {"cut_off_primary_at_heal": cut_off_view, "agreed": view})
        victim = next(n for n in prsm_cluster.names
                      if n not in (old_primary, prsm_cluster.names[view % len(prsm_cluster.names)]))
        resumed = _commits_with_one_more_down(run, prsm_nemesis, victim, old_primary)
        record_property("commits_with_old_primary_in_quorum_s", round(resumed, 3))
    assert_safe(prsm_cluster, prsm_history.events, before, record_property)
