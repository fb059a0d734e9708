"""Image build steps show progress and never outlive the harness."""

from __future__ import annotations

import os
import time

import pytest

from prsm_validate.targets import docker_image
from prsm_validate.targets.docker_image import BuildSteps, ImageError


def _gone(pgid: int, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_steps_and_heartbeats_are_shown(monkeypatch):
    monkeypatch.setattr(docker_image, "HEARTBEAT_S", 0.2)
    lines: list[str] = []
    BuildSteps(lines.append).run(
        ["sh", "-c", "echo 'Step 1/2 : FROM base'; echo noise; sleep 0.7; "
         "echo 'Step 2/2 : RUN true'"], "docker build of x")
    assert lines[0] == "docker image: docker build of x ..."
    assert "docker image: docker build of x: Step 1/2 : FROM base" in lines
    assert "docker image: docker build of x: Step 2/2 : RUN true" in lines
    assert any("so far (noise)" in line for line in lines)  # a heartbeat with the last line
    assert not any(line.endswith(": noise") for line in lines)  # not every line
    assert lines[-1].startswith("docker image: docker build of x done in")


def test_a_failed_step_names_itself_and_shows_its_tail():
    with pytest.raises(ImageError, match=r"(?s)pip wheel failed \(3\):.*no such wheel"):
        BuildSteps(lambda line: None).run(["sh", "-c", "echo no such wheel; exit 3"],
                                          "pip wheel")


def test_an_interrupted_build_stops_its_whole_group():
    watched: list[int] = []
    forgotten: list[int] = []

    def interrupt(line: str) -> None:
        if "Step 1/9" in line:
            raise KeyboardInterrupt

    steps = BuildSteps(interrupt, watched.append, forgotten.append)
    with pytest.raises(KeyboardInterrupt):
        steps.run(["sh", "-c", "sleep 60 & echo 'Step 1/9 : RUN long'; wait"], "docker build")
    (pgid,) = watched
    assert forgotten == [pgid]
    assert _gone(pgid), "the build's process group outlived the interrupted harness"
