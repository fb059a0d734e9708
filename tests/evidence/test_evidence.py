"""Evidence checks: the reference system's own artifacts pass; a copy with pieces removed
fails, and every removed piece is named by file, resource and missing setting."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from prsm_validate.evidence import CHECKS, default_root, run_check
from prsm_validate.evidence.base import Repository

OFFLINE = [name for name in CHECKS if name != "terraform.checkov"]


@pytest.fixture(scope="module")
def reference() -> Repository:
    return Repository(default_root())


@pytest.mark.parametrize("check", OFFLINE)
def test_reference_artifacts_pass(reference, check):
    """(checkov's pass on them is shown by the gate M1 and the test at the end)"""
    finding = run_check(check, reference)
    assert finding.verdict == "pass", [str(g) for g in finding.gaps] or finding.note
    assert finding.evidence, "a pass names the lines that decided it"


def _edit(root: Path, rel: str, old: str, new: str = "", count: int = 1) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text, f"{rel} no longer contains {old!r}: update this test"
    path.write_text(text.replace(old, new, count))


def _damage(root: Path) -> None:
    tf, k8s, docs = "deploy/terraform", "deploy/k8s/base", "docs"
    _edit(root, f"{tf}/database.tf", "multi_az                            = true",
          "multi_az                            = false")
    _edit(root, f"{tf}/database.tf", "  backup_retention_period             = "
          "var.backup_retention_days\n")
    _edit(root, f"{tf}/cache.tf", "automatic_failover_enabled = true",
          "automatic_failover_enabled = false")
    _edit(root, f"{tf}/eks.tf", "max_size     = 7", "max_size     = 4")
    (root / tf / "milvus.tf").unlink()
    _edit(root, f"{tf}/monitoring.tf", 'resource "aws_grafana_workspace" "main"',
          'resource "aws_grafana_workspace_x" "main"')
    _edit(root, f"{k8s}/50-api.yaml", "          readinessProbe: {httpGet: {path: /health, "
          "port: 8000}, periodSeconds: 2}\n")
    _edit(root, f"{k8s}/60-consensus.yaml", "          resources:\n            requests: "
          "{cpu: 250m, memory: 256Mi}\n            limits: {cpu: \"1\", memory: 1Gi}\n")
    _edit(root, f"{k8s}/50-api.yaml", "  tls:\n    - hosts: [api.prsm.example]\n      "
          "secretName: prsm-api-tls\n")
    _edit(root, f"{k8s}/50-api.yaml", "kind: Deployment, name: api}",
          "kind: Deployment, name: api-gone}")
    _edit(root, f"{k8s}/00-namespace.yaml", '  PRSM_REF_L1_CAPACITY: "4096"',
          '  PRSM_REF_L1_CAPACITY: "4096"\n  DB_PASSWORD: "hunter2"')
    _edit(root, f"{k8s}/50-api.yaml", "  replicas: 2\n", "  replicas: two\n")
    _edit(root, ".github/workflows/ci-cd.yml", "  pull_request:\n    branches: [main]\n")
    _edit(root, ".github/workflows/ci-cd.yml", "    needs: [build]\n")
    _edit(root, "deploy/monitoring/alerts.yaml", "      - alert: EdgeBatteryLow",
          "      - alert: EdgePowerLow")
    _edit(root, "deploy/monitoring/alerts.yaml", 'expr: up{job=~"prsm-.*"} == 0',
          'expr: up{job=~"prsm-.*" == 0')
    dashboard = root / "deploy/monitoring/dashboards/api.json"
    body = json.loads(dashboard.read_text())
    body["panels"][0]["targets"] = []
    dashboard.write_text(json.dumps(body, indent=2))
    (root / docs / "runbooks" / "vpn.md").unlink()
    text = (root / docs / "runbooks" / "disk-full.md").read_text()
    (root / docs / "runbooks" / "disk-full.md").write_text(text.split("## Escalation")[0])
    _edit(root, f"{docs}/disaster-recovery.md", "- RPO: 60 seconds", "- Data loss: small")


EXPECTED = {  # check -> every gap it must name (regular expressions over "file: resource: ...")
    "terraform.rds": [r"database\.tf:\d+: aws_db_instance\.main: multi_az is False \(needs "
                      r"true\)",
                      r"database\.tf:\d+: aws_db_instance\.main: backup_retention_period not "
                      r"set"],
    "terraform.elasticache": [r"cache\.tf:\d+: aws_elasticache_replication_group\.main: "
                              r"automatic_failover_enabled is False"],
    "terraform.eks": [r"eks\.tf:\d+: aws_eks_node_group\.consensus: scaling_config\.max_size "
                      r"is 4 \(needs > min_size \(4\)"],
    "terraform.milvus": [r'deploy/terraform/: helm_release chart "milvus": no Milvus release'],
    "terraform.monitoring": [r"monitoring \(Grafana\): no aws_grafana_workspace"],
    "kubernetes.probes": [r"50-api\.yaml:14: Deployment/api: container api: readinessProbe "
                          r"not set"],
    "kubernetes.resources": [r"60-consensus\.yaml:\d+: StatefulSet/node: container node: "
                             r"resources\.requests\.cpu/memory not set",
                             r"StatefulSet/node: container node: resources\.limits"],
    "kubernetes.ingress-tls": [r"50-api\.yaml:\d+: Ingress/api: spec\.tls not set"],
    "kubernetes.hpa": [r"50-api\.yaml:\d+: HorizontalPodAutoscaler/api: scaleTargetRef "
                       r"Deployment/api-gone does not exist"],
    "kubernetes.config-secrets": [r"00-namespace\.yaml:\d+: ConfigMap/prsm-config: data key "
                                  r"'DB_PASSWORD' looks like a secret"],
    "kubernetes.schemas": [r"50-api\.yaml:\d+: Deployment/api: 'two' is not of type "
                           r"'integer'.*spec\.replicas",
                           r"base/kustomization\.yaml: Deployment/api \(rendered\): 'two'",
                           r"overlays/staging/kustomization\.yaml: kustomization: kubectl "
                           r"kustomize failed: .*/spec/tls/0/hosts/0"],
    "ci.workflows": [r"ci-cd\.yml:\d+: on: not triggered by pull_request",
                     r"ci-cd\.yml:\d+: jobs\.deploy-staging: does not wait for the scan "
                     r"job\(s\) dependency-scan, build"],
    "monitoring.alert-rules": [r"alerts\.yaml: alert rules: no alert for battery",
                               r"alerts\.yaml:\d+: ServiceDown: expr does not parse as PromQL"],
    "monitoring.dashboards": [r"api\.json:\d+: dashboard 'PRSM API' panel 'Requests per "
                              r"second by route': no query"],
    "docs.runbooks": [r"^docs/runbooks/: runbook 'VPN': missing",
                      r"runbooks/disk-full\.md: runbook 'Runbook: disk full': section "
                      r"Escalation missing"],
    "docs.dr-plan": [r"disaster-recovery\.md: disaster recovery plan: RPO not stated"],
}


@pytest.fixture(scope="module")
def damaged(tmp_path_factory) -> Repository:
    root = tmp_path_factory.mktemp("platform") / "repo"
    shutil.copytree(default_root(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    _damage(root)
    return Repository(root)


@pytest.mark.parametrize("check", sorted(EXPECTED))
def test_every_removed_piece_is_named(damaged, check):
    finding = run_check(check, damaged)
    gaps = [str(g) for g in finding.gaps]
    assert finding.verdict == "fail", gaps
    for pattern in EXPECTED[check]:
        assert any(re.search(pattern, gap) for gap in gaps), f"{pattern!r} not in {gaps}"


def test_untouched_checks_still_pass_on_the_damaged_copy(damaged):
    for check in ("terraform.vpc", "kubernetes.workloads", "kubernetes.services"):
        assert run_check(check, damaged).verdict == "pass", check


def test_kustomize_is_skipped_saying_so_without_kubectl(reference, monkeypatch):
    from prsm_validate.evidence import kubernetes

    monkeypatch.setattr(kubernetes.shutil, "which", lambda name: None)
    finding = kubernetes.check_schemas(Repository(reference.root), {})
    assert finding.verdict == "pass"
    assert finding.note.startswith("kustomize rendering skipped: kubectl not found (3 ")


def test_an_empty_repository_has_every_piece_missing(tmp_path):
    verdicts = {check: run_check(check, tmp_path) for check in OFFLINE}
    assert all(f.verdict == "fail" and f.gaps for f in verdicts.values()), {
        c: f.verdict for c, f in verdicts.items()}


def test_a_missing_evidence_folder_is_unknown(tmp_path):
    finding = run_check("docs.runbooks", tmp_path / "nope")
    assert finding.verdict == "unknown" and "does not exist" in finding.note


def test_checkov_counts_failed_checks_against_the_threshold(tmp_path):
    """Checkov runs offline from its own environment (made on first use). The reference
    Terraform with one setting broken fails on exactly that resource: the rest passes."""
    root = tmp_path / "repo"
    shutil.copytree(default_root() / "deploy" / "terraform", root / "terraform")
    _edit(root, "terraform/database.tf", "storage_encrypted                   = true",
          "storage_encrypted                   = false")
    failed = run_check("terraform.checkov", root, {"max_failed": 0})
    if failed.verdict == "unknown":
        pytest.fail(f"checkov could not run: {failed.note}", pytrace=False)
    assert failed.verdict == "fail" and failed.measured["failed"] >= 1, failed.to_json()
    assert any("aws_db_instance.main" in str(g) and "failed checkov checks > 0" in str(g)
               for g in failed.gaps), [str(g) for g in failed.gaps]
    summary, *checks = failed.evidence
    assert summary.text.startswith("checkov 3.") and " failed over " in summary.text
    assert {e.text.split(": ")[0].split(" ", 1)[1] for e in checks} == {
        "aws_db_instance.main"}, [str(e) for e in checks]
