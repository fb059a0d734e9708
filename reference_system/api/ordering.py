"""The API's link to the PBFT cluster: one :class:`ConsensusClient` pool per API process.

Configured by ``PRSM_REF_CONSENSUS_CONFIG`` (the cluster's ``cluster.json``) and
``PRSM_REF_CONSENSUS_CLIENT_KEYS`` (default: ``client-keys.json`` beside it). Without a cluster,
FTNS routes answer 503 and tasks use the local queue only.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from pathlib import Path
from typing import Any

from reference_system.api.errors import ApiError
from reference_system.settings import Settings

ORDER_TIMEOUT_S = 5.0
FRESH_S = 1.0  # /health trusts an ordered operation this recent instead of ordering a no-op


class Ordering:
    """Orders operations through the cluster; a timeout is an unknown outcome (503)."""

    def __init__(self, client: Any | None) -> None:
        self.client = client
        self.last_ordered = float("-inf")

    @classmethod
    async def open(cls, settings: Settings) -> Ordering:
        """Connect to the cluster named in ``settings`` (or none)."""
        if not settings.consensus_config:
            return cls(None)
        from reference_system.consensus.client import ConsensusClient

        config = Path(settings.consensus_config)
        keys = Path(settings.consensus_client_keys or config.parent / "client-keys.json")
        # A fresh name per API process: its requests never look like another's retries.
        client = ConsensusClient.from_files(config, keys,
                                            name=f"api-{settings.port}-{uuid.uuid4().hex[:6]}")
        await client.start()
        return cls(client)

    async def close(self) -> None:
        """Close the links to every replica."""
        if self.client is not None:
            await self.client.close()

    @property
    def enabled(self) -> bool:
        """True when a cluster is configured."""
        return self.client is not None

    async def submit(self, operation: dict[str, Any],
                     timeout_s: float = ORDER_TIMEOUT_S) -> dict[str, Any]:
        """The operation's result once f+1 replicas agree on it."""
        if self.client is None:
            raise ApiError(503, "no consensus cluster is configured (PRSM_REF_CONSENSUS_CONFIG)")
        if operation.get("id") is None:  # every ordered operation is traceable in node logs
            operation = {**operation, "id": f"api-{uuid.uuid4().hex}"}
        try:
            result = await self.client.submit(operation, timeout=timeout_s)
        except (TimeoutError, ConnectionError):
            raise ApiError(503, f"consensus did not answer within {timeout_s:g}s; the outcome "
                           "is unknown: retry with the same id") from None
        self.last_ordered = time.monotonic()
        return result

    def links_up(self) -> int:
        """Replicas this API is connected to."""
        if self.client is None:
            return 0
        return sum(link.connected.is_set() for link in self.client.links.values())

    async def check(self) -> None:
        """Health probe: an operation ordered in the last second, else a no-op now."""
        if time.monotonic() - self.last_ordered < FRESH_S:
            return
        with contextlib.suppress(ApiError):
            await self.submit({"op": "noop", "id": None}, timeout_s=1.0)
            return
        raise ConnectionError("consensus did not order a no-op")
