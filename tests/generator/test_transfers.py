"""The transfer workload is seeded, per client, with unique ids."""

from __future__ import annotations

import itertools

import pytest

from prsm_validate.generator.transfers import TransferWorkload


def _take(workload: TransferWorkload, client: int, count: int) -> list[dict]:
    return list(itertools.islice(workload.client(client), count))


def test_same_seed_same_operations_and_clients_differ() -> None:
    workload = TransferWorkload(["a", "b", "c"], seed=3, prefix="w")
    assert _take(workload, 0, 50) == _take(TransferWorkload(["a", "b", "c"], 3, "w"), 0, 50)
    assert _take(workload, 0, 50) != _take(workload, 1, 50)
    ops = _take(workload, 0, 200) + _take(workload, 1, 200)
    assert len({op["id"] for op in ops}) == 400
    assert all(op["from"] != op["to"] and 1 <= op["amount"] <= 5 for op in ops)


def test_one_account_is_refused() -> None:
    with pytest.raises(ValueError, match="two distinct accounts"):
        TransferWorkload(["a", "a"], seed=1)
