"""``prsm-validate bench NAME``: run a benchmark; each prints JSON on its last line.

Benchmarks are modules in :mod:`prsm_validate.bench`, discovered like commands.
"""

from __future__ import annotations

import argparse

NAME = "bench"
HELP = "Run a benchmark (startup, pipeline, load); JSON figures on the last line."


def configure(parser: argparse.ArgumentParser) -> None:
    """Add one sub-parser per benchmark module."""
    from prsm_validate import bench
    from reference_system import commandline

    commandline.add_commands(parser, bench, "benchmark", "BENCHMARK")


def run(args: argparse.Namespace) -> int:
    """Unreachable: argparse dispatches to the chosen benchmark's ``run``."""
    return int(args._run(args) or 0)
