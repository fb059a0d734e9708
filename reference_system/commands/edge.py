"""``prsm-ref edge``: an edge agent simulating devices that publish telemetry to JetStream."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

NAME = "edge"
HELP = "Run an edge agent: M devices publishing telemetry, plus local inference over HTTP."


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the edge agent."""
    parser.add_argument("--nats", required=True, help="NATS URL, e.g. nats://127.0.0.1:4222")
    parser.add_argument("--state-dir", required=True, type=Path,
                        help="where per-device sequence numbers persist across restarts")
    parser.add_argument("--devices", type=int, default=4, help="number of devices (default 4)")
    parser.add_argument("--device-prefix", default="edge", help="device name prefix")
    parser.add_argument("--interval-ms", type=float, default=500,
                        help="pause between readings of one device (default 500)")
    parser.add_argument("--max-readings", type=int, default=None,
                        help="stop each device after this many readings (default: no limit)")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP listen address")
    parser.add_argument("--port", type=int, default=8100, help="HTTP port (health, /infer)")


def run(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM."""
    from reference_system.edge import EdgeAgent

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    devices = [f"{args.device_prefix}-{i}" for i in range(args.devices)]
    agent = EdgeAgent(devices, args.nats, args.state_dir, args.interval_ms / 1000,
                      args.max_readings)
    asyncio.run(agent.run(args.host, args.port))
    return 0
