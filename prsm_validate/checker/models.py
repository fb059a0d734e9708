"""Sequential specifications (models) that linearizability is checked against.

A model compiles each operation into a *transition*: a function from the model state before
the operation to the state after it, or :data:`INVALID` when the operation's observed result is
impossible in that state. Operations that certainly had no effect (a failed write) or whose
result is unknown and could not change the state (a read that timed out) compile to ``None``
and are left out of the search.

Semantics (Jepsen's etcd tests): ``fail`` on a cas means the compare did not match, so it is an
observation that the register did not hold the expected value; ``fail`` on a read or write
means it did not happen; ``info`` means unknown: it may take effect at any later time or never.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from prsm_validate.checker.ops import HistoryError, Op

INVALID: Any = object()
Transition = Callable[[Hashable], Hashable]

READS = frozenset({"read", "get"})
WRITES = frozenset({"write", "set", "put"})
CASES = frozenset({"cas"})


def freeze(value: Any) -> Hashable:
    """A hashable, comparable form of a JSON value (lists become tuples)."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    return value


def _read(op: Op) -> Transition | None:
    if op.outcome != "ok":
        return None
    expected = freeze(op.output)
    return lambda state: state if state == expected else INVALID


def _write(op: Op) -> Transition | None:
    if op.outcome == "fail":
        return None
    written = freeze(op.value)
    return lambda state: written


def _cas(op: Op) -> Transition | None:
    pair = op.value
    if not isinstance(pair, list | tuple) or len(pair) != 2:
        raise HistoryError(f"event {op.invoke_index}: cas value must be [expected, new], "
                           f"got {pair!r}", op.invoke_index)
    old, new = freeze(pair[0]), freeze(pair[1])
    if op.outcome == "ok":
        return lambda state: new if state == old else INVALID
    if op.outcome == "fail":
        return lambda state: state if state != old else INVALID
    return lambda state: new if state == old else state


@dataclass(frozen=True)
class RegisterModel:
    """A single register; ``cas=True`` adds compare-and-set (the cas-register model)."""

    name: str = "register"
    cas: bool = False
    initial: Hashable = None

    def transition(self, op: Op) -> Transition | None:
        """The operation's transition, ``None`` if it cannot affect the search."""
        if op.f in READS:
            return _read(op)
        if op.f in WRITES:
            return _write(op)
        if op.f in CASES and self.cas:
            return _cas(op)
        known = sorted(READS | WRITES | (CASES if self.cas else frozenset()))
        raise HistoryError(f"event {op.invoke_index}: the {self.name} model has no operation "
                           f"{op.f!r} (known: {', '.join(known)})", op.invoke_index)

    def observes_only(self, op: Op) -> bool:
        """Whether the operation's transition, where legal, leaves the state as it was (an
        acknowledged read, a failed cas): the search may linearize it greedily."""
        return (op.outcome == "ok" and op.f in READS) or (op.outcome == "fail" and op.f in CASES)


REGISTER = RegisterModel("register")
CAS_REGISTER = RegisterModel("cas-register", cas=True)


def split_key(op: Op) -> tuple[Hashable, Op]:
    """A key-value operation as (key, the same operation on that key's register).

    Values are Jepsen ``independent`` tuples ``[key, value]`` or ``{"key": k, "value": v}``;
    a completion value may be either form or the bare value.
    """
    key, inner = _key_and_value(op.value, op)
    output = op.output
    if op.outcome == "ok":
        output = _inner_output(key, output)
    return freeze(key), Op(op.process, op.f, inner, op.outcome, output, op.invoke_index,
                           op.complete_index, op.invoke_time, op.complete_time, op.error)


def _inner_output(key: Any, output: Any) -> Any:
    # A completion may repeat the key ([key, value] or {"key", "value"}) or give the bare value.
    if isinstance(output, dict) and output.get("key") == key:
        return output.get("value")
    if isinstance(output, list | tuple) and len(output) == 2 and output[0] == key:
        return output[1]
    return output


def _key_and_value(value: Any, op: Op) -> tuple[Any, Any]:
    if isinstance(value, dict) and "key" in value:
        return value["key"], value.get("value")
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    raise HistoryError(f"event {op.invoke_index}: a key-value operation needs [key, value] or "
                       f'{{"key": ..., "value": ...}}, got {value!r}', op.invoke_index)
