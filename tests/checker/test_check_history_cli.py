"""``prsm-validate check-history``: verdicts, witnesses and exit status on known-answer files.

Known answers are decided within a budget of search steps, not seconds, so a busy machine
gives the same verdicts as an idle one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from prsm_validate.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "histories"
STEPS = ["--max-steps", "5000000"]  # etcd_002, the largest search here, takes ~0.5 M
KNOWN = [
    ("etcd_000.log", "cas-register", 1),
    ("etcd_002.log", "cas-register", 0),
    ("etcd_007.log", "cas-register", 0),
    ("register-stale-read.jsonl", "register", 1),
    ("cas-succeeded-twice.jsonl", "cas-register", 1),
    ("info-explains-read.jsonl", "register", 0),
    ("kv-lost-update.jsonl", "kv", 1),
    ("set-lost-and-unexpected.jsonl", "set", 1),
]


@pytest.mark.parametrize(("name", "model", "status"), KNOWN)
def test_known_answers(name: str, model: str, status: int,
                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-history", str(FIXTURES / name), "--model", model, *STEPS]) == status
    first = capsys.readouterr().out.splitlines()[0]
    assert first.split(": ")[1].startswith("VALID" if status == 0 else "INVALID")


def test_public_etcd_witness_is_the_stale_read(capsys: pytest.CaptureFixture[str]) -> None:
    main(["check-history", str(FIXTURES / "etcd_000.log"), "--model", "cas-register", "--json",
          *STEPS])
    verdict = json.loads(capsys.readouterr().out)
    # Process 11 reads 2, but after the last write of 2 a write of 1 completed and a
    # cas [2 2] failed, and no write of 2 was pending: the read is stale.
    assert verdict["witness"]["op"] == {
        "process": 11, "f": "read", "value": None, "outcome": "ok", "output": 2,
        "invoke_index": 84, "complete_index": 85}
    assert 2 not in verdict["witness"]["states"]


def test_set_witness_lists_lost_and_unexpected(capsys: pytest.CaptureFixture[str]) -> None:
    main(["check-history", str(FIXTURES / "set-lost-and-unexpected.jsonl"), "--model", "set",
          "--json"])
    witness = json.loads(capsys.readouterr().out)["witness"]
    assert witness == {"lost": [2], "unexpected": [9]}


def test_small_budget_gives_unknown_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check-history", str(FIXTURES / "etcd_002.log"), "--model", "cas-register",
                   "--max-steps", "1000"])
    assert status == 2
    out = capsys.readouterr().out
    assert "UNKNOWN" in out and "1000 steps" in out


def test_bad_file_is_one_line_naming_file_and_line(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text('{"index": 0, "time": 0, "process": 1, "type": "invoke", "f": "read"}\n'
                    '{"index": 1, "time": 1, "process": 2, "type": "ok", "f": "read"}\n')
    assert main(["check-history", str(path), "--model", "register"]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"{path}:2:" in err and "without an invocation" in err


def test_missing_file_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-history", str(tmp_path / "nope.jsonl"), "--model", "set"]) == 3
    assert "no such file" in capsys.readouterr().err


def test_console_script_exit_status() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prsm_validate.cli", "check-history",
         str(FIXTURES / "cas-succeeded-twice.jsonl"), "--model", "cas-register"],
        capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stderr
    assert "witness:" in result.stdout


def test_many_files_and_a_directory_in_one_run(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in ("etcd_000.log", "etcd_002.log"):
        (folder / name).write_bytes((FIXTURES / name).read_bytes())
    (folder / "README.md").write_text("not a history")
    status = main(["check-history", str(folder), str(FIXTURES / "etcd_007.log"),
                   "--model", "cas-register", *STEPS])
    lines = capsys.readouterr().out.splitlines()
    assert status == 1  # the worst: etcd_000 is invalid
    assert [line.split(": ")[1].split()[0] for line in lines[:3]] == ["INVALID", "VALID",
                                                                      "VALID"]
    assert lines[0].startswith(str(folder / "etcd_000.log"))
    assert lines[3] == "3 files: 2 valid, 1 invalid, 0 unknown, 0 unreadable; exit 1"


def test_an_unreadable_file_among_many_is_the_worst_status(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("[1, 2]\n")
    status = main(["check-history", str(FIXTURES / "etcd_000.log"), str(bad),
                   "--model", "cas-register", "--json", *STEPS])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert status == 3
    assert rows[0]["file"].endswith("etcd_000.log") and rows[0]["valid"] is False
    assert rows[-1] == {"files": 2, "valid": 0, "invalid": 1, "unknown": 0, "unreadable": 1,
                        "exit": 3}
    assert f"{bad}:1:" in err


@pytest.mark.parametrize("line", ["[1, 2]", "3", '"text"', "null"])
def test_json_that_is_not_an_object_is_exit_3_naming_file_and_line(
        tmp_path: Path, line: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text('{"index": 0, "time": 0, "process": 1, "type": "invoke", "f": "read"}\n'
                    + line + "\n")
    assert main(["check-history", str(path), "--model", "register"]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert f"{path}:2: not a history event" in err and "not an object" in err


def test_an_empty_directory_is_a_one_line_error(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-history", str(tmp_path), "--model", "kv"]) == 3
    assert "no .jsonl or .log files" in capsys.readouterr().err


def test_budget_seconds_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("nan", "0", "-1"):
        assert main(["check-history", str(FIXTURES / "etcd_000.log"), "--model",
                     "cas-register", "--budget-seconds", bad]) == 3
        assert "--budget-seconds must be a positive number" in capsys.readouterr().err
