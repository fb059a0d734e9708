"""Remote targets: attach to a running deployment; nothing is started or stopped.

``start`` waits for the first healthy answer of ``/health`` (its time is the target's "ready
in"), keeps the target's identity for the report (the ``/health`` body and the ``Server``
header; the OpenAPI title and version are added when the contract is read) and builds the
declared ``control:`` (see :mod:`prsm_validate.targets.control`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from prsm_validate.targets import base
from prsm_validate.targets.config import TargetSpec
from prsm_validate.targets.processes import StartupError


@dataclass
class RemoteTarget:
    """A deployment reached over HTTP, with credentials from the environment."""

    spec: TargetSpec
    ready_s: float | None = None
    control: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """The target's name in the targets file."""
        return self.spec.name

    @property
    def capabilities(self) -> frozenset[str]:
        """What the declared control allows (nothing without ``control:``)."""
        return self.spec.capabilities

    def start(self) -> base.Deployment:
        """Wait for the first healthy answer, then describe the deployment."""
        assert self.spec.api_url is not None
        started = time.monotonic()
        identity = first_healthy_answer(self.spec.api_url, self.spec.ready_timeout_s)
        self.ready_s = time.monotonic() - started
        if self.spec.control is not None:
            from prsm_validate.targets.control import make_control

            self.control = make_control(self.spec.control)
        nodes = [base.NodeEndpoint(str(i), url) for i, url in enumerate(self.spec.nodes)]
        return base.Deployment(
            target=self.spec.name, kind="remote", api_url=self.spec.api_url,
            profile=self.spec.profile, capabilities=self.spec.capabilities,
            credentials=self.spec.credentials(), protected=self.spec.protected,
            allow_chaos=self.spec.allow_chaos, nodes=nodes, control=self.control,
            api_profile=self.spec.api_profile, identity=identity,
            second_credentials=self.spec.second_credentials(),
            second_user_note=f"target {self.spec.name!r} names no second_user "
                             "{username_env, password_env} in its targets file entry",
            admin_credentials=self.spec.admin_credentials(),
            admin_user_note=f"target {self.spec.name!r} names no admin_user "
                            "{username_env, password_env} in its targets file entry",
            rate_limit=self.spec.declared_rate_limit(),
            rate_limit_note=f"target {self.spec.name!r} declares no rate_limit {{per_second, "
                            "burst, user}} in its targets file entry",
        )

    def stop(self) -> None:
        """Nothing to release: the deployment is not ours."""

    def save_logs(self, dest: Path) -> None:
        """The control's actions and their output, as ``control.log``."""
        lines = getattr(self.control, "log", None)
        if lines:
            dest.mkdir(parents=True, exist_ok=True)
            (dest / "control.log").write_text("\n".join(lines) + "\n", encoding="utf-8")


def first_healthy_answer(api_url: str, timeout_s: float) -> dict[str, Any]:
    """Poll ``<api_url>/health`` until it answers 200; returns the target's identity (health
    body, Server header). Raises StartupError with the last answer when it never does."""
    from prsm_validate.errors import excerpt

    deadline, last = time.monotonic() + timeout_s, "no answer"
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        while True:
            try:
                response = http.get(api_url.rstrip("/") + "/health")
                if response.status_code == 200:
                    return {"health": _json(response), "server": response.headers.get("server")}
                last = f"HTTP {response.status_code}: {excerpt(_json(response))}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            if time.monotonic() > deadline:
                raise StartupError(f"{api_url}/health not healthy within {timeout_s:g} s "
                                   f"(last: {last})")
            time.sleep(0.2)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:200]
