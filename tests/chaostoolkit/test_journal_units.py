"""Journal conversion and the control server's request handling, without a system."""

from __future__ import annotations

import json

import pytest

from prsm_validate.chaostoolkit import journal as chaos_journal
from prsm_validate.chaostoolkit.controller import ControlError
from prsm_validate.chaostoolkit.server import ControlServer, RemoteController
from prsm_validate.cli import main


def _run(name, func, start, end, output, status="succeeded", kind="action", **extra):
    return {"activity": {"type": kind, "name": name, "provider": {
                "type": "python", "module": "prsm_validate.chaostoolkit", "func": func}},
            "status": status, "start": f"2026-01-01T00:00:{start:02d}+00:00",
            "end": f"2026-01-01T00:00:{end:02d}+00:00", "duration": end - start,
            "output": output, **extra}


def _journal(deviated=False):
    probe = _run("api-health", "health", 0, 1, {"verdict": "pass"}, kind="probe",
                 tolerance_met=True)
    after = _run("api-health", "health", 9, 10, {"verdict": "fail" if deviated else "pass"},
                 kind="probe", tolerance_met=not deviated)
    return {"chaoslib-version": "1.44.0", "start": "2026-01-01T00:00:00+00:00",
            "status": "completed", "deviated": deviated,
            "experiment": {"title": "Primary pause", "description": "d"},
            "steady_states": {"before": {"steady_state_met": True, "probes": [probe]},
                              "after": {"steady_state_met": not deviated, "probes": [after]}},
            "run": [_run("pause", "pause", 1, 2, {"id": "pause-1", "kind": "pause",
                                                   "target": "node-0", "active": True}),
                    _run("sla", "sla_snapshot", 2, 6, {"verdict": "pass", "thresholds": [
                        {"source": "sla", "name": "http_req_failed", "threshold": "rate<0.01",
                         "verdict": "pass", "measured": 0.0, "window": "the whole run"}]},
                         kind="probe"),
                    _run("heal", "heal", 6, 7, {"healed": ["pause-1"], "in_force": []})],
            "rollbacks": [_run("heal-all", "heal", 10, 10, {"healed": [], "in_force": []})]}


def test_a_completed_journal_becomes_a_passing_run_with_its_fault_window(tmp_path):
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(_journal()))
    page = chaos_journal.convert(path, tmp_path / "reports")
    summary = json.loads((page.parent / "summary.json").read_text())
    assert summary["counts"] == {"passed": 6} and summary["exit_status"] == 0
    assert [t["nodeid"].split("::")[2] for t in summary["tests"]] == [
        "steady-state-before", "method", "method", "method", "steady-state-after", "rollback"]
    assert summary["thresholds"][0]["name"] == "sla: http_req_failed"
    history = (page.parent / "histories" / "chaos-primary-pause.jsonl").read_text()
    nemesis = [json.loads(line) for line in history.splitlines() if '"nemesis"' in line]
    assert [(e["value"]["phase"], e["time"]) for e in nemesis] == [("start", 2e9),
                                                                   ("heal", 6e9)]
    assert "PASS" in page.read_text() and (page.parent / "junit.xml").exists()


def test_a_deviated_journal_fails_and_names_the_probe(tmp_path):
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(_journal(deviated=True)))
    page = chaos_journal.convert(path, tmp_path / "reports")
    summary = json.loads((page.parent / "summary.json").read_text())
    assert summary["exit_status"] == 1 and summary["counts"]["failed"] == 1
    failed = next(t for t in summary["tests"] if t["outcome"] == "failed")
    assert "steady-state-after::api-health" in failed["nodeid"]
    assert "tolerance not met" in failed["message"]
    assert "FAIL" in page.read_text()


def test_not_a_journal_is_one_line_status_2(tmp_path, capsys):
    path = tmp_path / "x.json"
    path.write_text('{"hello": 1}')
    assert main(["report", "--chaos-journal", str(path), "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a Chaos Toolkit journal" in err and len(err.splitlines()) == 1


class _Stub:
    """Stands in for a controller (pure unit test of the HTTP layer)."""

    deployment = None

    def health(self):
        return {"verdict": "pass"}

    def fault(self, kind, **params):
        raise ControlError(f"unknown fault kind {kind!r}")

    def heal(self, fault_id=None):
        return {"healed": [], "in_force": []}


def test_the_control_server_needs_its_token_and_names_bad_requests():
    server = ControlServer(_Stub())  # type: ignore[arg-type]
    token = f"Bearer {server.token}"
    try:
        assert server.handle("/call", None, b'{"method": "health"}')[0] == 401
        assert server.handle("/call", "Bearer nope", b'{"method": "health"}')[0] == 401
        assert server.handle("/call", token, b'{"method": "health"}') == \
            (200, {"result": {"verdict": "pass"}})
        assert server.handle("/call", token, b'{"method": "__init__"}')[0] == 400
        assert server.handle("/call", token, b"not json")[0] == 400
        status, body = server.handle("/call", token, b'{"method": "fault", "args": '
                                     b'{"kind": "melt"}}')
        assert status == 400 and "melt" in body["error"]
        assert server.handle("/other", token, b"")[0] == 404
    finally:
        server.httpd.server_close()


def test_a_state_file_that_is_not_ups_is_named(tmp_path):
    bad = tmp_path / "up.json"
    bad.write_text("{}")
    with pytest.raises(ControlError, match="not a prsm-validate up state file"):
        RemoteController(bad)


def test_the_provider_names_what_is_missing_when_no_system_is_named(monkeypatch):
    import prsm_validate.chaostoolkit as provider

    monkeypatch.delenv("PRSM_UP", raising=False)
    monkeypatch.delenv("PRSM_TARGET", raising=False)
    with pytest.raises(ControlError, match="set configuration prsm_up"):
        provider.health()
    with pytest.raises(ControlError, match="start it with prsm-validate up"):
        provider.health(configuration={"prsm_target": "local"})
    with pytest.raises(ControlError, match="nowhere"):
        provider.kill("node-1", configuration={"prsm_target": "nowhere"})
