"""The durable log: records round-trip, a torn tail is ignored, superseded snapshots skipped."""

from __future__ import annotations

from pathlib import Path

from reference_system.consensus.durable import DurableLog
from reference_system.consensus.events import CheckpointStable, StateInstalled, ViewInstalled


def _log(path: Path, records: list) -> DurableLog:
    log = DurableLog(path)
    for record in records:
        log.append(record)
    log.close()
    return DurableLog(path)


def test_records_round_trip_and_a_torn_tail_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    records = [ViewInstalled(2), CheckpointStable(4, "d4", ())]
    _log(path, records)
    with path.open("ab") as file:
        file.write(b'{"k":"view","v":')  # a crash mid-write
    assert [repr(r) for r in DurableLog(path).replay()] == [repr(r) for r in records]


def test_only_the_last_installed_snapshot_is_replayed(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    first, last = StateInstalled(4, b'{"s":1}', ()), StateInstalled(8, b'{"s":2}', ())
    replayed = list(_log(path, [first, ViewInstalled(1), last, ViewInstalled(2)]).replay())
    assert [repr(r) for r in replayed] == [repr(r) for r in [ViewInstalled(1), last,
                                                           ViewInstalled(2)]]
