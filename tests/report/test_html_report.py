"""report.html: self-contained, and what a reviewer sees in a browser (headless Chromium)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from prsm_validate.report import html, plots

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser",
                                                 "google-chrome")) if p), None)
FAIL_BADGE = (0xFF, 0xEB, 0xE9)
FAULT_SHADE = (255, 232, 211)  # #ffd8b5 at 60% over white


def _run_dir(tmp_path: Path, failed: bool) -> Path:
    run = tmp_path / "20260101-000000-abcd"
    (run / "histories").mkdir(parents=True)
    outcome = "failed" if failed else "passed"
    summary = {"run_id": run.name, "seed": 5, "started": time.time() - 10,
               "finished": time.time(), "target": {"name": "local", "kind": "local"},
               "counts": {outcome: 1, "skipped": 1}, "python": "3.11", "argv": ["scenarios"],
               "deployments": [{"worker": "main", "api_url": "http://127.0.0.1:1",
                                "capabilities": ["kill"], "ready_s": 0.8}],
               "tests": [{"nodeid": "s.py::test_write", "outcome": outcome, "duration_s": 1.0,
                          "message": "AssertionError: lost 3 acknowledged writes"},
                         {"nodeid": "s.py::test_k8s", "outcome": "skipped", "duration_s": 0.0,
                          "reason": "target 'staging' lacks capability kill"}]}
    (run / "summary.json").write_text(json.dumps(summary))
    events = []
    for i in range(60):
        t = i * 50_000_000
        events.append({"index": 2 * i, "time": t, "process": 0, "type": "invoke", "f": "write"})
        events.append({"index": 2 * i + 1, "time": t + 2_000_000, "process": 0, "type": "ok",
                       "f": "write"})
    events.append({"index": 200, "time": 1_000_000_000, "process": "nemesis", "type": "info",
                   "f": "kill", "value": {"target": "pipeline", "phase": "start"}})
    events.append({"index": 201, "time": 2_000_000_000, "process": "nemesis", "type": "info",
                   "f": "kill", "value": {"target": "pipeline", "phase": "heal"}})
    (run / "histories" / "s.py_test_write.jsonl").write_text(
        "\n".join(json.dumps(e) for e in events))
    return run


def test_page_is_self_contained_and_names_every_outcome(tmp_path):
    page = html.render(_run_dir(tmp_path, failed=True))
    assert "FAIL" in page and "lost 3 acknowledged writes" in page
    assert "lacks capability kill" in page and "<svg" in page
    assert "http://" not in page.replace("http://127.0.0.1:1", "").replace(
        "http://www.w3.org/2000/svg", "")  # nothing fetched from the network


def test_history_gives_samples_and_fault_windows(tmp_path):
    run = _run_dir(tmp_path, failed=False)
    samples, windows = plots.read_history(run / "histories" / "s.py_test_write.jsonl")
    assert len(samples) == 60 and samples[0].latency_ms == pytest.approx(2.0)
    assert windows == [plots.FaultWindow("kill", "pipeline", 1.0, 2.0)]


def _count(image, colour, tolerance: int = 3) -> int:
    data = image.tobytes()  # RGB triples
    return sum(1 for i in range(0, len(data), 3)
               if all(abs(data[i + k] - colour[k]) <= tolerance for k in range(3)))


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed "
                    "(apt-get install chromium); .ci/run installs it")
@pytest.mark.parametrize("failed", [True, False], ids=["failing-run", "passing-run"])
def test_screenshot_shows_the_verdict_and_the_fault_window(tmp_path, failed):
    from PIL import Image

    run = _run_dir(tmp_path, failed)
    (run / "report.html").write_text(html.render(run))
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                    "--hide-scrollbars", "--window-size=1200,1400", f"--screenshot={shot}",
                    (run / "report.html").as_uri()], check=True, capture_output=True, timeout=60)
    image = Image.open(shot).convert("RGB")
    assert (_count(image, FAIL_BADGE) > 200) is failed, "the FAIL badge is the page's verdict"
    assert _count(image, FAULT_SHADE) > 1000, "the kill window is shaded on the plots"
