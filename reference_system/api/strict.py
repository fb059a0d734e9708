"""Strict request decoding: NaN, Infinity, numbers that overflow a float (``1e400``), NUL
characters and lone UTF-16 surrogates (``"\\ud800"``: valid JSON, not encodable as UTF-8) in
any string or object key of a JSON body are refused with 422 before a route sees them
(PostgreSQL's jsonb and text take none of them: they were 500s); control characters
are refused in path parameters (:data:`CleanPath`).

:class:`StrictRoute` is the routers' ``route_class``: its requests decode JSON with
:func:`strict_loads`, whose errors FastAPI turns into a ``json_invalid`` validation error
(our structured 422).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Path, Request, Response
from fastapi.routing import APIRoute

NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
CleanPath = Annotated[str, Path(pattern=NO_CONTROL)]


class _Refused(json.JSONDecodeError):
    def __init__(self, reason: str, doc: str) -> None:
        super().__init__(reason, doc, 0)


def strict_loads(raw: bytes | str) -> Any:
    """``json.loads`` that refuses non-finite numbers, NUL characters and lone surrogates
    (and, as JSON errors too, bytes that are not UTF-8 and nesting deeper than the parser
    goes)."""
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise _Refused("the body is not UTF-8", "") from None

    def constant(name: str) -> Any:
        raise _Refused(f"{name} is not a JSON number", text)

    def number(literal: str) -> float:
        value = float(literal)
        if not math.isfinite(value):
            raise _Refused(f"{literal[:40]} does not fit a 64-bit float", text)
        return value

    try:
        value = json.loads(text, parse_constant=constant, parse_float=number)
    except RecursionError:
        raise _Refused("the body nests deeper than the server reads", text) from None
    problem = _unstorable(value)
    if problem:
        raise _Refused(f"a string or key holds {problem}", text)
    return value


def _unstorable(value: Any) -> str | None:
    """What in ``value`` no text column can store (None: nothing)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "a NUL character"
            if not _utf8(item):
                return "a lone UTF-16 surrogate (not encodable as UTF-8)"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class StrictRequest(Request):
    """A request whose JSON body is decoded by :func:`strict_loads`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_loads(await self.body())
        return self._json


class StrictRoute(APIRoute):
    """Routes whose requests are :class:`StrictRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictRequest(request.scope, request.receive))

        return strict_handler
