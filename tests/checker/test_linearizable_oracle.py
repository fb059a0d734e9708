"""The linearizability search against a brute-force oracle on small random histories.

The oracle enumerates every order of the operations that took effect (each ``info`` operation
either takes effect or not) consistent with real time, and replays it on a cas-register
written independently of the checker's models.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from prsm_validate.checker import check_linearizable
from prsm_validate.history import Event

VALUES = st.sampled_from([0, 1, 2])
OUTCOMES = st.sampled_from(["ok", "ok", "fail", "info"])


@st.composite
def small_histories(draw: Any) -> list[Event]:
    count = draw(st.integers(1, 5))
    specs = []
    for process in range(count):
        f = draw(st.sampled_from(["read", "write", "cas"]))
        value = {"read": None, "write": draw(VALUES),
                 "cas": [draw(VALUES), draw(VALUES)]}[f]
        outcome = draw(OUTCOMES)
        output = draw(st.sampled_from([None, 0, 1, 2])) if f == "read" else value
        specs.append((process, f, value, outcome, output))
    slots = [p for p in range(count) for _ in range(2)]
    order = draw(st.permutations(slots))
    events, started = [], set()
    for position, process in enumerate(order):
        _, f, value, outcome, output = specs[process]
        if process not in started:
            started.add(process)
            events.append(Event(position, position, process, "invoke", f, value))
        else:
            events.append(Event(position, position, process, outcome, f,
                                output if outcome == "ok" else value))
    return events


def _ops(events: list[Event]) -> list[dict[str, Any]]:
    ops: dict[int, dict[str, Any]] = {}
    for e in events:
        if e.type == "invoke":
            ops[e.process] = {"f": e.f, "value": e.value, "start": e.index}
        else:
            ops[e.process].update(outcome=e.type, output=e.value,
                                  end=e.index if e.type != "info" else float("inf"))
    return list(ops.values())


def _legal(order: tuple[dict[str, Any], ...]) -> bool:
    state = None
    for o in order:
        f, value, outcome = o["f"], o["value"], o["outcome"]
        if f == "read":
            if outcome == "ok" and o["output"] != state:
                return False
        elif f == "write":
            state = value
        elif outcome == "fail":
            if state == value[0]:
                return False
        elif state == value[0]:
            state = value[1]
        elif outcome == "ok":
            return False
    return True


def _respects_real_time(order: tuple[dict[str, Any], ...]) -> bool:
    return all(not (later["end"] < earlier["start"])
               for i, earlier in enumerate(order) for later in order[i + 1:])


def oracle(events: list[Event]) -> bool:
    ops = _ops(events)
    # A failed read or write did not happen; a failed cas is an observation (compare missed).
    certain = [o for o in ops if o["outcome"] == "ok" or (o["outcome"] == "fail"
                                                         and o["f"] == "cas")]
    maybe = [o for o in ops if o["outcome"] == "info"]
    for chosen in itertools.product([False, True], repeat=len(maybe)):
        included = certain + [o for o, keep in zip(maybe, chosen, strict=True) if keep]
        for order in itertools.permutations(included):
            if _respects_real_time(order) and _legal(order):
                return True
    return False


@settings(max_examples=300, deadline=None)
@given(small_histories())
def test_search_agrees_with_brute_force(events: list[Event]) -> None:
    verdict = check_linearizable(events, "cas-register")
    if not any(e.type == "ok" for e in events):  # nothing completed: nothing to decide
        assert verdict.valid == "unknown", verdict.reason
        return
    assert verdict.valid is oracle(events), verdict.reason
