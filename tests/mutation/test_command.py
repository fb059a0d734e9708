"""``prsm-validate mutation-score``: usage errors are one line and exit 2; --list needs no run."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prsm_validate.cli", "mutation-score", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("args", "message"), [
    (["--modules", "nope.py", "--list"], "unknown module or subsystem 'nope.py'"),
    (["--rotate", "9", "--list"], "give a day 0-6 or 'today'"),
    (["--sample", "0", "--list"], "--sample must be at least 1"),
    (["--mutant", "memory.py:AddNot", "--list"], "give module:Operator:occurrence"),
    (["--mutant", "memory.py:AddNot:9999", "--list"], "Cosmic Ray makes no such mutant"),
])
def test_usage_errors_are_one_line(args, message):
    result = _cli(*args)
    assert result.returncode == 2, result
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_bad_budget_is_refused_by_the_parser():
    result = _cli("--budget", "soon", "--list")
    assert result.returncode == 2 and "give a duration like 90s, 60m or 2h" in result.stderr


def test_list_prints_the_seeded_sample_with_diffs(tmp_path):
    first = _cli("--modules", "ledger", "--sample", "2", "--seed", "4", "--list",
                 "--report", str(tmp_path))
    again = _cli("--modules", "ledger", "--sample", "2", "--seed", "4", "--list",
                 "--report", str(tmp_path))
    assert first.returncode == 0, first.stderr
    assert first.stdout == again.stdout
    assert first.stdout.count("--- a/reference_system/") == 4
    assert "consensus/state_machine.py:" in first.stdout and "api/ftns.py:" in first.stdout
