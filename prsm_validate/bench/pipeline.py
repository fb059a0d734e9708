"""``prsm-validate bench pipeline``: telemetry landed per second and end-to-end latency, beside
the broker's raw publish rate (the ceiling) measured in the same run.

Both figures use the same JetStream settings (file storage, fsync on every write) and the same
pipelined publisher (a window of outstanding PubAcks). Median of ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid

NAME = "pipeline"
HELP = "Telemetry landed msgs/s and e2e latency vs the broker's raw publish rate; JSON last."


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the pipeline benchmark."""
    parser.add_argument("--messages", type=int, default=3000, help="messages per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (median reported)")
    parser.add_argument("--window", type=int, default=256, help="outstanding PubAcks")


async def _publish_all(js, subject_of, payloads, msg_ids, window: int) -> float:
    """Publish with at most ``window`` unacknowledged messages; returns seconds taken."""
    started = time.perf_counter()
    pending: set[asyncio.Future] = set()
    for index, payload in enumerate(payloads):
        pending.add(asyncio.ensure_future(js.publish(
            subject_of(index), payload, headers={"Nats-Msg-Id": msg_ids[index]}, timeout=10)))
        if len(pending) >= window:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                future.result()
    for future in pending:
        await future
    return time.perf_counter() - started


async def _raw_rate(nats_url: str, messages: int, window: int) -> float:
    import nats
    from nats.js.api import StorageType, StreamConfig

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    name = f"BENCH_RAW_{uuid.uuid4().hex[:6]}"
    await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"], storage=StorageType.FILE))
    payload = b"x" * 180  # about the size of a telemetry reading
    ids = [f"raw/{i}" for i in range(messages)]
    seconds = await _publish_all(js, lambda i: f"{name}.d", [payload] * messages, ids, window)
    await js.delete_stream(name)
    await nc.close()
    return messages / seconds


async def _landed_round(deployment, messages: int, window: int) -> dict[str, float]:
    import nats

    from prsm_validate.client import telemetry as tel

    device = f"bench-{uuid.uuid4().hex[:8]}"
    rng = random.Random(7)
    readings = [tel.reading(device, seq, rng) for seq in range(1, messages + 1)]
    nc = await nats.connect(deployment.nats_url)
    started = time.perf_counter()
    await _publish_all(nc.jetstream(), lambda i: f"telemetry.{device}",
                       [r.encode() for r in readings], [r.msg_id for r in readings], window)
    await nc.close()
    await asyncio.to_thread(tel.wait_landed, deployment.postgres_dsn, device,
                            set(range(1, messages + 1)), 120)
    elapsed = time.perf_counter() - started
    latencies = sorted(tel.latencies_ms(deployment.postgres_dsn, device))
    if len(latencies) != messages:
        raise RuntimeError(f"only {len(latencies)} of {messages} readings landed")
    return {"landed_per_s": messages / elapsed, "p50": statistics.median(latencies),
            "p99": latencies[int(0.99 * (len(latencies) - 1))]}


def run(args: argparse.Namespace) -> int:
    """Start the local target, measure, print JSON."""
    from prsm_validate.targets.local import LocalOptions, LocalTarget

    target = LocalTarget(LocalOptions(edge_devices=1, edge_interval_ms=1000))
    deployment = target.start()
    try:
        rounds, raws = [], []
        for index in range(args.rounds):
            raws.append(asyncio.run(_raw_rate(deployment.nats_url, args.messages, args.window)))
            rounds.append(asyncio.run(_landed_round(deployment, args.messages, args.window)))
            print(f"round {index + 1}: raw publish {raws[-1]:.0f}/s, landed "
                  f"{rounds[-1]['landed_per_s']:.0f}/s, e2e p50 {rounds[-1]['p50']:.1f} ms "
                  f"p99 {rounds[-1]['p99']:.1f} ms", flush=True)
    finally:
        target.stop()
    landed = statistics.median(r["landed_per_s"] for r in rounds)
    raw = statistics.median(raws)
    print(json.dumps({
        "landed_msgs_per_s": round(landed, 1), "broker_publish_per_s": round(raw, 1),
        "landed_vs_broker": round(landed / raw, 3),
        "e2e_p50_ms": round(statistics.median(r["p50"] for r in rounds), 2),
        "e2e_p99_ms": round(statistics.median(r["p99"] for r in rounds), 2),
        "messages_per_round": args.messages, "rounds": args.rounds,
        "note": "e2e latency measured while publishing at full speed (queueing included)",
    }))
    return 0
