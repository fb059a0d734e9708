"""Evidence from the platform's own repository, checked offline (DESIGN.md section 14).

``run_check(name, root, params)`` runs one named check over the repository at ``root`` and
returns its :class:`~prsm_validate.evidence.base.Finding`: pass, fail (each gap named by file,
resource and missing setting) or unknown. Gate criteria of kind ``evidence`` name a check.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

from prsm_validate.evidence.base import Finding, Repository

# check name -> "module:function" (modules import their libraries only when used)
CHECKS = {
    "terraform.rds": "terraform:check_rds",
    "terraform.elasticache": "terraform:check_elasticache",
    "terraform.milvus": "terraform:check_milvus",
    "terraform.eks": "terraform:check_eks",
    "terraform.vpc": "terraform:check_vpc",
    "terraform.monitoring": "terraform:check_monitoring",
    "terraform.checkov": "checkov:check_checkov",
    "kubernetes.schemas": "kubernetes:check_schemas",
    "kubernetes.workloads": "kubernetes:check_workloads",
    "kubernetes.services": "kubernetes:check_services",
    "kubernetes.config-secrets": "kubernetes:check_config_secrets",
    "kubernetes.ingress-tls": "kubernetes:check_ingress_tls",
    "kubernetes.hpa": "kubernetes:check_hpa",
    "kubernetes.probes": "kubernetes:check_probes",
    "kubernetes.resources": "kubernetes:check_resources",
    "ci.workflows": "workflows:check_workflows",
    "monitoring.alert-rules": "monitoring:check_alert_rules",
    "monitoring.dashboards": "monitoring:check_dashboards",
    "docs.runbooks": "docs:check_runbooks",
    "docs.dr-plan": "docs:check_dr_plan",
}

Check = Callable[[Repository, dict[str, Any]], Finding]


def check_function(name: str) -> Check:
    """The function implementing check ``name`` (KeyError names the known checks)."""
    if name not in CHECKS:
        raise KeyError(f"no evidence check {name!r}; checks: {', '.join(CHECKS)}")
    module, function = CHECKS[name].split(":")
    return getattr(import_module(f"prsm_validate.evidence.{module}"), function)


def default_root() -> Path:
    """The reference system's own repository folder (its artifacts pass every check)."""
    import reference_system

    return Path(reference_system.__file__).parent


def run_check(name: str, repo: Repository | Path, params: dict[str, Any] | None = None
              ) -> Finding:
    """Run check ``name`` over ``repo``; a crash of the check is unknown, never a pass."""
    repository = repo if isinstance(repo, Repository) else Repository(Path(repo))
    if not repository.root.is_dir():
        return Finding().unknown(f"evidence folder {repository.root} does not exist")
    try:
        return check_function(name)(repository, dict(params or {}))
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        return Finding().unknown(f"check {name} could not run: {type(exc).__name__}: {exc}")
