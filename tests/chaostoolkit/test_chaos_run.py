"""Chaos Toolkit for real: ``prsm-validate up``, then plain ``chaos run`` of an experiment of
``scenarios/chaos`` through the provider, then the journal turned into the harness's report."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from prsm_validate.chaostoolkit import journal as chaos_journal

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
CHAOS = Path(sys.executable).with_name("chaos")
EXPERIMENTS = sorted((ROOT / "scenarios" / "chaos").glob("*.json"))


@pytest.fixture(scope="module")
def up_state(tmp_path_factory):
    """A running ``prsm-validate up``; yields its state file; SIGTERM stops it."""
    log = tmp_path_factory.mktemp("up") / "up.log"
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "prsm_validate.cli", "up", "--json"],
                                stdout=subprocess.PIPE, stderr=err, text=True,
                                start_new_session=True)
    try:
        line = proc.stdout.readline()  # one JSON object once everything is ready
        assert line, f"up printed nothing; its log:\n{log.read_text()[-2000:]}"
        info = json.loads(line)
        yield Path(info["up_state_file"]), info
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=lambda p: p.stem)
def test_every_experiment_declares_hypothesis_method_and_healing_rollbacks(experiment):
    doc = json.loads(experiment.read_text())
    probes = doc["steady-state-hypothesis"]["probes"]
    assert probes and all(p["tolerance"]["pattern"] == "^pass$" for p in probes)
    providers = [a["provider"] for a in doc["method"] + doc["rollbacks"] + probes]
    assert {p["module"] for p in providers} == {"prsm_validate.chaostoolkit"}
    assert any(a["provider"]["func"] == "heal" for a in doc["rollbacks"])
    assert doc["method"][-1]["provider"]["func"] == "heal", "heal before the after-hypothesis"
    import prsm_validate.chaostoolkit as provider

    assert all(callable(getattr(provider, p["func"])) for p in providers)


def test_chaos_run_pauses_the_primary_and_the_journal_becomes_a_report(up_state, tmp_path):
    state, info = up_state
    assert (state.stat().st_mode & 0o777) == 0o600
    secret = json.loads(state.read_text())["token"]
    assert secret not in json.dumps(info) and "password" not in json.dumps(info)
    journal_path = tmp_path / "journal.json"
    done = subprocess.run(
        [str(CHAOS), "--no-version-check", "--log-file", str(tmp_path / "chaos.log"), "run",
         "--journal-path", str(journal_path), str(ROOT / "scenarios/chaos/primary-pause.json")],
        env={**os.environ, "PRSM_UP": str(state)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "completed" and not journal["deviated"]
    states = journal["steady_states"]
    assert states["before"]["steady_state_met"] and states["after"]["steady_state_met"]
    runs = journal["run"] + journal["rollbacks"]
    assert [r["status"] for r in runs] == ["succeeded"] * len(runs), json.dumps(runs)[:2000]
    paused = journal["run"][0]["output"]
    assert paused["kind"] == "pause" and paused["target"].startswith("node-")
    assert journal["run"][-1]["output"]["healed"] == [paused["id"]]

    page = chaos_journal.convert(journal_path, tmp_path / "reports")
    summary = json.loads((page.parent / "summary.json").read_text())
    assert summary["counts"] == {"passed": len(runs) + len(states["before"]["probes"])
                                 + len(states["after"]["probes"])}
    assert summary["chaos"]["status"] == "completed" and summary["thresholds"]
    html = page.read_text()
    assert "PASS" in html and "pause" in html and "<svg" in html
    faults = json.loads((page.parent / "faults.json").read_text())
    assert [f["value"]["phase"] for f in faults] == ["start", "heal"]


def test_a_refused_fault_fails_the_activity_with_the_reason(up_state):
    from prsm_validate.chaostoolkit.controller import ControlError
    from prsm_validate.chaostoolkit.server import RemoteController

    remote = RemoteController(up_state[0])
    with pytest.raises(ControlError, match="unknown component 'node-9'"):
        remote.fault("kill", component="node-9")
    with pytest.raises(ControlError, match="unknown fault kind 'melt'"):
        remote.fault("melt", component="node-1")
    assert remote.heal() == {"healed": [], "in_force": []}
