"""The ``prsm-ref`` command line: run one role of the reference system.

Roles are modules in :mod:`reference_system.commands` (see :mod:`reference_system.commandline`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reference_system import commandline, commands


def build_parser() -> argparse.ArgumentParser:
    """Build the parser with one sub-parser per role module."""
    parser = argparse.ArgumentParser(
        prog="prsm-ref", description="Run a role of the PRSM reference system.")
    commandline.add_commands(parser, commands, "role", "ROLE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``prsm-ref``; returns the process exit status."""
    return commandline.main(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
