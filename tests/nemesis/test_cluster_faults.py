"""Partition shapes chosen by seed, described as who-hears-whom groups."""

from __future__ import annotations

import random

import pytest

from prsm_validate.nemesis.cluster import describe, grudge_for
from prsm_validate.nemesis.partitions import links_to_cut

NODES = ["node-0", "node-1", "node-2", "node-3"]


def test_isolate_primary_cuts_exactly_the_primary() -> None:
    grudge = grudge_for("isolate-primary", NODES, random.Random(1), primary="node-2")
    assert describe(grudge) == "node-0,node-1,node-3|node-2"
    assert all("node-2" in link for link in links_to_cut(grudge))
    with pytest.raises(ValueError, match="primary"):
        grudge_for("isolate-primary", NODES, random.Random(1))


def test_the_seed_chooses_the_isolated_node_reproducibly() -> None:
    chosen = {describe(grudge_for("isolate", NODES, random.Random(seed))) for seed in range(20)}
    assert len(chosen) == 4  # every node gets isolated by some seed
    again = [describe(grudge_for("halves", NODES, random.Random(7))) for _ in range(3)]
    assert len(set(again)) == 1


def test_explicit_grudges_pass_through() -> None:
    grudge = grudge_for("explicit", NODES, random.Random(0), grudge={"node-0": ["node-1"]})
    assert links_to_cut(grudge) == {("node-1", "node-0")}
