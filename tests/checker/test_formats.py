"""Jepsen text log import, export round trip, format detection and file errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from prsm_validate.checker import check_linearizable, pair_operations
from prsm_validate.history import write_jsonl
from prsm_validate.history_formats import (
    HistoryFormatError,
    detect_format,
    load_history,
    parse_edn,
    read_jepsen_log,
    to_edn,
    write_jepsen_log,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "histories"
LOG = """\
2015-01-01 INFO  jepsen.core - Worker 0 starting
INFO  jepsen.util - 0\t:invoke\t:write\t3
INFO  jepsen.util - :nemesis\t:info\t:start\tnil
INFO  jepsen.util - 0\t:ok\t:write\t3
INFO  jepsen.util - 1\t:invoke\t:cas\t[3 4]
INFO  jepsen.util - 1\t:fail\t:cas\t[3 4]
INFO  jepsen.util - 2\t:invoke\t:read\tnil
INFO  jepsen.util - 2\t:fail\t:read\t:timed-out
INFO  jepsen.util - 2\t:invoke\t:read\tnil
INFO  jepsen.util - 2\t:ok\t:read\t3
INFO  jepsen.util - 3\t:invoke\t:write\t1
INFO  jepsen.util - 3\t:info\t:write\t:timed-out
"""


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "etcd.log"
    path.write_text(LOG)
    return path


def test_import_maps_jepsen_semantics(log: Path) -> None:
    events = read_jepsen_log(log)
    assert len(events) == 10  # nemesis and non-op lines are not client events
    assert (events[3].type, events[3].f, events[3].value) == ("fail", "cas", [3, 4])
    timed_out = events[5]
    assert (timed_out.type, timed_out.value, timed_out.extra["error"]) == ("info", None,
                                                                           "timed-out")
    # Jepsen process 2 carries on after its timed-out read: it continues under a fresh id.
    assert events[6].process != 2 and events[6].extra["jepsen_process"] == 2
    assert events[-1].type == "info"
    assert len(pair_operations(events)) == 5


def test_import_then_export_reproduces_the_op_lines(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "again.log"
    write_jepsen_log(read_jepsen_log(log), out)
    op_lines = [line for line in LOG.splitlines()
                if "jepsen.util" in line and ":nemesis" not in line]
    assert out.read_text().splitlines() == op_lines

    def fields(path: Path) -> list[tuple]:
        # Times are line numbers, which differ once the non-op lines are gone.
        return [(e.index, e.process, e.type, e.f, e.value, e.extra)
                for e in read_jepsen_log(path)]

    assert fields(out) == fields(log)


def test_public_etcd_logs_round_trip_exactly(tmp_path: Path) -> None:
    for name in ("etcd_000.log", "etcd_002.log", "etcd_007.log"):
        out = tmp_path / name
        write_jepsen_log(read_jepsen_log(FIXTURES / name), out)
        assert out.read_text() == (FIXTURES / name).read_text()


def test_jsonl_and_jepsen_forms_give_the_same_verdict(log: Path, tmp_path: Path) -> None:
    jsonl = tmp_path / "h.jsonl"
    write_jsonl(read_jepsen_log(log), jsonl)
    assert detect_format(jsonl) == "jsonl" and detect_format(log) == "jepsen"
    from_jsonl = load_history(jsonl).events
    assert from_jsonl == read_jepsen_log(log)
    assert check_linearizable(from_jsonl).valid is check_linearizable(read_jepsen_log(log)).valid


def test_undetectable_file_names_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\n")
    with pytest.raises(HistoryFormatError, match="pass --format"):
        load_history(path)


def test_malformed_jepsen_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.log"
    path.write_text("INFO  jepsen.util - 0\t:invoke\t:write\t3\n"
                    "INFO  jepsen.util - 0\t:ok\t:write\t[3 4\n")
    with pytest.raises(HistoryFormatError, match=r"bad\.log:2: value"):
        load_history(path)


def test_edn_values() -> None:
    assert parse_edn("nil") is None
    assert parse_edn("[1 2]") == [1, 2]
    assert parse_edn(':timed-out') == ":timed-out"
    assert parse_edn('{:a 1, :b ["x" 2.5 true]}') == {":a": 1, ":b": ["x", 2.5, True]}
    assert parse_edn("#{1 2}") == [1, 2]
    assert parse_edn("12N") == 12
    for value in (None, [1, [2, "s"]], ":kw", {":k": False}):
        assert parse_edn(to_edn(value)) == value
    with pytest.raises(ValueError):
        parse_edn("[1 2")


def test_fields_separated_by_runs_of_spaces_read_as_tabs(tmp_path: Path) -> None:
    # Three of the public etcd logs use runs of spaces where the others use tabs.
    tabs = (FIXTURES / "etcd_000.log").read_text()
    spaced = tmp_path / "spaced.log"
    spaced.write_text("\n".join(line.replace("\t", "   ") if "jepsen.util" in line else line
                                for line in tabs.splitlines()) + "\n")
    assert read_jepsen_log(spaced) == read_jepsen_log(FIXTURES / "etcd_000.log")
    assert any(e.value == [1, 2] or isinstance(e.value, list) for e in read_jepsen_log(spaced))


def test_a_jepsen_line_with_too_few_fields_names_tabs_or_spaces(tmp_path: Path) -> None:
    path = tmp_path / "short.log"
    path.write_text("INFO  jepsen.util - 0 :invoke\n")
    with pytest.raises(HistoryFormatError, match=r"short\.log:1: .*separated by tabs or spaces"):
        load_history(path)
