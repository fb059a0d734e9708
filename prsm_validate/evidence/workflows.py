"""CI/CD evidence (Phase 0 roadmap, 3.1 / Milestone 6): GitHub Actions workflows.

Each ``.github/workflows/*.yml`` is validated against SchemaStore's GitHub workflow schema as
vendored by check-jsonschema (offline), then checked for what the roadmap asks: it runs on
push and pull_request, and has jobs that build, test, scan dependencies or images, and deploy,
the deploy job waiting (``needs``, directly or not) for the tests and the scan so a
vulnerability blocks it. actionlint is not used: its Python wrapper downloads the binary from
GitHub at install time, which cannot work offline.

Written here by hand: recognising what a job does from its steps (the tool names below).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from prsm_validate.evidence.base import Finding, Repository

ROLES = {
    "build": r"docker build|docker/build-push-action|python -m build|pip wheel|buildx|"
             r"make build|npm run build|cargo build|go build",
    "test": r"pytest|npm test|npm run test|go test|cargo test|make test|tox\b|nox\b",
    "scan": r"pip-audit|safety check|trivy|grype|snyk|aquasecurity/|anchore/|codeql|"
            r"dependency-review-action|osv-scanner",
    "deploy": r"kubectl (apply|rollout)|helm (upgrade|install)|terraform apply|"
              r"kustomize build .*kubectl|azure/k8s-deploy|aws-actions/amazon-eks",
}
TRIGGERS = ("push", "pull_request")


def _workflow_files(repo: Repository) -> list[Path]:
    return [p for p in repo.files(".yml", ".yaml")
            if p.parent.name == "workflows" and p.parent.parent.name == ".github"]


def _load(repo: Repository, path: Path, finding: Finding) -> dict[str, Any] | None:
    try:
        body = yaml.safe_load(repo.text(path))
    except yaml.YAMLError as exc:
        finding.gap(repo.rel(path), "workflow", f"not valid YAML: {exc}")
        return None
    if not isinstance(body, dict):
        finding.gap(repo.rel(path), "workflow", "not a mapping")
        return None
    if True in body:  # YAML 1.1 reads the key `on` as the boolean true
        body["on"] = body.pop(True)
    return body


def _schema_problems(body: dict[str, Any]) -> list[str]:
    import jsonschema
    from check_jsonschema.builtin_schemas import get_builtin_schema

    schema = get_builtin_schema("vendor.github-workflows")
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message[:160]}"
            for e in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))]


def _job_text(job: dict[str, Any]) -> str:
    steps = job.get("steps") or []
    return "\n".join(str(s.get("run", "")) + " " + str(s.get("uses", ""))
                     for s in steps if isinstance(s, dict))


def _needs(jobs: dict[str, Any], job_id: str, seen: set[str] | None = None) -> set[str]:
    """Every job ``job_id`` waits for, directly or through others."""
    seen = set() if seen is None else seen
    direct = jobs.get(job_id, {}).get("needs") or []
    for other in [direct] if isinstance(direct, str) else direct:
        if other not in seen:
            seen.add(other)
            _needs(jobs, other, seen)
    return seen


def check_workflows(repo: Repository, params: dict[str, Any]) -> Finding:
    """Workflows validate; push and pull_request trigger build, test, scan and deploy jobs
    (``params.roles`` narrows which), the deploy jobs waiting for the test and scan jobs."""
    finding = Finding()
    files = _workflow_files(repo)
    if not files:
        finding.gap(".github/workflows/", "workflow", "no GitHub Actions workflow")
    roles_found: dict[str, tuple[Path, str]] = {}
    for path in files:
        body = _load(repo, path, finding)
        if body is None:
            continue
        for problem in _schema_problems(body)[:5]:
            finding.gap(repo.rel(path), "workflow schema", problem)
        _check_triggers(repo, path, body, finding)
        _check_jobs(repo, path, body, finding, roles_found)
    for role in params.get("roles") or ROLES:
        if files and role not in roles_found:
            finding.gap(repo.rel(files[0]), "jobs", f"no job that does {role} "
                        f"(looked for: {ROLES[role].replace('|', ', ')[:120]})")
    finding.measured = {role: f"{repo.rel(p)}: {job}" for role, (p, job) in roles_found.items()}
    return finding


def _check_triggers(repo: Repository, path: Path, body: dict[str, Any],
                    finding: Finding) -> None:
    on = body.get("on") or {}
    events = {on} if isinstance(on, str) else set(on)
    for trigger in TRIGGERS:
        if trigger not in events:
            finding.gap(repo.rel(path), "on", f"not triggered by {trigger}",
                        _line(repo, path, r"^on:"))
        else:
            finding.cite(repo.find_line(path, rf"^\s+{trigger}:|^on:.*{trigger}"))


def _check_jobs(repo: Repository, path: Path, body: dict[str, Any], finding: Finding,
                roles_found: dict[str, tuple[Path, str]]) -> None:
    jobs = {k: v for k, v in (body.get("jobs") or {}).items() if isinstance(v, dict)}
    roles: dict[str, list[str]] = {role: [] for role in ROLES}
    for job_id, job in jobs.items():
        text = _job_text(job)
        for role, pattern in ROLES.items():
            if re.search(pattern, text):
                roles[role].append(job_id)
                roles_found.setdefault(role, (path, job_id))
                finding.cite(repo.find_line(path, pattern))
    for deploy in roles["deploy"]:
        waits = _needs(jobs, deploy) | {deploy}
        for gate_role in ("test", "scan"):
            if roles[gate_role] and not waits & set(roles[gate_role]):
                finding.gap(repo.rel(path), f"jobs.{deploy}",
                            f"does not wait for the {gate_role} job(s) "
                            f"{', '.join(roles[gate_role])} (needs:), so a failure there "
                            "does not block the deployment",
                            _line(repo, path, rf"^\s+{re.escape(deploy)}:"))


def _line(repo: Repository, path: Path, pattern: str) -> int | None:
    found = repo.find_line(path, pattern)
    return found.line if found else None
