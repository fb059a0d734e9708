"""Polling with a timeout: the harness's one way to wait for a condition (never a bare sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout_s: float = 10.0, interval_s: float = 0.05,
               what: str = "condition") -> T:
    """Poll ``check`` until it returns a truthy value, which is returned; else fail the test
    naming ``what``, the timeout and the last value seen."""
    deadline = time.monotonic() + timeout_s
    value = check()
    while not value:
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not met within {timeout_s:g}s; last value {value!r}",
                        pytrace=False)
        time.sleep(interval_s)
        value = check()
    return value
