"""Remote targets: attach to a running deployment; nothing is started or stopped."""

from __future__ import annotations

from dataclasses import dataclass

from prsm_validate.targets import base
from prsm_validate.targets.config import TargetSpec


@dataclass
class RemoteTarget:
    """A deployment reached over HTTP, with credentials from the environment."""

    spec: TargetSpec

    @property
    def name(self) -> str:
        """The target's name in the targets file."""
        return self.spec.name

    @property
    def capabilities(self) -> frozenset[str]:
        """Remote targets offer no process control."""
        return self.spec.capabilities

    def start(self) -> base.Deployment:
        """Describe the deployment; reachability is checked by the first scenario."""
        assert self.spec.api_url is not None
        nodes = [base.NodeEndpoint(str(i), url) for i, url in enumerate(self.spec.nodes)]
        return base.Deployment(
            target=self.spec.name, kind="remote", api_url=self.spec.api_url,
            profile=self.spec.profile, capabilities=self.spec.capabilities,
            credentials=self.spec.credentials(), protected=self.spec.protected,
            allow_chaos=self.spec.allow_chaos, nodes=nodes,
        )

    def stop(self) -> None:
        """Nothing to release: the deployment is not ours."""
