"""The durable log of one node: append-only JSON lines, fsync'd at commit points.

Records: ``exec`` (a committed entry with its 2f+1 commit certificate, in execution order),
``stable`` (a stable checkpoint with its proof), ``state`` (a snapshot installed by state
transfer), ``view`` (a view installed). On restart they are replayed into a fresh replica,
which re-executes its own history and then fetches what it missed from its peers. A torn last
line (crash mid-write) is ignored: it was never fsync'd, so nothing acknowledged depended on it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from reference_system.consensus.events import (
    CheckpointStable,
    Executed,
    StateInstalled,
    ViewInstalled,
)
from reference_system.consensus.messages import (
    Checkpoint,
    Commit,
    CommittedEntry,
    MessageError,
    PrePrepare,
    from_wire,
    to_wire,
)

Record = Executed | CheckpointStable | StateInstalled | ViewInstalled
STATE_PREFIX = b'{"k":"state"'  # encode_record writes the kind first


def _proof(items: list[Any]) -> tuple[Checkpoint, ...]:
    return tuple(from_wire(c) for c in items)  # type: ignore[misc]


def encode_record(record: Record) -> dict[str, Any]:
    """The JSON form of a durable record."""
    if isinstance(record, Executed):
        pp = record.entry.pre_prepare
        return {"k": "exec", "pp": to_wire(pp), "c": [to_wire(c) for c in record.entry.commits]}
    if isinstance(record, CheckpointStable):
        return {"k": "stable", "n": record.seq, "d": record.state_digest,
                "C": [to_wire(c) for c in record.proof]}
    if isinstance(record, StateInstalled):
        return {"k": "state", "n": record.seq, "snap": record.snapshot.decode(),
                "C": [to_wire(c) for c in record.proof]}
    return {"k": "view", "v": record.view}


def decode_record(data: dict[str, Any]) -> Record:
    """Rebuild a durable record (results of executions are recomputed on replay)."""
    kind = data["k"]
    if kind == "exec":
        pp = from_wire(data["pp"])
        commits = tuple(from_wire(c) for c in data["c"])
        if not isinstance(pp, PrePrepare) or not all(isinstance(c, Commit) for c in commits):
            raise MessageError("exec record without a pre-prepare and commits")
        return Executed(CommittedEntry(pp, commits), ())  # type: ignore[arg-type]
    if kind == "stable":
        return CheckpointStable(int(data["n"]), str(data["d"]), _proof(data["C"]))
    if kind == "state":
        return StateInstalled(int(data["n"]), str(data["snap"]).encode(), _proof(data["C"]))
    return ViewInstalled(int(data["v"]))


class DurableLog:
    """Append records; :meth:`sync` makes everything appended so far durable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self.dirty = False

    def replay(self) -> Iterator[Record]:
        """Every complete record in the file, oldest first, except snapshots a later one
        supersedes: each installed snapshot replaces the whole state, so restoring all but
        the last would cost O(state) apiece for nothing (the entries executed between them
        are skipped by the replica, as they were covered by the later snapshot)."""
        last_state = self._last_state_line()
        with self.path.open("rb") as file:
            for number, line in enumerate(file):
                if not line.endswith(b"\n"):
                    return  # torn tail
                if number < last_state and line.startswith(STATE_PREFIX):
                    continue
                yield decode_record(json.loads(line))

    def _last_state_line(self) -> int:
        last = -1
        with self.path.open("rb") as file:
            for number, line in enumerate(file):
                if line.startswith(STATE_PREFIX) and line.endswith(b"\n"):
                    last = number
        return last

    def append(self, record: Record) -> None:
        """Buffer one record."""
        self._file.write(json.dumps(encode_record(record), separators=(",", ":")).encode()
                         + b"\n")
        self.dirty = True

    def write_out(self) -> bool:
        """Hand buffered records to the OS; whether any were appended since the last call.

        Cheap and non-blocking on the disk; :meth:`sync_written` (which may run in another
        thread) then makes everything written out so far durable.
        """
        dirty, self.dirty = self.dirty, False
        if dirty:
            self._file.flush()
        return dirty

    def sync_written(self) -> None:
        """fdatasync what :meth:`write_out` handed to the OS (enough for an append-only file:
        the new length is metadata fdatasync includes)."""
        os.fdatasync(self._file.fileno())

    def sync(self) -> None:
        """Flush and fsync if anything was appended since the last sync."""
        if self.write_out():
            self.sync_written()

    def close(self) -> None:
        """Sync and close."""
        self.sync()
        self._file.close()
