"""Request bodies of the API (Pydantic): invalid input is a structured 422."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from reference_system.tasks import TASK_TYPES


class Strict(BaseModel):
    """Unknown fields are rejected, so typos surface as 422; integer fields are strict (no
    ``"10"``, ``true`` or ``10.0`` for an int)."""

    model_config = ConfigDict(extra="forbid")


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class MemorySet(Strict):
    key: str = Field(min_length=1, max_length=256)
    value: Any
    ttl: int | None = Field(default=None, ge=1, le=365 * 24 * 3600, strict=True)


class MemoryKey(Strict):
    key: str = Field(min_length=1, max_length=256)


class TaskSubmit(Strict):
    type: str = Field(pattern="^(" + "|".join(TASK_TYPES) + ")$")
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=0, ge=0, le=10, strict=True)


class Generate(Strict):
    prompt: str = Field(min_length=1, max_length=32_000)
    model: str = Field(default="prsm-tiny", min_length=1, max_length=128)
    max_tokens: int = Field(default=64, ge=1, le=2048, strict=True)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    use_cache: bool = True


class Inference(Strict):
    prompt: str = Field(min_length=1, max_length=32_000)
    max_tokens: int = Field(default=16, ge=1, le=2048, strict=True)
