"""Compact construction of hand-made histories for checker tests."""

from __future__ import annotations

from typing import Any

from prsm_validate.history import Event


def history(*rows: tuple[Any, ...]) -> list[Event]:
    """Events from ``(process, type, f[, value])`` rows, in order; index and time = position."""
    events = []
    for position, row in enumerate(rows):
        process, kind, f = row[:3]
        value = row[3] if len(row) > 3 else None
        events.append(Event(position, position, process, kind, f, value))
    return events


def op(process: int, f: str, value: Any, output: Any, outcome: str = "ok") -> list[tuple]:
    """An operation that completes immediately (no concurrency): invoke then completion."""
    return [(process, "invoke", f, value), (process, outcome, f, output)]


def sequential(*ops: list[tuple]) -> list[Event]:
    """A history of operations one after another."""
    return history(*(row for pair in ops for row in pair))
