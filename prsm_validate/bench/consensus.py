"""``prsm-validate bench consensus``: a PBFT cluster of real node processes on loopback.

A :class:`~reference_system.consensus.launch.LocalCluster` of ``--nodes`` ``prsm-ref node``
processes (durable logs, fsync before replies) serves a
:class:`~reference_system.consensus.client.ConsensusClient` in this process. Each timed phase
lasts ``--seconds`` (bounded to 0.2-60 s) and is also bounded in count:

- first commit: from starting the processes to the first committed REPLY quorum;
- unloaded latency: one ``transfer`` at a time, p50/p99;
- saturation: ``--concurrency`` submitters back to back (the primary batches what queues up
  while ``max_inflight`` batches are outstanding); ``ops_per_s`` = committed / elapsed;
- half load: open-model arrivals paced at 50% of the saturation rate; latency runs from each
  request's *intended* send time, so a stall is charged to every request it delays.

The theoretical floor uses costs measured in this process: ed25519 sign ``s`` and verify
``v`` (PyNaCl, one protocol-sized payload), HMAC-SHA256 ``h`` (client authenticators and
reply MACs), loopback TCP round trip ``rtt`` and ``fsync`` of one log line, with n = 3f+1,
``B`` = max_batch, ``k`` = checkpoint interval, ``C`` = usable cores. Per batch every replica
signs 2 messages (PRE-PREPARE or PREPARE, then COMMIT) and verifies 2(n-1) (PRE-PREPARE and
n-2 PREPAREs at a backup, n-1 PREPAREs at the primary; n-1 COMMITs everywhere), plus one
CHECKPOINT signed and n-1 verified every k batches; per request 4n HMACs are computed in all
(n authenticators by the client, one check and one reply MAC per replica, n reply checks)::

    W = n * (2s + 2(n-1)v + (s + (n-1)v) / k) + 4n * B * h      # CPU-seconds per full batch
    floor_ops_per_s = C * B / W

The latency floor is the critical path of one request in an idle cluster, each replica on its
own core: five one-way hops (REQUEST, PRE-PREPARE, PREPARE, COMMIT, REPLY), the primary's
sign, the backup's verify + sign, 2f-1 more PREPARE verifies (its own counts), a COMMIT sign,
2f COMMIT verifies, one fsync, and h for the request check, the reply MAC and f+1 checks::

    floor_p50 = 2.5 rtt + 3s + 4f v + fsync + (f + 3) h

Both ignore JSON, Python and scheduling costs, so they bound what any implementation on these
primitives could reach; the gap to the measured figures is the interpreter.

The machine may be shared, so two figures that the other load moves little come with them:
the CPU milliseconds the nodes and the client spent per committed request in each phase
(``cpu_bound_ops_per_s`` = cores / that), and the protocol core's CPU per request in one
process with its cProfile top 10 (:mod:`._consensus_core`). Prints human lines, then JSON on
the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prsm_validate.bench._common import run_loop, say
from prsm_validate.bench.proxy import round_trips

NAME = "consensus"
HELP = ("PBFT cluster on loopback: committed ops/s, commit latency p50/p99 (idle and at half "
        "load), first commit, crypto floor; JSON on the last line.")
MIN_SECONDS, MAX_SECONDS = 0.2, 60.0
MAX_UNLOADED = 20_000          # sequential requests per phase, whatever --seconds says
MAX_ARRIVALS = 200_000         # paced requests in the half-load phase
SUBMIT_TIMEOUT = 10.0
FIRST_COMMIT_TIMEOUT = 30.0
SAMPLE_PAYLOAD = b'["PREPARE",0,1,"' + b"0" * 64 + b'",1]'


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the consensus benchmark."""
    parser.add_argument("--nodes", type=int, default=4, help="replicas, n = 3f+1 (default 4)")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help=f"length of each timed phase, {MIN_SECONDS:g}-{MAX_SECONDS:g} s "
                        "(default 5)")
    parser.add_argument("--concurrency", type=int, default=512,
                        help="concurrent submitters at saturation (default 512)")


# ---- the theoretical floor -----------------------------------------------------------


def _per_call(action: Callable[[], object], budget_s: float = 0.25,
              max_calls: int = 20_000) -> float:
    """Median seconds per call of ``action`` over blocks of 50, within a time budget."""
    blocks: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(blocks) * 50 < max_calls and (len(blocks) < 3 or time.perf_counter() < deadline):
        started = time.perf_counter()
        for _ in range(50):
            action()
        blocks.append((time.perf_counter() - started) / 50)
    return _quantile(blocks, 0.5)


def crypto_costs() -> dict[str, float]:
    """ed25519 sign and verify and HMAC-SHA256 of a PREPARE-sized payload, in seconds."""
    import nacl.signing

    key = nacl.signing.SigningKey.generate()
    signature = key.sign(SAMPLE_PAYLOAD).signature
    verify_key = key.verify_key
    secret = os.urandom(32)
    return {"sign": _per_call(lambda: key.sign(SAMPLE_PAYLOAD)),
            "verify": _per_call(lambda: verify_key.verify(SAMPLE_PAYLOAD, signature)),
            "hmac": _per_call(lambda: hmac.new(secret, SAMPLE_PAYLOAD, hashlib.sha256)
                              .hexdigest())}


def _echo(server: socket.socket) -> None:
    conn, _ = server.accept()
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while data := conn.recv(4096):
            conn.sendall(data)


def loopback_rtt(samples: int = 2000, budget_s: float = 0.5) -> float:
    """Median round trip of 64 bytes over loopback TCP to an echo thread, in seconds."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        thread = threading.Thread(target=_echo, args=(server,), daemon=True)
        thread.start()
        with socket.create_connection(server.getsockname(), timeout=5) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            times = round_trips(sock, samples, budget_s)
        thread.join(timeout=5)
    return _quantile(times, 0.5)


def fsync_cost(samples: int = 200, budget_s: float = 0.5) -> float:
    """Median cost of appending one log line and fsyncing it, in the temp dir, in seconds."""
    times: list[float] = []
    with tempfile.TemporaryFile() as file:
        deadline = time.perf_counter() + budget_s
        while len(times) < samples and (len(times) < 10 or time.perf_counter() < deadline):
            file.write(b"x" * 300 + b"\n")
            started = time.perf_counter()
            file.flush()
            os.fsync(file.fileno())
            times.append(time.perf_counter() - started)
    return _quantile(times, 0.5)


def floor(n: int, max_batch: int, checkpoint_interval: int, costs: dict[str, float],
          rtt: float, fsync: float, cores: int) -> dict[str, float]:
    """Throughput and latency floors from the message counts (module docstring)."""
    f = (n - 1) // 3
    s, v, h = costs["sign"], costs["verify"], costs["hmac"]
    per_replica = 2 * s + 2 * (n - 1) * v + (s + (n - 1) * v) / checkpoint_interval
    work = n * per_replica + 4 * n * max_batch * h
    latency = 2.5 * rtt + 3 * s + 4 * f * v + fsync + (f + 3) * h
    return {"floor_ops_per_s": cores * max_batch / work, "floor_p50_ms": latency * 1000}


def measure_floor(n: int, config: dict[str, Any]) -> dict[str, float]:
    """Measure the primitives and derive both floors."""
    costs, rtt, fsync = crypto_costs(), loopback_rtt(), fsync_cost()
    cores = len(os.sched_getaffinity(0))
    result = floor(n, int(config.get("max_batch", 256)),
                   int(config.get("checkpoint_interval", 32)), costs, rtt, fsync, cores)
    result.update(sign_us=costs["sign"] * 1e6, verify_us=costs["verify"] * 1e6,
                  hmac_us=costs["hmac"] * 1e6, rtt_us=rtt * 1e6, fsync_us=fsync * 1e6,
                  cores=cores)
    return result


# ---- the cluster phases --------------------------------------------------------------


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)] if ordered else float("nan")


@dataclass
class Phase:
    """Outcome of one phase: latencies in seconds, committed and failed counts, duration,
    and the CPU seconds the node processes and this (client) process spent in it."""

    latencies: list[float] = field(default_factory=list)
    failed: int = 0
    elapsed: float = 0.0
    node_cpu: float = 0.0
    client_cpu: float = 0.0

    def ms(self, q: float) -> float:
        """Latency quantile ``q`` in milliseconds."""
        return _quantile(self.latencies, q) * 1000

    def cpu_ms_per_op(self) -> tuple[float, float]:
        """(node, client) CPU milliseconds per committed request."""
        done = max(len(self.latencies), 1)
        return self.node_cpu * 1000 / done, self.client_cpu * 1000 / done


class CpuMeter:
    """CPU time (user + system) of the cluster's node processes and of this process."""

    def __init__(self, pids: list[int]) -> None:
        import psutil

        self.nodes = [psutil.Process(pid) for pid in pids]
        self.me = psutil.Process()

    def read(self) -> tuple[float, float]:
        """(nodes, this process) CPU seconds so far; a node that is gone counts 0."""
        import psutil

        total = 0.0
        for proc in self.nodes:
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                total += times.user + times.system
        mine = self.me.cpu_times()
        return total, mine.user + mine.system

    async def measure(self, phase: Any) -> Phase:
        """Run the ``phase`` coroutine; note the CPU it cost on the result."""
        nodes, client = self.read()
        result = await phase
        after = self.read()
        result.node_cpu, result.client_cpu = after[0] - nodes, after[1] - client
        return result


class Workload:
    """Transfers with fresh ids through one client; records their commit latency."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.ids = itertools.count()

    async def transfer(self, phase: Phase, since: float | None = None) -> None:
        """One transfer; its latency runs from ``since`` (default: now) to the reply quorum."""
        started = time.perf_counter() if since is None else since
        operation = {"op": "transfer", "id": f"bench-{next(self.ids)}", "from": "treasury",
                     "to": "alice", "amount": 1}
        try:
            await self.client.submit(operation, timeout=SUBMIT_TIMEOUT)
        except (TimeoutError, ConnectionError):
            phase.failed += 1
            return
        phase.latencies.append(time.perf_counter() - started)


async def first_commit(client: Any, started: float) -> float:
    """Seconds from ``started`` to the first committed no-op (retried until the bound)."""
    deadline = started + FIRST_COMMIT_TIMEOUT
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            raise TimeoutError(f"no commit within {FIRST_COMMIT_TIMEOUT:g} s of starting")
        with contextlib.suppress(TimeoutError):
            await client.submit({"op": "noop", "id": "bench-first"}, timeout=remaining)
            return time.perf_counter() - started


async def unloaded(work: Workload, seconds: float) -> Phase:
    """One request at a time for ``seconds`` (at most MAX_UNLOADED requests)."""
    phase = Phase()
    started = time.perf_counter()
    end = started + seconds
    while time.perf_counter() < end and len(phase.latencies) + phase.failed < MAX_UNLOADED:
        await work.transfer(phase)
    phase.elapsed = time.perf_counter() - started
    return phase


async def saturation(work: Workload, seconds: float, concurrency: int) -> Phase:
    """``concurrency`` submitters back to back for ``seconds``; elapsed until the last reply."""
    phase = Phase()
    started = time.perf_counter()
    end = started + seconds

    async def submitter() -> None:
        while time.perf_counter() < end:
            await work.transfer(phase)

    await asyncio.gather(*(submitter() for _ in range(concurrency)))
    phase.elapsed = time.perf_counter() - started
    return phase


async def paced(work: Workload, seconds: float, rate: float) -> Phase:
    """Open-model arrivals at ``rate``/s for ``seconds``; latency from the intended send time."""
    phase = Phase()
    count = max(1, min(int(rate * seconds), MAX_ARRIVALS))
    started = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for index in range(count):
        intended = started + index / rate
        delay = intended - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)  # pacing arrivals, not waiting for a condition
        tasks.append(asyncio.create_task(work.transfer(phase, since=intended)))
    await asyncio.gather(*tasks)
    phase.elapsed = time.perf_counter() - started
    return phase


async def measure_cluster(cluster: Any, started: float, seconds: float,
                          concurrency: int) -> dict[str, Any]:
    """Run every phase against a started cluster; the figures for the JSON."""
    from reference_system.consensus.client import ConsensusClient

    client = ConsensusClient.from_files(cluster.files.config, cluster.files.client_keys,
                                        max_outstanding=max(concurrency, 1))
    await client.start()
    try:
        result: dict[str, Any] = {"first_commit_s": await first_commit(client, started)}
        say(f"first commit {result['first_commit_s']:.3f} s after starting {cluster.n} nodes")
        meter = CpuMeter([proc.pid for proc in cluster.procs.values()])
        return result | await _phases(Workload(client), seconds, concurrency, meter)
    finally:
        await client.close()


def _cpu_line(phase: Phase) -> str:
    nodes, client = phase.cpu_ms_per_op()
    return f"CPU {nodes:.3f} ms/op in the nodes, {client:.3f} in the client"


async def _phases(work: Workload, seconds: float, concurrency: int,
                  meter: CpuMeter) -> dict[str, Any]:
    idle = await meter.measure(unloaded(work, seconds))
    say(f"unloaded: {len(idle.latencies)} requests, p50 {idle.ms(0.5):.2f} ms, "
         f"p99 {idle.ms(0.99):.2f} ms; {_cpu_line(idle)}")
    busy = await meter.measure(saturation(work, seconds, concurrency))
    ops = len(busy.latencies) / busy.elapsed
    say(f"saturation ({concurrency} concurrent): {len(busy.latencies)} committed in "
         f"{busy.elapsed:.2f} s = {ops:.0f} ops/s, p50 {busy.ms(0.5):.1f} ms, "
         f"{busy.failed} failed; {_cpu_line(busy)}")
    half = await paced(work, seconds, max(ops / 2, 1.0))
    say(f"half load ({ops / 2:.0f}/s offered): {len(half.latencies)} committed, "
         f"p50 {half.ms(0.5):.2f} ms, p99 {half.ms(0.99):.2f} ms, {half.failed} failed")
    (idle_nodes, idle_client), (busy_nodes, busy_client) = (idle.cpu_ms_per_op(),
                                                            busy.cpu_ms_per_op())
    return {"ops_per_s": ops, "p50_ms_unloaded": idle.ms(0.5),
            "p99_ms_unloaded": idle.ms(0.99), "unloaded_requests": len(idle.latencies),
            "saturated_p50_ms": busy.ms(0.5), "saturated_committed": len(busy.latencies),
            "half_load_rate": ops / 2, "p50_ms_half_load": half.ms(0.5),
            "p99_ms_half_load": half.ms(0.99), "half_load_committed": len(half.latencies),
            "failed": idle.failed + busy.failed + half.failed,
            "node_cpu_ms_per_op_unloaded": idle_nodes,
            "client_cpu_ms_per_op_unloaded": idle_client,
            "node_cpu_ms_per_op_saturated": busy_nodes,
            "client_cpu_ms_per_op_saturated": busy_client,
            # What the cores could commit if this code had them to itself (the machine is
            # shared: ops_per_s moves with the other load, this much less).
            "cpu_bound_ops_per_s": (len(os.sched_getaffinity(0)) * 1000
                                    / max(busy_nodes + busy_client, 1e-9))}


def core_figures() -> dict[str, Any]:
    """The in-process core cost (:mod:`._consensus_core`) and its profile's top entries."""
    from prsm_validate.bench._consensus_core import cpu_per_request, profile_top

    figures: dict[str, Any] = {f"core_cpu_us_per_op_batch_{batch}": cpu_per_request(batch)
                               for batch in (1, 64)}
    say("core (4 replicas in one process, wire encoding, no I/O): "
        + ", ".join(f"batch {batch}: {figures[f'core_cpu_us_per_op_batch_{batch}']:.0f} us "
                    "CPU per request" for batch in (1, 64)))
    top = profile_top(64, requests=1024)
    say("core profile, batch 64, top 10 by own time:")
    for row in top:
        say(f"  {row['own_pct']:5.1f}%  {row['calls']:>7}  {row['function']}")
    figures["core_profile_top"] = top
    return figures


def bounded_seconds(seconds: float) -> float:
    """``--seconds`` clamped to [MIN_SECONDS, MAX_SECONDS] (NaN becomes the minimum)."""
    return min(max(seconds, MIN_SECONDS), MAX_SECONDS) if seconds == seconds else MIN_SECONDS


def run(args: argparse.Namespace) -> int:
    """Measure the floor, then every cluster phase; JSON on the last line."""
    from reference_system.consensus.launch import LocalCluster

    if args.nodes < 4:
        raise SystemExit("--nodes must be at least 4 (n = 3f+1 with f >= 1)")
    seconds = bounded_seconds(args.seconds)
    cluster = LocalCluster(args.nodes)
    try:
        floors = measure_floor(args.nodes, cluster.config)
        say(f"floor: sign {floors['sign_us']:.1f} us, verify {floors['verify_us']:.1f} us, "
             f"hmac {floors['hmac_us']:.2f} us, rtt {floors['rtt_us']:.1f} us, fsync "
             f"{floors['fsync_us']:.0f} us on {floors['cores']} cores -> "
             f"{floors['floor_ops_per_s']:.0f} ops/s, p50 {floors['floor_p50_ms']:.3f} ms")
        started = time.perf_counter()
        with cluster:
            figures = run_loop(measure_cluster(cluster, started, seconds, args.concurrency))
    finally:
        cluster.stop()
    result = {"nodes": args.nodes, "seconds": seconds, "concurrency": args.concurrency,
              **figures, **floors, **core_figures()}
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                      for k, v in result.items()}))
    return 0
