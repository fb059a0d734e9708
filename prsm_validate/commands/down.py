"""``prsm-validate down [RUN]``: stop a system a run left running with ``--prsm-keep``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "down"
HELP = "Stop the system a run left running with --prsm-keep (default: reports/latest)."


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``down``."""
    parser.add_argument("run", nargs="?", default="reports/latest",
                        help="run folder, or a run id under --root (default reports/latest)")
    parser.add_argument("--root", default="reports", help="report root (default reports/)")


def run(args: argparse.Namespace) -> int:
    """Stop every process group of the kept system and remove its data folder."""
    from prsm_validate.targets.kept import NothingKept, stop

    run_dir = Path(args.run)
    if not run_dir.exists():
        run_dir = Path(args.root) / args.run
    try:
        systems = stop(run_dir)
    except NothingKept as exc:
        print(f"prsm-validate down: {exc}", file=sys.stderr)
        return 2
    for kept in systems:
        print(f"stopped {len(kept.get('groups', []))} process groups; "
              f"removed {kept.get('root')}")
    return 0
