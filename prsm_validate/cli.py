"""The ``prsm-validate`` command line.

Each sub-command is a module in :mod:`prsm_validate.commands` (discovered, see
:mod:`reference_system.commandline`); heavy imports stay inside each command's ``run``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from prsm_validate import commands
from reference_system import commandline


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one sub-parser per discovered command."""
    parser = argparse.ArgumentParser(
        prog="prsm-validate",
        description="Validation harness for the PRSM platform. Scenarios run with pytest; "
        "these commands start the reference system, check histories, benchmark and report.",
    )
    commandline.add_commands(parser, commands, "command", "COMMAND")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``prsm-validate``; returns the process exit status."""
    return commandline.main(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
