"""Helpers every benchmark shares: progress lines and the event loop it runs on."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


def say(line: str) -> None:
    """A progress line, flushed at once (the JSON result is always the last line)."""
    print(line, flush=True)


def run_loop(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coroutine`` on uvloop when installed (as the node processes do), else asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)
