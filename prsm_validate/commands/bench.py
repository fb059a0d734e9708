"""``prsm-validate bench NAME``: run a benchmark; each prints JSON on its last line.

Benchmarks are modules in :mod:`prsm_validate.bench` defining ``NAME``, ``HELP``,
``configure(parser)`` and ``run(args) -> int``, discovered like commands.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

NAME = "bench"
HELP = "Run a benchmark (consensus, proxy, pipeline, load); JSON figures on the last line."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add one sub-parser per benchmark module."""
    from prsm_validate import bench

    subparsers = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", required=True)
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{bench.__name__}.{info.name}")
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.configure(sub)
        sub.set_defaults(_run=module.run)


def run(args: argparse.Namespace) -> int:
    """Unreachable: argparse dispatches to the chosen benchmark's ``run``."""
    return int(args._run(args) or 0)
