"""One seed derivation for the whole harness: ``derive_seed(seed, *parts)``.

Every random choice of a run (a test's nemesis, a workload client's operations, a fault
schedule, a night's schedules, a Hypothesis state machine) draws from a seed derived from the
run's ``--prsm-seed`` and the labels that name the choice, so a run replays from its seed and
two choices never share a stream. The derivation is CRC-32 of the labels joined by ``/``:
stable across processes, machines and Python versions (``hash()`` is salted per process).
"""

from __future__ import annotations

import zlib


def derive_seed(seed: int, *parts: object) -> int:
    """The seed of the choice named by ``parts`` within the run seeded ``seed``."""
    return zlib.crc32("/".join([str(seed), *map(str, parts)]).encode())
