"""Request bodies of the API (Pydantic): invalid input is a structured 422."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from reference_system.tasks import TASK_TYPES


def _no_coercion(value: Any) -> Any:
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON integer, not a string or a boolean")
    return value


# An integer field: a JSON integer (``34`` or ``34.0``), never ``"34"`` or ``true``.
Integer = Annotated[int, BeforeValidator(_no_coercion)]


class Strict(BaseModel):
    """Unknown fields are rejected, so typos surface as 422; integer fields are
    :data:`Integer` (no ``"10"`` or ``true`` for an int)."""

    model_config = ConfigDict(extra="forbid")


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class MemorySet(Strict):
    key: str = Field(min_length=1, max_length=256)
    value: Any
    ttl: Annotated[Annotated[int, Field(ge=1, le=365 * 24 * 3600)],
                   BeforeValidator(_no_coercion)] | None = None


class MemoryKey(Strict):
    key: str = Field(min_length=1, max_length=256)


class TaskSubmit(Strict):
    type: str = Field(pattern="^(" + "|".join(TASK_TYPES) + ")$")
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: Integer = Field(default=0, ge=0, le=10)


class Generate(Strict):
    prompt: str = Field(min_length=1, max_length=32_000)
    model: str = Field(default="prsm-tiny", min_length=1, max_length=128)
    max_tokens: Integer = Field(default=64, ge=1, le=2048)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    use_cache: bool = True


class Inference(Strict):
    prompt: str = Field(min_length=1, max_length=32_000)
    max_tokens: Integer = Field(default=16, ge=1, le=2048)
