"""Checkov's offline Terraform checks, with the failed-check count judged under a threshold.

Checkov pins dozens of libraries (an older ``packaging``, boto3, its own fork of python-hcl2
under the same import name ``hcl2``), so it cannot share the harness's environment. Like
pre-commit, the harness runs it from its own virtual environment: ``PRSM_CHECKOV`` names a
``checkov`` executable to use; otherwise one is made on first use under the user's cache
(``pip install checkov==VERSION`` through the machine's ordinary pip configuration), once per
machine, under a file lock. The run itself is offline (``--skip-download``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prsm_validate.errors import HarnessError
from prsm_validate.evidence.base import Finding, Line, Repository

CHECKOV_VERSION = "3.3.30"
CHECKOV_ENV = "PRSM_CHECKOV"
INSTALL_TIMEOUT_S = 900.0
RUN_TIMEOUT_S = 300.0


class ToolMissing(HarnessError, RuntimeError):
    """Checkov is not available; the message says how to provide it."""


def checkov_executable() -> Path:
    """The checkov to run: ``$PRSM_CHECKOV``, else the harness's own tool environment."""
    named = os.environ.get(CHECKOV_ENV)
    if named:
        path = Path(named)
        if not path.exists():
            raise ToolMissing(f"{CHECKOV_ENV}={named}: no such file; point it at a checkov "
                              "executable or unset it")
        return path
    from filelock import FileLock

    from prsm_validate.targets.embedded import _cache_dir as cache_dir

    env = cache_dir() / "tools" / f"checkov-{CHECKOV_VERSION}"
    exe = env / "bin" / "checkov"
    env.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(env) + ".lock"):
        if not exe.exists():
            _install(env)
    return exe


def _install(env: Path) -> None:
    steps = [[sys.executable, "-m", "venv", "--clear", str(env)],
             [str(env / "bin" / "python"), "-m", "pip", "install", "-q",
              f"checkov=={CHECKOV_VERSION}"]]
    for argv in steps:
        try:
            done = subprocess.run(argv, capture_output=True, text=True,
                                  timeout=INSTALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ToolMissing(f"installing checkov timed out ({' '.join(argv)})") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise ToolMissing(f"could not install checkov into {env}: {tail[0]}; install it "
                              f"yourself and set {CHECKOV_ENV}=/path/to/checkov")


def run_checkov(folder: Path) -> dict[str, Any]:
    """Checkov's JSON report of the Terraform under ``folder`` (offline)."""
    argv = [str(checkov_executable()), "-d", str(folder), "--framework", "terraform",
            "-o", "json", "--quiet", "--compact", "--skip-download"]
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_NO_OUTPUT_FILE": "1"}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
                              env=env, cwd=folder)
    except subprocess.TimeoutExpired:
        raise ToolMissing(f"checkov did not finish within {RUN_TIMEOUT_S:g}s") from None
    try:
        report = json.loads(done.stdout) if done.stdout.strip() else {}
    except json.JSONDecodeError:
        raise ToolMissing(f"checkov printed no JSON report (exit {done.returncode}): "
                          f"{done.stderr.strip()[-300:]}") from None
    reports = report if isinstance(report, list) else [report]
    return next((r for r in reports if r.get("check_type") == "terraform"), reports[0])


def check_checkov(repo: Repository, params: dict[str, Any]) -> Finding:
    """Checkov's failed checks over the repository's Terraform, at most ``max_failed``."""
    limit = int(params.get("max_failed", 0))
    finding = Finding(threshold=f"checkov failed checks <= {limit}")
    files = repo.files(".tf")
    if not files:
        finding.gap(".", "terraform", "no *.tf file for checkov to check")
        return finding
    try:
        report = run_checkov(repo.root)
    except ToolMissing as exc:
        return finding.unknown(str(exc))
    summary = report.get("summary") or {}
    failed = (report.get("results") or {}).get("failed_checks") or []
    if summary.get("parsing_errors"):
        finding.gap(".", "terraform", f"checkov could not parse {summary['parsing_errors']} "
                    "file(s)")
    finding.measured = {"failed": len(failed), "passed": summary.get("passed", 0),
                        "resources": summary.get("resource_count", 0)}
    for check in failed:
        line = (check.get("file_line_range") or [None])[0]
        finding.cite(Line(repo.rel(repo.root / str(check.get("file_path", "")).lstrip("/")),
                          int(line or 0), f"{check.get('check_id')} {check.get('resource')}: "
                          f"{check.get('check_name')}"))
    folders = sorted({repo.rel(f.parent) + "/" for f in files})
    finding.evidence.insert(0, Line(", ".join(folders), 0, f"checkov "
                                    f"{summary.get('checkov_version', CHECKOV_VERSION)}: "
                                    f"{summary.get('passed', 0)} passed, {len(failed)} failed "
                                    f"over {summary.get('resource_count', 0)} resources"))
    if len(failed) > limit:
        worst = failed[0]
        finding.gap(str(worst.get("file_path", "")).lstrip("/"), str(worst.get("resource")),
                    f"{len(failed)} failed checkov checks > {limit} (first: "
                    f"{worst.get('check_id')} {worst.get('check_name')})",
                    (worst.get("file_line_range") or [None])[0])
    return finding
