"""``prsm-validate load URL``: one bounded load run (Locust in its own processes), with local
workers and/or workers on other hosts; prints the merged figures as JSON on the last line.

With ``--remote-workers N`` the master listens on ``--master-bind`` (an interface address, or
0.0.0.0) and prints the command each worker host runs (``prsm-validate load-worker --master
HOST:PORT``, where HOST is ``--master-host``, the address the workers dial). Every worker's
per-second HDR histograms are merged, so the percentiles are those of all requests together.
"""

from __future__ import annotations

import argparse
import json
import sys

NAME = "load"
HELP = ("Run a bounded load (open or closed model) against URL, optionally with workers on "
        "other hosts (the master binds a chosen interface and prints the worker command); "
        "merged figures as JSON on the last line.")


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``load``."""
    parser.add_argument("url", help="base URL of the system under load")
    parser.add_argument("--endpoint", action="append", default=None, metavar="NAME=METHOD:PATH",
                        help="an endpoint, optionally :WEIGHT (repeatable; default "
                        "health=GET:/health)")
    parser.add_argument("--rate", type=float, default=None,
                        help="open model: arrivals per second (default: closed model)")
    parser.add_argument("--users", type=int, default=10, help="closed model: users (default 10)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--workers", type=int, default=0, help="local worker processes")
    parser.add_argument("--remote-workers", type=int, default=0,
                        help="workers that join from other hosts")
    parser.add_argument("--master-bind", default=None,
                        help="interface address the master listens on (default --master-host)")
    parser.add_argument("--master-host", default="127.0.0.1",
                        help="address workers dial to reach the master (default 127.0.0.1)")
    parser.add_argument("--master-port", type=int, default=None, help="default: a free port")
    parser.add_argument("--worker-wait", type=float, default=60.0,
                        help="seconds the master waits for its workers (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="seed of endpoint choices")


def _endpoints(specs: list[str] | None) -> list[object] | str:
    from prsm_validate.load.engine import Endpoint

    found = []
    for spec in specs or ["health=GET:/health"]:
        name, _, rest = spec.partition("=")
        method, _, path = rest.partition(":")
        path, _, weight = path.partition(":")
        weight = weight or "1"
        if not name or not method or not path.startswith("/") or not weight.isdigit():
            return f"--endpoint {spec}: give NAME=METHOD:/path or NAME=METHOD:/path:WEIGHT"
        found.append(Endpoint(name, method.upper(), path, weight=int(weight)))
    return found


def run(args: argparse.Namespace) -> int:
    """Run, print the announcement (stderr) and the merged figures (stdout)."""
    from prsm_validate.load.engine import run_load

    endpoints = _endpoints(args.endpoint)
    if isinstance(endpoints, str):
        print(f"prsm-validate load: {endpoints}", file=sys.stderr)
        return 2
    model = {"model": "open", "rate": args.rate} if args.rate else {"users": args.users}
    try:
        result = run_load(args.url, endpoints, duration_s=args.duration, workers=args.workers,
                          remote_workers=args.remote_workers, master_bind=args.master_bind,
                          master_host=args.master_host, master_port=args.master_port,
                          worker_wait_s=args.worker_wait, seed=args.seed, progress=False,
                          max_requests=10_000_000, **model)
    except (ValueError, RuntimeError, TimeoutError, OSError) as exc:
        print(f"prsm-validate load: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    summary = result.summary()
    summary["sources"] = dict(sorted(result.sources.items()))
    print(json.dumps(summary), flush=True)
    return 0
