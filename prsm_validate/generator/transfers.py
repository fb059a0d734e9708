"""A seeded FTNS transfer workload: which account pays which, how much, under which id.

Operations are plain data ``{"id", "from", "to", "amount"}`` (the shape the ledger checker
reads back from histories). Ids carry the workload's prefix so a test's transfers are
recognisable in a ledger other tests also used.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prsm_validate.seeds import derive_seed


@dataclass(frozen=True)
class TransferWorkload:
    """Transfers among ``accounts``, each of 1..``max_amount`` tokens, drawn from ``seed``."""

    accounts: Sequence[str]
    seed: int
    prefix: str = "t"
    max_amount: int = 5

    def __post_init__(self) -> None:
        if len(set(self.accounts)) < 2:
            raise ValueError(f"a transfer workload needs two distinct accounts, got "
                             f"{list(self.accounts)}")

    def client(self, number: int) -> Iterator[dict[str, Any]]:
        """The endless operation stream of client ``number`` (its own seeded generator)."""
        rng = random.Random(derive_seed(self.seed, "transfers", self.prefix, number))
        for count in range(1 << 62):
            source, target = rng.sample(list(self.accounts), 2)
            yield {"id": f"{self.prefix}-{number}-{count}", "from": source, "to": target,
                   "amount": rng.randint(1, self.max_amount)}
