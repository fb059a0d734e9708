"""A remote target with ``control: {kind: docker}``: the reference system started as plain
docker containers that are NOT labelled as the harness's own (an operator's deployment), then
targeted as a remote target; the edge failover and process-fault scenarios run through the
declared control (docker kill / start / pause / unpause / restart by the Docker SDK).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from prsm_validate.targets import probes
from prsm_validate.targets.processes import Reaper
from prsm_validate.waiting import eventually
from reference_system.ports import free_ports

REPO = Path(__file__).resolve().parents[2]
LABEL = "staging.example/deployment"  # the operator's own label, not the harness's prsm.run
SCENARIOS = [
    "scenarios/edge/test_failover.py::test_edge_down_cloud_serves_then_traffic_returns_to_edge",
    "scenarios/integration/test_memory.py::test_value_written_before_api_restart_is_read_after_it",
    "scenarios/integration/test_health_metrics.py::"
    "test_health_reports_a_stopped_dependency_and_recovers",
]

pytestmark = pytest.mark.skipif(
    shutil.which("docker") is None or subprocess.run(
        ["docker", "info"], capture_output=True).returncode != 0,
    reason="no Docker engine reachable")


def _run_container(client, image: str, name: str, network: str, deployment: str,
                   command: list[str], env: dict[str, str] | None = None,
                   port: tuple[int, int] | None = None) -> None:
    client.containers.run(image, command, name=name, detach=True, environment=env or {},
                          network=network, labels={LABEL: deployment},
                          ports={f"{port[0]}/tcp": ("127.0.0.1", port[1])} if port else {})


@pytest.fixture(scope="module")
def plain_deployment() -> Iterator[dict[str, str]]:
    """postgres, redis, nats, edge and api containers on their own network (no harness
    label); removed afterwards, and by the reaper if pytest dies."""
    import docker

    from prsm_validate.targets.docker_image import ensure_image
    from reference_system.passwords import hash_password

    image = os.environ.get("PRSM_REF_IMAGE") or ensure_image()  # a prebuilt image, if given
    client = docker.from_env()
    deployment = secrets.token_hex(4)
    reaper = Reaper()
    reaper.watch_docker_label(f"{LABEL}={deployment}")
    network = f"staging-{deployment}"
    names = {c: f"staging-{deployment}-{c}" for c in ("postgres", "redis", "nats", "edge", "api")}
    password, (api_port, edge_port) = secrets.token_urlsafe(12), free_ports(2)
    try:
        client.networks.create(network, labels={LABEL: deployment})
        for component in ("postgres", "redis", "nats"):
            _run_container(client, image, names[component], network, deployment,
                           ["embedded", component])
        nats = f"nats://{names['nats']}:4222"  # container names resolve on the network
        _run_container(client, image, names["edge"], network, deployment,
                       ["edge", "--nats", nats, "--state-dir", "/data/edge",
                        "--host", "0.0.0.0", "--port", "8100", "--interval-ms", "250"],
                       port=(8100, edge_port))
        _run_container(client, image, names["api"], network, deployment,
                       ["api", "--host", "0.0.0.0", "--port", "8000"], {
                           "PRSM_REF_POSTGRES_DSN":
                               f"postgresql://postgres@{names['postgres']}:5432/postgres",
                           "PRSM_REF_REDIS_URL": f"redis://{names['redis']}:6379/0",
                           "PRSM_REF_NATS_URL": nats,
                           "PRSM_REF_JWT_SECRET": secrets.token_urlsafe(48),
                           "PRSM_REF_USERS": json.dumps({"sre": hash_password(password)}),
                           "PRSM_REF_EDGE_URL": f"http://{names['edge']}:8100"},
                       (8000, api_port))
        url = f"http://127.0.0.1:{api_port}"
        eventually(lambda: _healthy(f"{url}/health"), timeout_s=90, interval_s=0.5,
                   what="the plain deployment's /health")
        yield {"url": url, "edge_url": f"http://127.0.0.1:{edge_port}", "password": password,
               "network": network, **names}
    finally:
        from prsm_validate.targets.reaper import remove_docker_label

        remove_docker_label(f"{LABEL}={deployment}")
        reaper.close()


def _healthy(url: str) -> bool:
    try:  # docker's port proxy accepts, then resets, until the API listens
        return probes.http_ok(url)
    except Exception:
        return False


def _targets_file(tmp_path: Path, deployment: dict[str, str]) -> Path:
    ready = f"{deployment['url']}/health"
    entry = {
        "kind": "remote", "api_url": deployment["url"], "profile": "reference",
        "credentials": {"username_env": "STAGING_USER", "password_env": "STAGING_PASSWORD"},
        "protected": True, "allow_chaos": True,
        "control": {"kind": "docker", "network": deployment["network"], "ready_timeout_s": 60,
                    "components": {
                        "api": {"container": deployment["api"], "ready_url": ready},
                        "edge": {"container": deployment["edge"],
                                 "ready_url": f"{deployment['edge_url']}/health"},
                        "redis": deployment["redis"],
                        "postgres": deployment["postgres"]}},
    }
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump({"targets": {"staging": entry}}))
    return path


def test_edge_failover_and_process_faults_through_declared_docker_control(
        tmp_path, plain_deployment):
    import docker

    containers = docker.from_env().containers.list(filters={"label": "prsm.run"})
    assert not [c for c in containers if c.name.startswith("staging-")]  # not the harness's
    targets = _targets_file(tmp_path, plain_deployment)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *SCENARIOS, "--prsm-target=staging",
         f"--prsm-targets-file={targets}", "--prsm-allow-destructive",
         f"--prsm-report={tmp_path / 'reports'}", "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
        env={**os.environ, "STAGING_USER": "sre", "STAGING_PASSWORD": plain_deployment[
            "password"]})
    output = done.stdout + done.stderr
    summary = json.loads((tmp_path / "reports" / "latest" / "summary.json").read_text())
    outcomes = {t["nodeid"].split("::")[-1]: t["outcome"] for t in summary["tests"]}
    assert done.returncode == 0, output[-3000:]
    assert set(outcomes.values()) == {"passed"} and len(outcomes) == 4, outcomes
    deployment = summary["deployments"][0]
    assert {"kill", "pause", "restart", "edge"} <= set(deployment["capabilities"])
    assert deployment["identity"]["openapi_title"] == "PRSM reference API"
    log = (tmp_path / "reports" / "latest" / "logs" / "control.log").read_text()
    for action in (f"docker kill {plain_deployment['edge']}", "docker start",
                   f"docker pause {plain_deployment['redis']}", "docker restart"):
        assert action in log, log
    assert plain_deployment["password"] not in output
