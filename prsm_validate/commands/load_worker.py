"""``prsm-validate load-worker --master HOST:PORT``: join a load run as a Locust worker.

Runs on any host with prsm-validate installed that can reach the master; the run's plan
(endpoints, rate, headers) arrives from the master, so nothing else is configured here. The
process becomes the Locust worker (exec), and ends when the master's run ends.
"""

from __future__ import annotations

import argparse
import os
import sys

NAME = "load-worker"
HELP = "Join a prsm-validate load run as a worker: --master HOST:PORT (what the master printed)."


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``load-worker``."""
    parser.add_argument("--master", required=True, metavar="HOST:PORT",
                        help="the master's address, as printed by the run")


def run(args: argparse.Namespace) -> int:
    """Exec the Locust worker; 2 if the address is malformed."""
    from prsm_validate.load.engine import worker_command

    host, _, port = args.master.rpartition(":")
    if not host or not port.isdigit():
        print(f"prsm-validate load-worker: --master {args.master}: give HOST:PORT",
              file=sys.stderr)
        return 2
    argv = worker_command(host.strip("[]"), int(port))
    os.execv(argv[0], argv)
    return 0  # not reached
