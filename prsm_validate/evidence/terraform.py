"""Terraform evidence (Phase 0 roadmap, 1.1 / Milestone 1), parsed with python-hcl2.

Every ``*.tf`` file of the repository is parsed; resources are matched by type and their
settings checked (``var.x`` resolves to the variable's default). python-hcl2 8 does not report
source lines, so the line of a block or setting is found by a small search of the file's text
(written here by hand; nothing else is).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prsm_validate.evidence.base import Finding, Line, Repository

VAR = re.compile(r"^\$\{var\.([A-Za-z0-9_-]+)\}$")


@dataclass(frozen=True)
class Resource:
    """One ``resource "type" "name" {...}`` block."""

    type: str
    name: str
    body: dict[str, Any]
    path: Path
    line: int

    @property
    def address(self) -> str:
        """Terraform's address of the resource, ``type.name``."""
        return f"{self.type}.{self.name}"


@dataclass
class Module:
    """The parsed Terraform files of a repository."""

    repo: Repository
    resources: list[Resource]
    variables: dict[str, Any]
    errors: list[str]

    def of_type(self, *types: str) -> list[Resource]:
        """Resources of the given types, in file order."""
        return [r for r in self.resources if r.type in types]

    def value(self, resource: Resource, key: str) -> Any:
        """A setting of ``resource`` (dotted for nested blocks), ``var.x`` resolved."""
        value: Any = resource.body
        for part in key.split("."):
            if isinstance(value, list) and value and isinstance(value[0], dict):
                value = value[0]
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        match = VAR.match(value) if isinstance(value, str) else None
        return self.variables.get(match.group(1), value) if match else value

    def line_of(self, resource: Resource, key: str) -> Line | None:
        """The line setting ``key`` (its last dotted part) inside the resource's block."""
        leaf = key.split(".")[-1]
        found = self.repo.find_line(resource.path, rf"^\s*{re.escape(leaf)}\s*=", resource.line)
        return found

    def block_line(self, resource: Resource) -> Line:
        """The resource's opening line."""
        text = self.repo.text(resource.path).splitlines()[resource.line - 1]
        return Line(self.repo.rel(resource.path), resource.line, text)


def parse(repo: Repository) -> Module:
    """Parse every ``*.tf`` file; syntax errors are kept to be reported as gaps."""
    import hcl2
    from hcl2.utils import SerializationOptions

    options = SerializationOptions(strip_string_quotes=True)
    module = Module(repo, [], {}, [])
    for path in repo.files(".tf"):
        try:
            data = hcl2.loads(repo.text(path), serialization_options=options)
        except Exception as exc:  # lark raises many exception types; all mean "not HCL2"
            module.errors.append(f"{repo.rel(path)}: not valid HCL2: {str(exc).splitlines()[0]}")
            continue
        _collect(module, path, data)
    return module


def _collect(module: Module, path: Path, data: dict[str, Any]) -> None:
    for block in data.get("variable", []):
        for name, body in block.items():
            module.variables[name] = body.get("default")
    for block in data.get("resource", []):
        for type_, named in block.items():
            for name, body in named.items():
                found = module.repo.find_line(
                    path, rf'^\s*resource\s+"{re.escape(type_)}"\s+"{re.escape(name)}"')
                module.resources.append(Resource(type_, name, body, path,
                                                 found.line if found else 1))


Rule = Callable[[Any], bool]


def require(module: Module, finding: Finding, resource: Resource, key: str, rule: Rule,
            needs: str) -> None:
    """Check one setting; a missing or wrong value is a gap naming the resource and key."""
    value = module.value(resource, key)
    line = module.line_of(resource, key)
    if value is not None and _holds(rule, value):
        finding.cite(line)
        return
    shown = "not set" if value is None else f"is {value!r}"
    where = line.line if line and value is not None else resource.line
    finding.gap(module.repo.rel(resource.path), resource.address, f"{key} {shown} ({needs})",
                where)


def _holds(rule: Rule, value: Any) -> bool:
    try:
        return bool(rule(value))
    except (TypeError, ValueError):
        return False


def present(module: Module, finding: Finding, types: tuple[str, ...], what: str
            ) -> list[Resource]:
    """Resources of ``types``; none is a gap saying which resource type is missing."""
    found = module.of_type(*types)
    if not found:
        finding.gap(_tf_root(module), " or ".join(types), f"no {what} resource")
    for resource in found[:1]:
        finding.cite(module.block_line(resource))
    return found


def _tf_root(module: Module) -> str:
    files = module.repo.files(".tf")
    return str(Path(module.repo.rel(files[0])).parent) + "/" if files else "(no *.tf file)"


def _module(repo: Repository, finding: Finding) -> Module | None:
    module = repo.parsed("terraform", parse)
    for error in module.errors:
        finding.gap(error.split(":")[0], "terraform", error.split(": ", 1)[1])
    if not repo.files(".tf"):
        finding.gap(".", "terraform", "no *.tf file in the repository")
        return None
    return module


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _number(value: Any) -> float:
    return float(value)


def check_rds(repo: Repository, params: dict[str, Any]) -> Finding:
    """RDS PostgreSQL: Multi-AZ with automated backups (retention > 0 days)."""
    finding = Finding()
    module = _module(repo, finding)
    if module is None:
        return finding
    for db in present(module, finding, ("aws_db_instance", "aws_rds_cluster"), "RDS database"):
        require(module, finding, db, "engine", lambda v: "postgres" in str(v),
                "needs a postgres engine")
        if db.type == "aws_db_instance":
            require(module, finding, db, "multi_az", _is_true, "needs true")
        require(module, finding, db, "backup_retention_period", lambda v: _number(v) > 0,
                "needs > 0 for automated backups")
    return finding


def check_elasticache(repo: Repository, params: dict[str, Any]) -> Finding:
    """ElastiCache Redis: a replication group with automatic failover and a replica."""
    finding = Finding()
    module = _module(repo, finding)
    if module is None:
        return finding
    for group in present(module, finding, ("aws_elasticache_replication_group",),
                         "ElastiCache replication group"):
        require(module, finding, group, "automatic_failover_enabled", _is_true, "needs true")
        replicas = module.value(group, "num_cache_clusters")
        key = "num_cache_clusters" if replicas is not None else "replicas_per_node_group"
        least = 2 if key == "num_cache_clusters" else 1
        require(module, finding, group, key, lambda v, n=least: _number(v) >= n,
                f"needs >= {least} for a failover target")
    return finding


def check_eks(repo: Repository, params: dict[str, Any]) -> Finding:
    """EKS: a cluster and auto-scaling node groups (min_size < max_size)."""
    finding = Finding()
    module = _module(repo, finding)
    if module is None:
        return finding
    present(module, finding, ("aws_eks_cluster",), "EKS cluster")
    for group in present(module, finding, ("aws_eks_node_group",), "EKS node group"):
        low = module.value(group, "scaling_config.min_size")
        high = module.value(group, "scaling_config.max_size")
        require(module, finding, group, "scaling_config.min_size", lambda v: _number(v) >= 1,
                "needs >= 1")
        require(module, finding, group, "scaling_config.max_size",
                lambda v, low=low: _number(v) > _number(low),
                f"needs > min_size ({low}) to auto-scale" if high is not None else "needs > "
                "min_size to auto-scale")
    return finding


def check_vpc(repo: Repository, params: dict[str, Any]) -> Finding:
    """VPC and security groups: a VPC, private and public subnets, security groups in it."""
    finding = Finding()
    module = _module(repo, finding)
    if module is None:
        return finding
    present(module, finding, ("aws_vpc",), "VPC")
    present(module, finding, ("aws_subnet",), "subnet")
    for group in present(module, finding, ("aws_security_group",), "security group"):
        require(module, finding, group, "vpc_id", lambda v: "aws_vpc." in str(v),
                "needs the VPC's id (aws_vpc.<name>.id)")
    return finding


MONITORING = {
    "CloudWatch": ("aws_cloudwatch_metric_alarm", "aws_cloudwatch_log_group"),
    "Prometheus": ("aws_prometheus_workspace",),
    "Grafana": ("aws_grafana_workspace",),
}
CHARTS = {"Prometheus": ("prometheus", "kube-prometheus-stack"),
          "Grafana": ("grafana", "kube-prometheus-stack")}


def check_monitoring(repo: Repository, params: dict[str, Any]) -> Finding:
    """Monitoring stack: CloudWatch, Prometheus and Grafana (managed or as Helm releases)."""
    finding = Finding()
    module = _module(repo, finding)
    if module is None:
        return finding
    for part, types in MONITORING.items():
        found = module.of_type(*types) or [
            r for r in module.of_type("helm_release")
            if str(module.value(r, "chart")) in CHARTS.get(part, ())]
        if found:
            finding.cite(module.block_line(found[0]))
        else:
            kinds = [*types, *(f'helm_release chart "{c}"' for c in CHARTS.get(part, ()))]
            finding.gap(_tf_root(module), f"monitoring ({part})",
                        f"no {' or '.join(kinds)}")
    return finding


def check_milvus(repo: Repository, params: dict[str, Any]) -> Finding:
    """Milvus vector database: a Helm release of the milvus chart with persistent storage."""
    finding = Finding()
    module = _module(repo, finding)
    if module is None:
        return finding
    releases = [r for r in module.of_type("helm_release")
                if "milvus" in str(module.value(r, "chart"))]
    if not releases:
        finding.gap(_tf_root(module), 'helm_release chart "milvus"', "no Milvus release")
    for release in releases:
        if "persistence" in str(release.body):  # in `values` or a `set` block
            finding.cite(module.repo.find_line(release.path, "persistence", release.line))
        else:
            finding.gap(module.repo.rel(release.path), release.address,
                        "no persistence setting in values or set (production vector storage)",
                        release.line)
    return finding
