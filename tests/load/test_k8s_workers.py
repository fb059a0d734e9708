"""The Kubernetes Job of load workers: valid manifests, and the same commands as on a host."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from prsm_validate.cli import build_parser

FOLDER = Path(__file__).resolve().parents[2] / "scenarios" / "load" / "k8s"


def _documents() -> list[dict]:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (with kustomize) is not installed")
    built = subprocess.run(["kubectl", "kustomize", str(FOLDER)], capture_output=True,
                           text=True, check=True, timeout=60).stdout
    return [d for d in yaml.safe_load_all(built) if d]


def test_the_manifests_build_and_validate_against_the_kubernetes_schemas():
    version = kubernetes_validate.latest_version()
    docs = _documents()
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)
    assert {(d["kind"], d["metadata"]["name"]) for d in docs} == {
        ("Namespace", "prsm-load"), ("Service", "prsm-load-master"),
        ("Job", "prsm-load-master"), ("Job", "prsm-load-workers")}


def test_workers_dial_the_master_service_and_match_its_expected_count():
    docs = {(d["kind"], d["metadata"]["name"]): d for d in _documents()}
    master = docs[("Job", "prsm-load-master")]["spec"]["template"]["spec"]["containers"][0]
    workers = docs[("Job", "prsm-load-workers")]
    worker = workers["spec"]["template"]["spec"]["containers"][0]
    parser = build_parser()
    run = parser.parse_args(master["command"][1:])
    joined = parser.parse_args(worker["command"][1:])
    assert run.master_bind == "0.0.0.0" and run.master_host == "prsm-load-master"
    assert joined.master == f"{run.master_host}:{run.master_port}"
    assert workers["spec"]["parallelism"] == workers["spec"]["completions"] == \
        run.remote_workers
    service = docs[("Service", "prsm-load-master")]["spec"]
    assert service["ports"][0]["port"] == run.master_port
    assert service["selector"] == docs[("Job", "prsm-load-master")]["spec"]["template"][
        "metadata"]["labels"]
