"""Every line the README promises shows under pytest's default capture, and ``--prsm-keep``
leaves a system that ``prsm-validate down`` stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

USES_API = """
def test_me(prsm_api):
    assert prsm_api.call("me").status == 200
"""


def _alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_kept_system_is_announced_reachable_and_stopped_by_down(pytester):
    pytester.makepyfile(test_me=USES_API)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--prsm-keep")
    run = pytester.path / "reports" / "latest"
    kept_file = run / "kept-main.json"
    kept = json.loads(kept_file.read_text()) if kept_file.exists() else {"groups": []}
    try:
        assert result.ret == 0
        result.stdout.fnmatch_lines([
            "prsm: target 'local' ready in *s",
            "prsm: system left running (--prsm-keep): API http://127.0.0.1:*",
            f"prsm: stop it with: prsm-validate down {run.resolve()}",
            "prsm verdict: PASS", "prsm report: *"])
        groups = kept["groups"]
        assert len(groups) >= 10 and all(_alive(g) for g in groups)
        import httpx

        assert httpx.get(kept["endpoints"]["api_url"] + "/health", timeout=5).status_code == 200
    finally:
        down = subprocess.run([sys.executable, "-m", "prsm_validate.cli", "down", str(run)],
                              capture_output=True, text=True, timeout=60)
    assert down.returncode == 0, down.stderr
    assert not any(_alive(g) for g in kept["groups"])
    assert not os.path.exists(kept["root"])
    again = subprocess.run([sys.executable, "-m", "prsm_validate.cli", "down", str(run)],
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "already stopped" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
