"""Declared control of remote targets: parsing, capabilities that follow from it, command
control (timeouts, output kept), kubernetes control driven with the client's own models."""

from __future__ import annotations

import sys

import pytest
from kubernetes.client import (
    V1Deployment,
    V1DeploymentSpec,
    V1DeploymentStatus,
    V1LabelSelector,
    V1ObjectMeta,
    V1Pod,
    V1PodList,
    V1PodTemplateSpec,
    V1Scale,
    V1ScaleSpec,
)

from prsm_validate.targets.control import (
    CommandControl,
    ControlConfigError,
    ControlError,
    parse_control,
)
from prsm_validate.targets.kubernetes_control import KubernetesControl


def test_docker_control_gives_process_faults_links_and_edge():
    spec = parse_control({"kind": "docker", "network": "net", "components": {
        "api": {"container": "c-api", "ready_url": "http://127.0.0.1:1/health"},
        "edge": "c-edge"}})
    assert spec.capabilities == {"kill", "pause", "restart", "link_faults", "edge"}
    assert spec.components["api"].target == "c-api"


def test_command_capabilities_follow_from_the_declared_commands():
    spec = parse_control({"kind": "command", "components": {
        "worker-0": {"kill": "k", "restart": "r"}, "db": {"pause": "p"}}})
    assert spec.capabilities == {"kill", "restart"}  # pause without resume is no capability


@pytest.mark.parametrize(("raw", "message"), [
    ({"kind": "ssh"}, "control.kind"),
    ({"kind": "docker"}, "control.components"),
    ({"kind": "docker", "components": {"api": 3}}, "control.components.api"),
    ({"kind": "docker", "namespace": "x", "components": {"a": "b"}}, "control.namespace"),
    ({"kind": "command", "components": {"w": {"kill": "k"}}}, "control.components.w.restart"),
    ({"kind": "command", "components": {"w": {"explode": "k"}}}, "control.components.w"),
    ({"kind": "kubernetes", "components": {"w": {}}}, "control.components.w"),
    ({"kind": "docker", "timeout_s": -1, "components": {"a": "b"}}, "control.timeout_s"),
])
def test_malformed_control_names_the_key(raw, message):
    with pytest.raises(ControlConfigError, match=message.replace(".", r"\.")):
        parse_control(raw)


def test_command_control_runs_with_timeout_and_keeps_output(tmp_path):
    flag = tmp_path / "killed"
    spec = parse_control({"kind": "command", "timeout_s": 2, "components": {"w": {
        "kill": f"echo stopping; touch {flag}", "restart": f"{sys.executable} -c 'exit(3)'",
        "pause": "sleep 5", "resume": "true"}}})
    control = CommandControl(spec)
    control.kill("w")
    assert flag.exists() and any("stopping" in line for line in control.log)
    with pytest.raises(ControlError, match="w restart: command exited 3"):
        control.restart("w")
    with pytest.raises(ControlError, match="did not finish within 2 s"):
        control.pause("w")
    with pytest.raises(ControlError, match="no component 'other' declared"):
        control.kill("other")


class _Api:
    """Stands in for CoreV1Api / AppsV1Api: answers with the client's own models and
    records the calls (no server, fake or real)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.replicas = 2

    def list_namespaced_pod(self, namespace, label_selector):
        self.calls.append(("list", namespace, label_selector))
        return V1PodList(items=[V1Pod(metadata=V1ObjectMeta(name=f"api-{i}")) for i in (1, 2)])

    def delete_namespaced_pod(self, name, namespace, grace_period_seconds=None):
        self.calls.append(("delete", name, grace_period_seconds))

    def read_namespaced_deployment_scale(self, name, namespace):
        return V1Scale(spec=V1ScaleSpec(replicas=self.replicas))

    def patch_namespaced_deployment_scale(self, name, namespace, body):
        self.calls.append(("scale", name, body["spec"]["replicas"]))
        self.replicas = body["spec"]["replicas"]

    def read_namespaced_deployment_status(self, name, namespace):
        return V1Deployment(spec=V1DeploymentSpec(replicas=self.replicas,
                                                  selector=V1LabelSelector(),
                                                  template=V1PodTemplateSpec()),
                            status=V1DeploymentStatus(available_replicas=self.replicas))


def test_kubernetes_control_deletes_pods_and_scales_deployments():
    spec = parse_control({"kind": "kubernetes", "namespace": "prsm", "components": {
        "api": {"selector": "app=prsm-api", "deployment": "prsm-api"}}})
    assert spec.capabilities == {"kill", "pause", "restart"}
    api = _Api()
    control = KubernetesControl(spec, core=api, apps=api)
    control.kill("api")
    assert ("list", "prsm", "app=prsm-api") in api.calls
    assert [c for c in api.calls if c[0] == "delete"] == [("delete", "api-1", 0),
                                                          ("delete", "api-2", 0)]
    control.restart("api")  # after a kill: the deployment replaces the pods, none deleted again
    assert len([c for c in api.calls if c[0] == "delete"]) == 2
    control.restart("api")
    assert [c for c in api.calls if c[0] == "delete"][2:] == [("delete", "api-1", None),
                                                             ("delete", "api-2", None)]
    control.pause("api")
    control.resume("api")
    assert [c for c in api.calls if c[0] == "scale"] == [("scale", "prsm-api", 0),
                                                         ("scale", "prsm-api", 2)]
    assert any("kubectl scale deployment prsm-api -n prsm --replicas=0" in line
               for line in control.log)
