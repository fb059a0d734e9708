"""Node introspection (``/status``, ``/log?from=&to=``) answers what it is asked: a range of
the committed log holds exactly the entries and checkpoints in that range, the same on every
replica as in the whole log, and a malformed range is refused with 400 and a reason rather
than a dropped connection."""

from __future__ import annotations

import httpx
import pytest

from prsm_validate import progress

pytestmark = [pytest.mark.consensus, pytest.mark.requires("consensus")]


def _get(url: str) -> httpx.Response:
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        return http.get(url)


def test_a_log_range_holds_exactly_the_entries_in_it(prsm_cluster, prsm_transfers):
    with prsm_transfers(clients=2) as run:
        progress(run, 40, 30, "40 acknowledged transfers")
    prsm_cluster.wait_caught_up(prsm_cluster.names, 30)
    for name, url in prsm_cluster.urls.items():
        whole = _get(f"{url}/log").json()
        seqs = [e["seq"] for e in whole["entries"]]
        assert len(seqs) >= 10, (name, seqs)
        low, high = seqs[len(seqs) // 3], seqs[2 * len(seqs) // 3]
        for query, first, last in ((f"from={low}&to={high}", low, high),
                                   (f"to={high}", 0, high), (f"from={low}", low, seqs[-1])):
            part = _get(f"{url}/log?{query}").json()
            # No-ops ordered by health probes may have committed since: compare up to `last`.
            assert all(e["seq"] >= first for e in part["entries"]), (name, query)
            assert [e for e in part["entries"] if e["seq"] <= last] == [
                e for e in whole["entries"] if first <= e["seq"] <= last], (name, query)
            assert {s: d for s, d in part["checkpoints"].items() if int(s) <= last} == {
                s: d for s, d in whole["checkpoints"].items() if first <= int(s) <= last}, (
                name, query)
            # State-transfer installs are positions in the whole log: a range has none.
            assert "installs" not in part, (name, query)


def test_a_malformed_log_range_is_refused_with_a_reason(prsm_cluster):
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        for name, url in prsm_cluster.urls.items():
            for query in ("from=first", "to=1.5", "from=1&to=x"):
                try:
                    response = http.get(f"{url}/log?{query}")
                except httpx.HTTPError as exc:
                    pytest.fail(f"{name} /log?{query}: no answer ({type(exc).__name__})",
                                pytrace=False)
                assert response.status_code == 400, (name, query, response.status_code)
                assert response.json().get("error"), (name, query, response.text)
            assert http.get(f"{url}/status").status_code == 200, name
