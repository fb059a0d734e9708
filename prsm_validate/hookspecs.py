"""Hooks that prsm-validate adds to pytest (prefixed ``pytest_prsm_``: pytest only
recognises implementations whose names start with ``pytest_``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from prsm_validate.targets.base import Deployment, Target
    from prsm_validate.targets.config import TargetSpec


@pytest.hookspec(firstresult=True)
def pytest_prsm_make_target(config: pytest.Config, spec: TargetSpec) -> Target | None:
    """Create the target object for ``spec`` (not yet started).

    The first non-None result wins; implement it in a conftest or plugin to provide a custom
    target kind. The default implementation handles ``local`` and remote targets.
    """


def pytest_prsm_deployment_ready(config: pytest.Config, deployment: Deployment,
                          ready_s: float | None) -> None:
    """Called once the session's deployment is ready (e.g. to record it in a report)."""


def pytest_prsm_run_summary(config: pytest.Config, summary: dict[str, Any]) -> None:
    """Called with the run summary before it is written; plugins may add keys to it."""
