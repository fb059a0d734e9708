"""Sub-command discovery shared by ``prsm-ref`` and ``prsm-validate``.

A command is a module defining ``NAME``, ``HELP``, ``configure(parser)`` and ``run(args)``;
every such module of a package becomes a sub-command, so adding a command is adding a file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Sequence
from types import ModuleType


def command_modules(package: ModuleType) -> list[ModuleType]:
    """The command modules of ``package``, sorted by name."""
    modules = [importlib.import_module(f"{package.__name__}.{info.name}")
               for info in pkgutil.iter_modules(package.__path__)
               if not info.name.startswith("_")]
    return sorted(modules, key=lambda m: m.NAME)


def add_commands(parser: argparse.ArgumentParser, package: ModuleType, dest: str,
                 metavar: str) -> None:
    """One sub-parser per command module of ``package``."""
    subparsers = parser.add_subparsers(dest=dest, metavar=metavar, required=True)
    for module in command_modules(package):
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(_run=module.run)


def main(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run the chosen command; 130 on Ctrl-C."""
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
