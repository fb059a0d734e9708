"""``prsm-ref pipeline``: the durable JetStream consumer that lands telemetry in PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import logging

NAME = "pipeline"
HELP = "Consume telemetry from JetStream into PostgreSQL (ack after commit, idempotent)."


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the pipeline."""
    parser.add_argument("--nats", required=True, help="NATS URL")
    parser.add_argument("--postgres", required=True, help="PostgreSQL DSN")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP listen address")
    parser.add_argument("--port", type=int, default=8200, help="HTTP port (health, metrics)")


def run(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM."""
    from reference_system.pipeline import Pipeline

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(Pipeline(args.nats, args.postgres).run(args.host, args.port))
    return 0
