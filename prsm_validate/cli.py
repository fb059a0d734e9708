"""The ``prsm-validate`` command line.

Each sub-command is a module in :mod:`prsm_validate.commands` that defines ``NAME``, ``HELP``,
``configure(parser)`` and ``run(args) -> int``. Modules are discovered, so adding a command is
adding a file; heavy imports stay inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from types import ModuleType

from prsm_validate import commands


def _command_modules() -> list[ModuleType]:
    found = []
    for info in pkgutil.iter_modules(commands.__path__):
        if not info.name.startswith("_"):
            found.append(importlib.import_module(f"{commands.__name__}.{info.name}"))
    return sorted(found, key=lambda m: m.NAME)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one sub-parser per discovered command."""
    parser = argparse.ArgumentParser(
        prog="prsm-validate",
        description="Validation harness for the PRSM platform. Scenarios run with pytest; "
        "these commands start the reference system, check histories, benchmark and report.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules():
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``prsm-validate``; returns the process exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
