"""Process faults heal when their scope exits, also when the test fails."""

from __future__ import annotations

import json

import pytest

from tests.plugin.test_protected_target import recorder  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow

SCENARIOS = """
import pytest

from prsm_validate.waiting import eventually

def _healthy(client):
    return client.call("health").status == 200

def test_1_pause_then_fail(prsm_nemesis, prsm_client):
    prsm_nemesis.pause("redis")
    prsm_nemesis.kill("nats")
    assert [f.kind for f in prsm_nemesis.active()] == ["pause", "kill"]
    raise AssertionError("planted failure with faults in force")

def test_2_everything_healed(prsm_client, prsm_deployment):
    client = prsm_client(timeout_s=5)
    body = client.call("health").body
    assert body["status"] == "ok", body

def test_3_scoped_pause_heals_on_exit(prsm_nemesis, prsm_client):
    client = prsm_client(timeout_s=5)
    with prsm_nemesis.paused("redis"):  # /health trusts an "up" for at most 0.5 s
        eventually(lambda: client.call("health").status == 503, timeout_s=5.0, interval_s=0.05,
                   what="health 503 with redis paused")
    # healed: redis answers again (a paused one would keep /health at 503)
    eventually(lambda: client.call("health").status == 200, timeout_s=2.0, interval_s=0.05,
               what="health 200 after the pause scope")

def test_4_fault_history_recorded(prsm_nemesis, prsm_history):
    prsm_nemesis.restart("redis")
    kinds = [(e.process, e.f) for e in prsm_history.events]
    assert ("nemesis", "restart") in kinds
"""


def test_faults_heal_after_failing_and_passing_scopes(pytester):
    pytester.makepyfile(test_faults=SCENARIOS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: planted failure with faults in force*"])
    faults = json.loads((pytester.path / "reports" / "latest" / "faults.json").read_text())
    applied = [(f["nodeid"].split("::")[1], f["kind"], f["target"]) for f in faults]
    assert applied == [("test_1_pause_then_fail", "pause", "redis"),
                       ("test_1_pause_then_fail", "kill", "nats"),
                       ("test_3_scoped_pause_heals_on_exit", "pause", "redis"),
                       ("test_4_fault_history_recorded", "restart", "redis")]
    assert all(f["ended"] is not None for f in faults), "every fault was healed"


@pytest.fixture
def healthy_target(recorder: tuple[str, list[str]]) -> str:  # noqa: F811
    """A stand-in remote target: a remote target must answer /health before it is used."""
    return recorder[0]


def test_fault_the_target_cannot_do_is_skipped_with_reason(pytester, monkeypatch,
                                                           healthy_target):
    url = healthy_target
    pytester.makefile(".yaml", **{"prsm-targets": f"""
targets:
  staging:
    api_url: {url}
    credentials: {{username_env: T_USER, password_env: T_PASS}}
    protected: false
"""})
    monkeypatch.setenv("T_USER", "u")
    monkeypatch.setenv("T_PASS", "p")
    pytester.makepyfile("def test_kill(prsm_nemesis): prsm_nemesis.kill('api')")
    result = pytester.runpytest("--prsm-target=staging", "-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*target 'staging' lacks capability kill*"])
