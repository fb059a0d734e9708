"""Pure parts of the drills: downtime windows, the exact-restore check, durations."""

from __future__ import annotations

import pytest

from prsm_validate.drills.pitr import check_exact, payload
from prsm_validate.drills.traffic import Request, downtime
from prsm_validate.evidence.docs import seconds


def _r(start: float, end: float, failed: bool = False) -> Request:
    return Request(start, end, "ConnectError" if failed else None)


@pytest.mark.parametrize(("requests", "expected"), [
    ([], 0.0),
    ([_r(0, 1), _r(1, 2)], 0.0),
    ([_r(0, 1), _r(1, 1.5, True), _r(1.2, 2.0, True), _r(2.1, 2.2)], 1.0),  # one window
    ([_r(0, 0.5, True), _r(1, 1.1), _r(2, 5, True), _r(3, 3.5, True)], 3.0),  # the longest
    ([_r(0, 1), _r(4, 4.2, True)], pytest.approx(0.2)),  # still failing at the end
])
def test_downtime_is_the_longest_window_of_failed_requests(requests, expected):
    assert downtime(requests) == expected


def test_an_exact_restore_has_no_problem():
    found = {i: ("before", payload(i)) for i in range(1, 4)}
    assert check_exact(found, range(1, 4), "before") == []


def test_a_restore_past_the_target_or_short_of_it_is_named():
    found = {1: ("before", payload(1)), 2: ("before", "changed"), 4: ("after", payload(4))}
    assert check_exact(found, range(1, 4), "before") == [
        "row 3 missing", "row 2 has wrong content",
        "row 4 (after) written after the recovery point came back"]


@pytest.mark.parametrize(("text", "value"), [
    ("RTO: 15 minutes", 900), ("RPO 30 s", 30), ("within 1.5 hours", 5400),
    ("RPO: 60 seconds of writes", 60), ("no figure", None)])
def test_durations_in_a_dr_plan(text, value):
    assert seconds(text) == value
