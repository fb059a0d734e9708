"""``prsm-validate bench recovery``: how a replica's restart time grows with its history.

A :class:`~reference_system.consensus.launch.LocalCluster` of 4 real ``prsm-ref node``
processes commits ``--ops`` transfers per stage (``--stages`` stages, each bounded by
``--budget`` seconds). After each stage one backup is stopped (SIGTERM) and started again; the
figures are the wall time until it answers ``/status`` (its durable log replayed) and until it
has caught up with the primary. The peer on the same work is the floor of any replay: reading
and JSON-decoding the same log file in this process. Restart time per record should stay flat
across stages (replay linear in the log); a growing ratio means checkpoints or recovery cost
more than the records they cover. Prints human lines, then JSON on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import time
from pathlib import Path
from typing import Any

from prsm_validate.bench._common import run_loop, say
from prsm_validate.bench.consensus import Phase, Workload

NAME = "recovery"
HELP = "Replica restart time vs. history length (replay of the durable log); JSON last."
RESTARTED = 3
CATCH_UP_TIMEOUT_S = 60.0


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the recovery benchmark."""
    parser.add_argument("--ops", type=int, default=3000,
                        help="transfers committed per stage (default 3000)")
    parser.add_argument("--stages", type=int, default=3, help="history stages (default 3)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="concurrent submitters while growing the history (default 16)")
    parser.add_argument("--budget", type=float, default=30.0,
                        help="seconds at most per stage of growth (default 30)")


async def grow(work: Workload, count: int, concurrency: int, budget_s: float) -> Phase:
    """Commit ``count`` transfers (or as many as ``budget_s`` allows)."""
    phase = Phase()
    started = time.perf_counter()
    deadline = started + budget_s
    issued = 0

    async def submitter() -> None:
        nonlocal issued
        while issued < count and time.perf_counter() < deadline:
            issued += 1
            await work.transfer(phase)

    await asyncio.gather(*(submitter() for _ in range(max(concurrency, 1))))
    phase.elapsed = time.perf_counter() - started
    return phase


def parse_floor(log: Path) -> tuple[int, float]:
    """Records in ``log`` and the seconds to read and JSON-decode them here."""
    started = time.perf_counter()
    with log.open("rb") as file:
        records = sum(1 for line in file if line.endswith(b"\n") and json.loads(line))
    return records, time.perf_counter() - started


def restart(cluster: Any, node: int) -> dict[str, float]:
    """Stop ``node`` cleanly, start it, time readiness and catch-up."""
    cluster.kill(node, signal.SIGTERM)
    started = time.perf_counter()
    cluster.start_node(node)
    cluster.wait_ready(node, CATCH_UP_TIMEOUT_S)
    ready = time.perf_counter() - started
    target = max(s["last_executed"] for i in range(cluster.n) if i != node
                 if (s := cluster.status(i)) is not None)
    while time.perf_counter() - started < CATCH_UP_TIMEOUT_S:
        status = cluster.status(node)
        if status is not None and status["last_executed"] >= target:
            return {"ready_s": ready, "caught_up_s": time.perf_counter() - started,
                    "recovered": float(status["recovered"])}
        time.sleep(0.02)
    raise TimeoutError(f"node {node} did not reach seq {target} in {CATCH_UP_TIMEOUT_S:g} s")


async def _stages(cluster: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    from reference_system.consensus.client import ConsensusClient

    client = ConsensusClient.from_files(cluster.files.config, cluster.files.client_keys,
                                        max_outstanding=max(args.concurrency, 1))
    await client.start()
    stages: list[dict[str, Any]] = []
    committed = 0
    try:
        for stage in range(1, args.stages + 1):
            phase = await grow(Workload(client), args.ops, args.concurrency, args.budget)
            committed += len(phase.latencies)
            log = cluster.root / f"data-{RESTARTED}" / "log.jsonl"
            records, parse_s = parse_floor(log)
            figures = await asyncio.to_thread(restart, cluster, RESTARTED)
            row = {"stage": stage, "committed_total": committed, "records": records,
                   "log_mb": log.stat().st_size / 1e6, "parse_s": parse_s, **figures,
                   "ready_per_parse": figures["ready_s"] / parse_s if parse_s else 0.0}
            say(f"stage {stage}: {committed} transfers, {records} records "
                 f"({row['log_mb']:.1f} MB): ready {figures['ready_s']:.2f} s, caught up "
                 f"{figures['caught_up_s']:.2f} s; parse alone {parse_s:.3f} s "
                 f"(ready/parse {row['ready_per_parse']:.1f}x), {phase.failed} failed")
            stages.append(row)
    finally:
        await client.close()
    return stages


def run(args: argparse.Namespace) -> int:
    """Grow the history in stages, restart a backup after each; JSON on the last line."""
    from reference_system.consensus.launch import LocalCluster

    if args.ops < 1 or args.stages < 1:
        raise SystemExit("--ops and --stages must be at least 1")
    with LocalCluster(4) as cluster:
        stages = run_loop(_stages(cluster, args))
    per_record = [s["ready_s"] / s["records"] for s in stages if s["records"]]
    growth = per_record[-1] / per_record[0] if len(per_record) > 1 and per_record[0] else 1.0
    say(f"restart time per record: first stage {per_record[0] * 1e6:.0f} us, last "
         f"{per_record[-1] * 1e6:.0f} us (x{growth:.2f}); median ready/parse "
         f"{statistics.median(s['ready_per_parse'] for s in stages):.1f}x")
    print(json.dumps({"ops_per_stage": args.ops, "stages": [
        {k: round(v, 4) if isinstance(v, float) else v for k, v in s.items()} for s in stages],
        "per_record_growth": round(growth, 3)}))
    return 0
