"""``prsm-ref hash-password``: print a password hash for PRSM_REF_USERS (reads stdin)."""

from __future__ import annotations

import argparse
import getpass
import sys

NAME = "hash-password"
HELP = "Hash a password for PRSM_REF_USERS; reads it from stdin or prompts."


def configure(parser: argparse.ArgumentParser) -> None:
    """No options: the password never appears on a command line."""


def run(args: argparse.Namespace) -> int:
    """Print the scrypt hash of the password read from stdin or the terminal."""
    from reference_system.passwords import hash_password

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline()
    password = password.rstrip("\n")
    if not password:
        print("prsm-ref hash-password: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0
