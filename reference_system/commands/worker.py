"""``prsm-ref worker``: a task worker (claims tasks from PostgreSQL under a lease)."""

from __future__ import annotations

import argparse
import asyncio
import logging

NAME = "worker"
HELP = "Run tasks from the PostgreSQL task queue (several workers share it; failover by lease)."


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the worker."""
    parser.add_argument("--postgres", required=True, help="PostgreSQL DSN")
    parser.add_argument("--name", required=True, help="worker name shown in task status")
    parser.add_argument("--loops", type=int, default=2, help="tasks run at once")
    parser.add_argument("--host", default="127.0.0.1", help="HTTP listen address")
    parser.add_argument("--port", type=int, default=8300, help="HTTP port (health)")


def run(args: argparse.Namespace) -> int:
    """Run until SIGINT/SIGTERM."""
    from reference_system import worker

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(worker.run(args.postgres, args.name, args.loops, args.host, args.port))
    return 0
