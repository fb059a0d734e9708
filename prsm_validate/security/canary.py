"""The secrets canary: the run's own secrets (passwords, the JWT secret, bearer tokens) must
appear nowhere in what the run writes (its report folder, the target's logs), except in a
private credentials file (mode 0600, named ``credentials*``)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MAX_FILES = 20_000
MAX_BYTES = 8 * 1024 * 1024  # read at most this much of each file
MIN_SECRET = 8  # shorter values would match by chance


@dataclass(frozen=True)
class Hit:
    """A secret found in a file (which secret by name only, never its value)."""

    path: str
    secret: str

    def __str__(self) -> str:
        return f"{self.secret} found in {self.path}"


def allowed(path: Path) -> bool:
    """A private credentials file: the one place secrets may be written."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return path.name.startswith("credentials") and not mode & (stat.S_IRWXG | stat.S_IRWXO)


def find_secrets(folders: Iterable[Path], secrets: dict[str, str]) -> list[Hit]:
    """Every (file, secret name) where a secret's value occurs, outside allowed files."""
    needles = {name: value.encode() for name, value in secrets.items()
               if value and len(value) >= MIN_SECRET}
    hits: list[Hit] = []
    seen = 0
    for folder in folders:
        for root, _dirs, files in os.walk(folder):
            for name in files:
                seen += 1
                if seen > MAX_FILES:
                    return hits
                path = Path(root) / name
                if allowed(path):
                    continue
                hits += [Hit(str(path), secret) for secret in _search(path, needles)]
    return hits


def _search(path: Path, needles: dict[str, bytes]) -> list[str]:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES)
    except OSError:
        return []
    return [name for name, value in needles.items() if value in data]
