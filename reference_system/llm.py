"""LLM inference: a deterministic built-in generator (no model download) or an Ollama server.

The built-in generator derives its words from a hash of (model, prompt, temperature), so the
same request always yields the same text: scenarios can assert on it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx

BUILTIN_MODELS = ("prsm-tiny", "prsm-small")
_VOCABULARY = (
    "the model routes each request to the nearest healthy node and records its latency "
    "while consensus orders tasks across replicas so every ledger transfer executes once "
    "edge devices publish telemetry that lands durably in the database within seconds"
).split()


@dataclass(frozen=True)
class Generation:
    """One generated response."""

    text: str
    model: str
    location: str


def builtin_generate(prompt: str, model: str, max_tokens: int, temperature: float) -> Generation:
    """Deterministic text of ``max_tokens`` words for the given request."""
    seed = hashlib.sha256(f"{model}\0{prompt}\0{temperature:.3f}".encode()).digest()
    words = []
    block = seed
    while len(words) < max_tokens:
        block = hashlib.sha256(block).digest()
        words.extend(_VOCABULARY[b % len(_VOCABULARY)] for b in block)
    return Generation(" ".join(words[:max_tokens]), model, "cloud")


async def ollama_generate(url: str, prompt: str, model: str, max_tokens: int,
                          temperature: float, timeout_s: float = 60.0) -> Generation:
    """Generate with an Ollama server at ``url`` (non-streaming)."""
    body = {"model": model, "prompt": prompt, "stream": False,
            "options": {"num_predict": max_tokens, "temperature": temperature}}
    async with httpx.AsyncClient(timeout=timeout_s) as client:
        response = await client.post(url.rstrip("/") + "/api/generate", json=body)
        response.raise_for_status()
        return Generation(response.json()["response"], model, "ollama")


def cache_key(prompt: str, model: str, max_tokens: int, temperature: float) -> str:
    """The response-cache key of a generation request."""
    raw = json.dumps([prompt, model, max_tokens, round(temperature, 3)])
    return "llm:" + hashlib.sha256(raw.encode()).hexdigest()


def response_body(gen: Generation, started: float, cached: bool) -> dict[str, Any]:
    """The API's response shape, identical for cache hits and misses."""
    return {"response": gen.text, "model": gen.model, "location": gen.location,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3), "cached": cached}
