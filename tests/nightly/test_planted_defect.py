"""Shrinking for real: a planted defect that only a paused primary exposes is found by a random
nightly schedule of at least 8 faults and shrunk to at most 2 (issue 18).

The defect (applied to a scratch copy of ``reference_system``, as ``prsm-validate mutants``
does): a replica that believes it is the primary when it receives SIGCONT records its last
executed batch again, at the next sequence number. Kills, restarts, partitions, latency and
paused backups never trigger it; the agreement checker sees a request executed at two
sequence numbers and two digests at one.
"""

from __future__ import annotations

import io
import os
from dataclasses import replace

import pytest

from prsm_validate import mutants
from prsm_validate.generator.schedule import PRIMARY
from prsm_validate.nightly.chaos import make_schedule, schedule_seed
from prsm_validate.nightly.families import FAMILIES
from prsm_validate.nightly.night import NightOptions, run_night

pytestmark = pytest.mark.slow
ANCHOR = ("        for sig in (signal.SIGINT, signal.SIGTERM):\n"
          "            loop.add_signal_handler(sig, stop.set)\n")
# Whether the node was primary is sampled every 20 ms, but not on the first tick after a gap
# (the pause): on SIGCONT the node may read the new view from its sockets before the signal's
# callback runs, so "primary now" would miss the defect; "primary before the pause" does not.
DEFECT = """\
        node.was_primary, ticked = False, [time.monotonic()]

        def tick() -> None:
            now = time.monotonic()
            if now - ticked[0] < 0.2:
                node.was_primary = node.replica.is_primary
            ticked[0] = now
            loop.call_later(0.02, tick)

        tick()
        loop.add_signal_handler(signal.SIGCONT, lambda: node.was_primary and node.entries and (
            node.entries.append((node.entries[-1][0] + 1, *node.entries[-1][1:]))))
"""
RESUMED_PRIMARY_RELOGS = mutants.Mutant(
    "resumed-primary-relogs", "a primary resumed after SIGSTOP logs its last batch again",
    "consensus/node.py", ANCHOR, ANCHOR + DEFECT, ())
NODES = ["node-0", "node-1", "node-2", "node-3"]


# The consensus family without kills and restarts: a kill of the resumed primary would rebuild
# its log from the durable one and undo the damage before the checker looks.
FAMILY = replace(FAMILIES["consensus"], config=replace(
    FAMILIES["consensus"].config, weights={"pause": 2, "latency": 1, "partition": 1}))


def _night_seed() -> int:
    """A night whose first consensus schedule has >= 8 faults, exactly one of them a pause of
    the primary, >= 3 s in (the primary has executed batches to relog), after no partition
    (a partition can start a view change that the paused node has not finished: then it does
    not believe it is the primary, and the pause exposes nothing) and after no pause of
    node-0 (the primary of view 0: that pause would expose it first)."""
    for seed in range(5000):
        faults = make_schedule(FAMILY, NODES, schedule_seed(seed, "consensus", 1)).faults
        pauses = [i for i, f in enumerate(faults) if (f.kind, f.targets) == ("pause", (PRIMARY,))]
        if len(faults) >= 8 and len(pauses) == 1 and faults[pauses[0]].start >= 3.0 and all(
                f.kind != "partition" and f.targets != ("node-0",) for f in faults[:pauses[0]]):
            return seed
    raise AssertionError("no such seed among the first 5000")


def test_a_paused_primary_defect_is_found_and_shrunk_to_one_fault(tmp_path, monkeypatch):
    root = tmp_path / "mutant"
    root.mkdir()
    mutants.apply(RESUMED_PRIMARY_RELOGS, root)
    # Every process the target starts imports the defective copy (cwd is first on sys.path).
    monkeypatch.chdir(root)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [
        str(root), os.environ.get("PYTHONPATH")])))
    monkeypatch.setitem(FAMILIES, "consensus", FAMILY)
    seed = _night_seed()
    progress = io.StringIO()
    data = run_night(NightOptions(budget_s=900, seed=seed, report_root=tmp_path / "reports",
                                  families=("consensus",), only="consensus#1", rate=0,
                                  shrink_budget_s=600), out=progress)
    print(progress.getvalue())
    outcome = data["outcomes"][0]
    assert outcome["verdict"] == "fail" and outcome["failure_class"] == "safety", outcome
    assert len(outcome["lines"]) >= 8
    shrink = outcome["shrink"]
    print("original:\n  " + "\n  ".join(shrink["original"]))
    print("minimal:\n  " + "\n  ".join(shrink["minimal"]) + f"\nreplay: {shrink['replay']}")
    assert 1 <= len(shrink["minimal"]) <= 2, shrink
    # A pause of the primary: "@primary", or a replica named in a retry that was primary then
    # (views move on across the shrinker's retries on one cluster).
    assert any(" pause " in line for line in shrink["minimal"]), shrink
    assert f"--faults {','.join(map(str, shrink['indices']))}" in shrink["replay"]
    assert "safety" in data["failure_classes"] and data["exit_status"] in (1, 4)
