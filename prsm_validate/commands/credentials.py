"""``prsm-validate credentials FILE``: the login of a started system as shell variables."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

NAME = "credentials"
HELP = ("Print `export PRSM_USERNAME=... PRSM_PASSWORD=...` from a credentials file written by "
        "`prsm-validate up` (for `eval \"$(prsm-validate credentials FILE)\"`).")


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of ``credentials``."""
    parser.add_argument("file", type=Path, help="credentials.json printed by prsm-validate up")


def run(args: argparse.Namespace) -> int:
    """Print the export line; a missing or malformed file is one line on stderr, exit 2."""
    try:
        data = json.loads(args.file.read_text())
        username, password = str(data["username"]), str(data["password"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"prsm-validate credentials: {args.file}: not a credentials file written by "
              f"prsm-validate up ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 2
    print(f"export PRSM_USERNAME={shlex.quote(username)} PRSM_PASSWORD={shlex.quote(password)}")
    return 0
