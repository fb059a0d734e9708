"""The ``prsm-ref`` command line: run one role of the reference system.

Roles are modules in :mod:`reference_system.commands` defining ``NAME``, ``HELP``,
``configure(parser)`` and ``run(args) -> int`` (``api``, ``node``, ``edge``, ``pipeline``...).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from reference_system import commands


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with one sub-parser per role module."""
    parser = argparse.ArgumentParser(
        prog="prsm-ref", description="Run a role of the PRSM reference system."
    )
    subparsers = parser.add_subparsers(dest="role", metavar="ROLE", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``prsm-ref``; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
