"""A Twins round on real links: which links to the twinned replica reach its twin, which
links are cut, and how a schedule's processes and rounds map onto a cluster in some view."""

from __future__ import annotations

import pytest

from prsm_validate.generator.twins import parse
from prsm_validate.nemesis.cluster import twin_arrangement
from prsm_validate.nemesis.twins import as_run

NODES = ["node-0", "node-1", "node-2", "node-3"]
TWIN = "node-1-twin"


def test_links_reach_the_copy_in_the_senders_group_and_are_cut_across_groups():
    groups = [["node-0", "node-1"], [TWIN, "node-2", "node-3"]]
    sees_twin, grudge = twin_arrangement(NODES, "node-1", TWIN, groups)
    assert sees_twin == ["node-2", "node-3"]
    # node-1's links from node-2 and node-3 now reach the twin, in their group: not cut.
    assert grudge["node-1"] == frozenset()
    # node-0 hears node-1 only, not the twin's own links, nor the other group.
    assert grudge["node-0"] == {TWIN, "node-2", "node-3"}
    assert grudge["node-2"] == {"node-0", "node-1"} and grudge["node-3"] == {"node-0", "node-1"}


def test_a_sender_in_neither_copys_group_is_cut_from_both():
    groups = [["node-0", "node-1"], [TWIN, "node-2"], ["node-3"]]
    sees_twin, grudge = twin_arrangement(NODES, "node-1", TWIN, groups)
    assert sees_twin == ["node-2"]
    assert grudge["node-1"] == {"node-3"}  # its link reaches the original, in another group
    assert grudge["node-3"] == {"node-0", "node-1", "node-2", TWIN}


@pytest.mark.parametrize("groups", [
    [["node-0", "node-1", TWIN], ["node-2", "node-3"]],
    [["node-0", "node-1"], ["node-2", "node-3"]],
])
def test_copies_together_or_a_missing_process_are_refused(groups):
    with pytest.raises(ValueError, match="apart"):
        twin_arrangement(NODES, "node-1", TWIN, groups)


def test_rounds_and_replicas_rotate_with_the_view_the_schedule_starts_in():
    schedule = parse("twins=1 @0=0,1|1',2,3 @1=0,2|1',3|1 net=5")
    node, rounds = as_run(schedule, view=2)
    assert node == "node-3"
    assert [(r.first_round, r.last_round) for r in rounds] == [(2, 2), (3, 3)]
    assert rounds[0].blocks == (("node-2", "node-3"), ("node-3-twin", "node-0", "node-1"))
