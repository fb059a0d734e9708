"""Drills marked ``slow`` (a minute or more: they restart replicas under load or apply every
kind of fault) run when a gate selects them (``--prsm-gate``) or with ``-m slow``; in the
default run they are skipped saying how to run them."""

from __future__ import annotations

import pytest


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a slow drill unless a gate or ``-m`` asked for slow tests."""
    if item.get_closest_marker("slow") is None:
        return
    from prsm_validate import selected_gate

    asked = "slow" in (item.config.getoption("markexpr") or "")
    if selected_gate(item.config) is None and not asked:
        pytest.skip("slow drill: runs under --prsm-gate (M6, M11, T2, T4) or with -m slow")
