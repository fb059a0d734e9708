"""Kubernetes evidence (Phase 0 roadmap, 1.2 / Milestone 2).

Every YAML document with ``apiVersion`` and ``kind`` is validated with kubernetes-validate
(strict: unknown fields are errors) against the newest schema it bundles; every folder with a
``kustomization.yaml`` is rendered with ``kubectl kustomize`` (when kubectl is present, else
skipped saying so) and its output validated too. The roadmap's checks then run over the plain
manifests, so each gap names the file and line of the resource.

Written here by hand: the secret-looking-value patterns for ConfigMaps (a few unambiguous
shapes: key names, PEM blocks, JWTs, AWS key ids, passwords in URLs).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from prsm_validate.evidence.base import Finding, Line, Repository

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet")
KUSTOMIZATION = ("kustomization.yaml", "kustomization.yml", "Kustomization")
COMPONENT = "app.kubernetes.io/component"
SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|private[_-]?key|"
                        r"credential)")
SECRET_VALUE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|^eyJ[\w-]+\.[\w-]+\.|"
                          r"AKIA[0-9A-Z]{16}|://[^/\s:@]+:[^/\s@]+@")


@dataclass(frozen=True)
class Manifest:
    """One Kubernetes object, with where it is written."""

    body: dict[str, Any]
    path: Path
    line: int

    @property
    def kind(self) -> str:
        """The object's kind."""
        return str(self.body.get("kind"))

    @property
    def name(self) -> str:
        """The object's name."""
        return str((self.body.get("metadata") or {}).get("name"))

    @property
    def ref(self) -> str:
        """``Kind/name`` as shown in gaps."""
        return f"{self.kind}/{self.name}"

    def containers(self) -> list[dict[str, Any]]:
        """The pod template's containers (workloads only)."""
        pod = ((self.body.get("spec") or {}).get("template") or {}).get("spec") or {}
        return [c for c in pod.get("containers") or [] if isinstance(c, dict)]

    def pod_labels(self) -> dict[str, str]:
        """Labels of the pod template (what a Service selects)."""
        template = (self.body.get("spec") or {}).get("template") or {}
        return dict((template.get("metadata") or {}).get("labels") or {})


@dataclass
class Manifests:
    """Every Kubernetes object of the repository, plus what could not be read."""

    repo: Repository
    objects: list[Manifest]
    problems: list[tuple[str, int, str, str]]  # file, line, resource, problem
    kustomize_dirs: list[Path]

    def of_kind(self, *kinds: str) -> list[Manifest]:
        """Objects of the given kinds."""
        return [m for m in self.objects if m.kind in kinds]

    def line(self, manifest: Manifest, pattern: str | None = None) -> Line:
        """The object's first line, or the first line from it matching ``pattern``."""
        found = self.repo.find_line(manifest.path, pattern, manifest.line) if pattern else None
        text = self.repo.text(manifest.path).splitlines()[manifest.line - 1]
        return found or Line(self.repo.rel(manifest.path), manifest.line, text)

    def gap(self, finding: Finding, manifest: Manifest, missing: str,
            pattern: str | None = None) -> None:
        """A gap at the object (or the line matching ``pattern`` inside it)."""
        finding.gap(self.repo.rel(manifest.path), manifest.ref, missing,
                    self.line(manifest, pattern).line)


def load(repo: Repository) -> Manifests:
    """Read every Kubernetes object of the repository (YAML documents with kind)."""
    out = Manifests(repo, [], [], [])
    for path in repo.files(".yaml", ".yml"):
        if path.name in KUSTOMIZATION:
            out.kustomize_dirs.append(path.parent)
            continue
        for body, line in _documents(repo, path, out):
            if isinstance(body, dict) and "apiVersion" in body and "kind" in body:
                out.objects.append(Manifest(body, path, line))
    return out


def _documents(repo: Repository, path: Path, out: Manifests) -> list[tuple[Any, int]]:
    loader = yaml.SafeLoader(repo.text(path))
    docs = []
    try:
        while loader.check_node():
            node = loader.get_node()
            docs.append((loader.construct_document(node), node.start_mark.line + 1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        out.problems.append((repo.rel(path), (mark.line + 1) if mark else 1, "yaml",
                             f"not valid YAML: {getattr(exc, 'problem', exc)}"))
    finally:
        loader.dispose()
    return docs


def _manifests(repo: Repository) -> Manifests:
    return repo.parsed("kubernetes", load)


@functools.cache
def _cache_schemas() -> None:
    """kubernetes-validate re-reads its schema files (the definitions are megabytes) on every
    call; they never change, so keep what it read (10x faster over a few dozen manifests)."""
    from kubernetes_validate import utils

    utils.schema_contents = functools.lru_cache(maxsize=None)(utils.schema_contents)


def _validate(body: dict[str, Any], version: str) -> str | None:
    import kubernetes_validate

    _cache_schemas()
    try:
        kubernetes_validate.validate(body, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        return f"{exc.message}" + (f" (at {where})" if where else "")
    except kubernetes_validate.SchemaNotFoundError:
        return f"no Kubernetes {version} schema for {body.get('apiVersion')} {body.get('kind')}"
    return None


def check_schemas(repo: Repository, params: dict[str, Any]) -> Finding:
    """Every manifest (and every kustomize rendering) validates strictly; the overlays named in
    ``params.require_overlays`` exist."""
    import kubernetes_validate

    version = str(params.get("kubernetes_version") or kubernetes_validate.latest_version())
    finding = Finding(threshold=f"kubernetes-validate strict, Kubernetes {version}")
    found = _manifests(repo)
    for file, line, resource, problem in found.problems:
        finding.gap(file, resource, problem, line)
    if not found.objects:
        finding.gap(".", "kubernetes", "no Kubernetes manifest (YAML with apiVersion and kind)")
    for manifest in found.objects:
        problem = _validate(manifest.body, version)
        if problem:
            found.gap(finding, manifest, problem)
    rendered = _render_all(found, finding, version)
    for overlay in params.get("require_overlays") or []:
        if not any(d.name == overlay for d in found.kustomize_dirs):
            finding.gap(".", f"overlay {overlay}", f"no kustomization folder named {overlay} "
                        f"(e.g. deploy/k8s/overlays/{overlay}/kustomization.yaml)")
        else:
            folder = next(d for d in found.kustomize_dirs if d.name == overlay)
            finding.cite(found.repo.find_line(folder / "kustomization.yaml", "resources"))
    finding.measured = {"manifests": len(found.objects), "kustomize_rendered": rendered}
    if found.objects and not finding.gaps:
        finding.cite(found.line(found.objects[0]))
    return finding


def _render_all(found: Manifests, finding: Finding, version: str) -> int:
    kubectl = shutil.which("kubectl")
    if not found.kustomize_dirs:
        return 0
    if kubectl is None:
        finding.note = (f"kustomize rendering skipped: kubectl not found "
                        f"({len(found.kustomize_dirs)} kustomization(s) not rendered)")
        return 0
    for folder in found.kustomize_dirs:
        rel = found.repo.rel(folder / "kustomization.yaml")
        done = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True,
                              text=True, timeout=120)
        if done.returncode != 0:
            finding.gap(rel, "kustomization", "kubectl kustomize failed: "
                        + (done.stderr.strip().splitlines() or ["no output"])[-1])
            continue
        for body in yaml.safe_load_all(done.stdout):
            problem = _validate(body, version) if isinstance(body, dict) else None
            if problem:
                name = (body.get("metadata") or {}).get("name")
                finding.gap(rel, f"{body.get('kind')}/{name} (rendered)", problem)
    return len(found.kustomize_dirs)


def check_workloads(repo: Repository, params: dict[str, Any]) -> Finding:
    """Deployments (or StatefulSets) for each component the roadmap names."""
    finding = Finding()
    found = _manifests(repo)
    for component in params.get("components", ["api", "consensus", "federation"]):
        mine = [m for m in found.of_kind(*WORKLOADS)
                if m.pod_labels().get(COMPONENT) == component
                or ((m.body.get("metadata") or {}).get("labels") or {}).get(COMPONENT)
                == component]
        if not mine:
            finding.gap(".", f"component {component}",
                        f"no Deployment or StatefulSet labelled {COMPONENT}: {component}")
        for manifest in mine[:1]:
            finding.cite(found.line(manifest, re.escape(f"{COMPONENT}: {component}")))
    return finding


def check_services(repo: Repository, params: dict[str, Any]) -> Finding:
    """LoadBalancer and ClusterIP Services, each selecting an existing pod template."""
    finding = Finding()
    found = _manifests(repo)
    services = found.of_kind("Service")
    types = {str((s.body.get("spec") or {}).get("type") or "ClusterIP") for s in services}
    for wanted in params.get("types", ["LoadBalancer", "ClusterIP"]):
        if wanted not in types:
            finding.gap(".", "Service", f"no Service of type {wanted}")
    templates = [m.pod_labels() for m in found.of_kind(*WORKLOADS)]
    for service in services:
        selector = (service.body.get("spec") or {}).get("selector") or {}
        if not any(selector.items() <= labels.items() for labels in templates):
            found.gap(finding, service, f"selector {selector} matches no pod template",
                      "selector")
        else:
            finding.cite(found.line(service, "type: LoadBalancer"))
    return finding


def check_config_secrets(repo: Repository, params: dict[str, Any]) -> Finding:
    """ConfigMaps hold no secret-looking values; secrets reach pods by reference only."""
    finding = Finding()
    found = _manifests(repo)
    configmaps = found.of_kind("ConfigMap")
    if not configmaps:
        finding.gap(".", "ConfigMap", "no ConfigMap (production configuration management)")
    for configmap in configmaps:
        for key, value in (configmap.body.get("data") or {}).items():
            if SECRET_KEY.search(str(key)) or SECRET_VALUE.search(str(value)):
                found.gap(finding, configmap, f"data key {key!r} looks like a secret "
                          "(move it to a Secret)", rf"^\s*{re.escape(str(key))}\s*:")
        finding.cite(found.line(configmap))
    for secret in found.of_kind("Secret"):
        committed = [k for k, v in {**(secret.body.get("data") or {}),
                                    **(secret.body.get("stringData") or {})}.items() if v]
        if committed:
            found.gap(finding, secret, f"commits secret values ({', '.join(committed)}): "
                      "create the Secret at deploy time instead")
    refs = [m for m in found.of_kind(*WORKLOADS)
            if "secretKeyRef" in str(m.body) or "secretRef" in str(m.body)]
    if not refs:
        finding.gap(".", "Secret", "no workload takes a Secret by reference (secretKeyRef)")
    for manifest in refs[:1]:
        finding.cite(found.line(manifest, "secretKeyRef|secretRef"))
    return finding


def check_ingress_tls(repo: Repository, params: dict[str, Any]) -> Finding:
    """An Ingress terminating TLS (hosts and a certificate secret per tls entry)."""
    finding = Finding()
    found = _manifests(repo)
    ingresses = found.of_kind("Ingress")
    if not ingresses:
        finding.gap(".", "Ingress", "no Ingress")
    for ingress in ingresses:
        tls = (ingress.body.get("spec") or {}).get("tls") or []
        if not tls:
            found.gap(finding, ingress, "spec.tls not set (needs TLS termination)")
        for entry in tls:
            if not entry.get("hosts") or not entry.get("secretName"):
                found.gap(finding, ingress, "spec.tls entry needs hosts and secretName", "tls")
        if tls:
            finding.cite(found.line(ingress, "secretName"))
    return finding


def check_hpa(repo: Repository, params: dict[str, Any]) -> Finding:
    """HorizontalPodAutoscalers, each targeting a workload that exists."""
    finding = Finding()
    found = _manifests(repo)
    hpas = found.of_kind("HorizontalPodAutoscaler")
    if not hpas:
        finding.gap(".", "HorizontalPodAutoscaler", "no HorizontalPodAutoscaler")
    workloads = {(m.kind, m.name) for m in found.of_kind(*WORKLOADS)}
    for hpa in hpas:
        target = (hpa.body.get("spec") or {}).get("scaleTargetRef") or {}
        key = (str(target.get("kind")), str(target.get("name")))
        if key not in workloads:
            found.gap(finding, hpa, f"scaleTargetRef {key[0]}/{key[1]} does not exist",
                      "scaleTargetRef")
        else:
            finding.cite(found.line(hpa, "scaleTargetRef"))
    return finding


def check_probes(repo: Repository, params: dict[str, Any]) -> Finding:
    """Liveness and readiness probes on every container of every workload."""
    return _per_container(repo, ("livenessProbe", "readinessProbe"))


def check_resources(repo: Repository, params: dict[str, Any]) -> Finding:
    """Resource requests and limits (cpu and memory) on every container."""
    finding = Finding()
    found = _manifests(repo)
    for manifest in found.of_kind(*WORKLOADS):
        for container in manifest.containers():
            resources = container.get("resources") or {}
            for part in ("requests", "limits"):
                missing = [r for r in ("cpu", "memory") if r not in (resources.get(part) or {})]
                if missing:
                    found.gap(finding, manifest, f"container {container.get('name')}: "
                              f"resources.{part}.{'/'.join(missing)} not set",
                              _container_line(container))
        if manifest.containers() and not finding.gaps:
            finding.cite(found.line(manifest, "limits"))
    _none_is_a_gap(found, finding)
    return finding


def _per_container(repo: Repository, keys: tuple[str, ...]) -> Finding:
    finding = Finding()
    found = _manifests(repo)
    for manifest in found.of_kind(*WORKLOADS):
        for container in manifest.containers():
            for key in keys:
                if key not in container:
                    found.gap(finding, manifest, f"container {container.get('name')}: {key} "
                              "not set", _container_line(container))
        finding.cite(found.line(manifest, keys[0]))
    _none_is_a_gap(found, finding)
    return finding


def _container_line(container: dict[str, Any]) -> str:
    """The pattern of a container's list item (``- name: api``), not the object's name."""
    return rf"^\s*-\s*name:\s*{re.escape(str(container.get('name')))}\b"


def _none_is_a_gap(found: Manifests, finding: Finding) -> None:
    if not found.of_kind(*WORKLOADS):
        finding.gap(".", "workloads", "no Deployment, StatefulSet or DaemonSet")
