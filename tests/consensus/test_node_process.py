"""Real ``prsm-ref node`` processes on loopback: crash, restart, wipe, view change, Byzantine.

Every test starts its own :class:`LocalCluster` (killed on success and failure by the context
manager) and drives it with :class:`Load`, a :class:`ConsensusClient` submitting transfers
from a background thread. Waiting is polling with a timeout (:func:`eventually`). Every test
ends by checking safety: honest nodes' ``/log`` digests agree at every common sequence
number, and nodes that executed the same prefix have the same state digest.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
import time
from typing import Any

import pytest

from prsm_validate.waiting import eventually
from reference_system.consensus.client import ConsensusClient
from reference_system.consensus.launch import LocalCluster

# Small checkpoint interval: the stable checkpoint (and the log's low watermark) moves every
# 4 batches, so a node down for a moment is behind it and needs state transfer.
FAST = {"checkpoint_interval": 4, "view_change_timeout_ms": 500, "catchup_timeout_ms": 100}


class Load:
    """Transfers submitted back to back by ``concurrency`` tasks in a background event loop."""

    def __init__(self, cluster: LocalCluster, concurrency: int = 4, timeout: float = 10.0) -> None:
        self.cluster, self.concurrency, self.timeout = cluster, concurrency, timeout
        self.committed = 0
        self.failed = 0
        self.results: list[Any] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pbft-load", daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("load thread did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop submitting (outstanding requests are abandoned) and join the thread."""
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=20)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        client = ConsensusClient.from_files(self.cluster.files.config,
                                            self.cluster.files.client_keys)
        await client.start()
        self._ready.set()
        tasks = [asyncio.create_task(self._submitter(client, k))
                 for k in range(self.concurrency)]
        try:
            await self._stop.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.close()

    async def _submitter(self, client: ConsensusClient, k: int) -> None:
        for index in range(1_000_000):  # bounded: far more than any test runs
            operation = {"op": "transfer", "id": f"load-{k}-{index}", "from": "treasury",
                         "to": "alice", "amount": 1}
            try:
                self.results.append(await client.submit(operation, timeout=self.timeout))
                self.committed += 1
            except (TimeoutError, ConnectionError):
                self.failed += 1

    def more_commits(self, count: int, timeout: float, what: str) -> None:
        """Wait until ``count`` more requests committed than now."""
        target = self.committed + count
        eventually(lambda: self.committed >= target, timeout, what=what)


def submit_one(cluster: LocalCluster, operation: dict[str, Any], timeout: float) -> Any:
    """Order one operation through a fresh client; its result."""

    async def main() -> Any:
        async with ConsensusClient.from_files(cluster.files.config,
                                              cluster.files.client_keys) as client:
            return await client.submit(operation, timeout=timeout)

    return asyncio.run(main())


def status(cluster: LocalCluster, i: int) -> dict[str, Any]:
    """Node ``i``'s ``/status`` (an empty dict while it does not answer)."""
    return cluster.status(i) or {}


def executed(cluster: LocalCluster, i: int) -> int:
    """Node ``i``'s last executed sequence number (-1 while it does not answer)."""
    return int(status(cluster, i).get("last_executed", -1))


def metric(cluster: LocalCluster, i: int, name: str) -> float:
    """One counter or gauge of node ``i``'s ``/metrics``."""
    import urllib.request

    with urllib.request.urlopen(cluster.http_url(i) + "/metrics", timeout=2) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(f"prsm_consensus_{name}{{"):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"node {i} exports no prsm_consensus_{name}")


def all_caught_up(cluster: LocalCluster, nodes: list[int]) -> bool:
    """Whether every node in ``nodes`` answers and all executed the same sequence number."""
    seqs = {executed(cluster, i) for i in nodes}
    return len(seqs) == 1 and min(seqs) > 0


def assert_safe(cluster: LocalCluster, honest: list[int]) -> None:
    """Honest nodes' logs agree at every common sequence number; equal prefixes, equal state."""
    logs = {i: {e["seq"]: e["digest"] for e in cluster.get(i, "/log", timeout=5)["entries"]}
            for i in honest}
    for a in honest:
        for b in honest:
            common = logs[a].keys() & logs[b].keys()
            diverged = sorted(s for s in common if logs[a][s] != logs[b][s])
            assert not diverged, f"nodes {a} and {b} committed different batches at {diverged}"
    by_seq: dict[int, set[str]] = {}
    for i in honest:
        st = status(cluster, i)
        by_seq.setdefault(st["last_executed"], set()).add(st["state_digest"])
    assert all(len(digests) == 1 for digests in by_seq.values()), by_seq


def settle(cluster: LocalCluster, load: Load, nodes: list[int], timeout: float = 20.0) -> None:
    """Stop the load and wait until ``nodes`` executed the same prefix."""
    load.stop()
    eventually(lambda: all_caught_up(cluster, nodes), timeout,
               what=f"nodes {nodes} at one last_executed")


# ---- tests -----------------------------------------------------------------------------------


def test_first_commit_soon_after_start() -> None:
    """A fresh 4-node cluster commits its first request within a few seconds of starting."""
    cluster = LocalCluster(4)
    started = time.monotonic()
    with cluster:
        result = submit_one(cluster, {"op": "transfer", "id": "first", "from": "treasury",
                                      "to": "alice", "amount": 5}, timeout=10)
        elapsed = time.monotonic() - started
        print(f"first commit {elapsed:.3f} s after starting 4 nodes")
        assert result == {"id": "first", "ok": True, "from_balance": 1_000_000_000 - 5}
        assert elapsed < 10
        eventually(lambda: all_caught_up(cluster, [0, 1, 2, 3]), 10, what="every node executed")
        assert_safe(cluster, [0, 1, 2, 3])


def test_backup_crash_then_restart_catches_up_by_state_transfer() -> None:
    """Commits continue without a backup; restarted behind the stable checkpoint, it replays
    its log, fetches the checkpoint's state and reaches the others."""
    with LocalCluster(4, **FAST) as cluster, Load(cluster) as load:
        load.more_commits(20, 10, "commits with all nodes up")
        cluster.kill(3)
        down_at = max(executed(cluster, i) for i in (0, 1, 2))
        load.more_commits(100, 15, "commits with node 3 down")
        eventually(lambda: min(status(cluster, i)["stable_checkpoint"] for i in (0, 1, 2))
                   > down_at + 4, 15, what="stable checkpoint beyond where node 3 stopped")
        cluster.start_node(3)
        cluster.wait_ready(3, 10)
        assert status(cluster, 3)["recovered"] > 0, "node 3 did not replay its durable log"
        load.more_commits(20, 10, "commits after node 3 restarted")
        settle(cluster, load, [0, 1, 2, 3])
        assert metric(cluster, 3, "state_transfers_total") >= 1
        assert load.failed == 0
        assert all(r["ok"] for r in load.results)
        assert_safe(cluster, [0, 1, 2, 3])


def test_sigterm_stops_cleanly_and_the_log_replays() -> None:
    """SIGTERM drains the sync thread and exits 0; the restarted node replays what it had."""
    with LocalCluster(4, **FAST) as cluster, Load(cluster) as load:
        load.more_commits(30, 10, "commits before the stop")
        cluster.kill(1, signal.SIGTERM)
        assert cluster.procs[1].returncode == 0, cluster.log_tail(1)
        cluster.start_node(1)
        cluster.wait_ready(1, 10)
        assert status(cluster, 1)["recovered"] > 0
        settle(cluster, load, [0, 1, 2, 3])
        assert_safe(cluster, [0, 1, 2, 3])


def test_wiped_node_catches_up() -> None:
    """A node restarted with an empty data dir gets the state from its peers."""
    with LocalCluster(4, **FAST) as cluster, Load(cluster) as load:
        load.more_commits(100, 15, "commits before the wipe")
        cluster.kill(2)
        load.more_commits(50, 15, "commits with node 2 down")
        cluster.start_node(2, wipe=True)
        cluster.wait_ready(2, 10)
        assert status(cluster, 2)["recovered"] == 0
        settle(cluster, load, [0, 1, 2, 3])
        assert metric(cluster, 2, "state_transfers_total") >= 1
        assert_safe(cluster, [0, 1, 2, 3])


def test_primary_crash_view_change_and_commits_resume() -> None:
    """Killing the view-0 primary under load: the survivors move to a higher view and go on."""
    with LocalCluster(4, **FAST) as cluster, Load(cluster) as load:
        load.more_commits(20, 10, "commits in view 0")
        assert status(cluster, 1)["primary"] == 0
        cluster.kill(0)
        killed = time.monotonic()
        survivors = [1, 2, 3]
        eventually(lambda: all(status(cluster, i).get("view", 0) > 0
                               and status(cluster, i).get("view_active") for i in survivors),
                   20, what="a new view installed on the survivors")
        view_changed = time.monotonic() - killed
        load.more_commits(20, 20, "commits in the new view")
        resumed = time.monotonic() - killed
        print(f"primary killed: new view after {view_changed:.2f} s, "
              f"20 commits after {resumed:.2f} s")
        assert all(status(cluster, i)["primary"] != 0 for i in survivors)
        settle(cluster, load, survivors)
        assert_safe(cluster, survivors)


@pytest.mark.parametrize("mode", ["equivocate:1", "double-vote"])
def test_byzantine_primary_cannot_break_safety(mode: str) -> None:
    """A Byzantine view-0 primary (``equivocate`` towards node 1 or voting for other digests)
    cannot make honest nodes commit different batches; the cluster keeps committing."""
    with LocalCluster(4, byzantine={0: [mode]}, **FAST) as cluster, Load(cluster) as load:
        assert status(cluster, 0)["byzantine"] == [mode.split(":")[0]]
        load.more_commits(60, 20, f"commits with node 0 {mode}")
        honest = [1, 2, 3]
        settle(cluster, load, honest)
        assert all(r["ok"] for r in load.results)
        assert_safe(cluster, honest)


def test_no_process_left_after_failure() -> None:
    """The context manager kills every node when the body raises."""
    with contextlib.suppress(RuntimeError), LocalCluster(4) as cluster:
        procs = list(cluster.procs.values())
        raise RuntimeError("test body failed")
    assert all(p.poll() is not None for p in procs)
    assert not cluster.root.exists()
