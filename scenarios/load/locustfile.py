"""A plain Locust file speaking the prime-spark contract, for Locust's own UI:

    PRSM_USERNAME=... PRSM_PASSWORD=... locust -f scenarios/load/locustfile.py --host URL

(pytest scenarios use the harness's engine instead: prsm_validate.load.engine.)
"""

from __future__ import annotations

import os
import random
import uuid

from locust import FastHttpUser, between, task


class PlatformUser(FastHttpUser):
    """Logs in once, then mixes health, memory and LLM calls."""

    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        """Log in with PRSM_USERNAME / PRSM_PASSWORD; keep the bearer token."""
        response = self.client.post("/api/auth/login", json={
            "username": os.environ["PRSM_USERNAME"], "password": os.environ["PRSM_PASSWORD"]})
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        self.keys = [f"locust-{uuid.uuid4().hex[:8]}-{i}" for i in range(20)]

    @task(3)
    def health(self) -> None:
        """GET /health."""
        self.client.get("/health")

    @task(5)
    def memory_roundtrip(self) -> None:
        """Set then get a key."""
        key = random.choice(self.keys)
        self.client.post("/api/memory/set", json={"key": key, "value": {"n": 1}},
                         headers=self.headers)
        self.client.post("/api/memory/get", json={"key": key}, headers=self.headers)

    @task(1)
    def generate(self) -> None:
        """A short LLM generation."""
        self.client.post("/api/llm/generate", json={"prompt": "hello", "max_tokens": 8},
                         headers=self.headers)
