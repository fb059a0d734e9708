"""HTTP routes of the prime-spark contract: health, auth, memory, tasks, LLM."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from reference_system import llm
from reference_system.api import health as probes
from reference_system.api.auth import User, authenticate, issue_token
from reference_system.api.errors import COMMON, ApiError, declared
from reference_system.api.models import (
    Generate,
    Inference,
    LoginRequest,
    MemoryKey,
    MemorySet,
    TaskSubmit,
)
from reference_system.api.strict import CleanPath, StrictRoute

router = APIRouter(responses=declared(*COMMON), route_class=StrictRoute)


def owned(user: str, key: str) -> str:
    """The stored name of ``user``'s memory key: each user has a namespace of their own (the
    length prefix keeps ``("a", "b/c")`` and ``("a/b", "c")`` apart)."""
    return f"{len(user)}:{user}/{key}"


@router.get("/health", responses={503: {"description": "a required component is down "
                                                      "(the same body as 200)"}})
async def health(request: Request) -> JSONResponse:
    """Per-component status; 503 when a required component is down."""
    state = request.app.state
    if getattr(state, "draining", False):  # stopping: balancers take us out (see api.serve)
        return JSONResponse({"status": "draining", "version": state.settings.version}, 503,
                            headers={"X-Draining": "true", "Connection": "close"})
    timeout = state.settings.dependency_timeout_s
    checks: dict[str, probes.Check] = {
        "postgres": lambda: probes.postgres_check(state.pool),
        "redis": state.redis.ping,
    }
    if state.settings.nats_url:
        checks["nats"] = lambda: probes.nats_check(state.settings.nats_url)
    if state.ordering.enabled:
        checks["consensus"] = state.ordering.check
    results = await asyncio.gather(*(state.probes.probe(name, check, timeout)
                                     for name, check in checks.items()))
    components = dict(zip(checks, results, strict=True))
    status, code = probes.overall(components)
    return JSONResponse({"status": status, "version": state.settings.version,
                         "components": components}, code)


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    """Prometheus exposition of the API's registry."""
    return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)


@router.post("/api/auth/login", responses=declared(401, 429))
async def login(body: LoginRequest, request: Request) -> dict[str, Any]:
    """Exchange username and password for a bearer token."""
    settings, guard = request.app.state.settings, request.app.state.login_guard
    wait = guard.retry_after(body.username)
    if wait:
        raise ApiError(429, "too many failed logins for this username",
                       headers={"Retry-After": str(wait)})
    # scrypt is deliberately slow: keep it off the event loop.
    ok = await asyncio.to_thread(authenticate, settings, body.username, body.password)
    if not ok:
        guard.failed(body.username)
        raise ApiError(401, "invalid username or password", headers={"WWW-Authenticate": "Bearer"})
    guard.succeeded(body.username)
    token = issue_token(settings, body.username)
    return {"access_token": token, "token_type": "bearer", "expires_in": settings.jwt_ttl_s}


@router.get("/api/auth/me", responses=declared(401))
async def me(user: User, request: Request) -> dict[str, Any]:
    """The authenticated user."""
    return {"username": user, "issuer": request.app.state.settings.jwt_issuer}


@router.post("/api/memory/set", responses=declared(401))
async def memory_set(body: MemorySet, user: User, request: Request) -> dict[str, Any]:
    """Store a value in all three tiers (durably first)."""
    await request.app.state.memory.set(owned(user, body.key), body.value, body.ttl)
    return {"key": body.key, "stored": True, "ttl": body.ttl}


@router.post("/api/memory/get", responses=declared(401, 404))
async def memory_get(body: MemoryKey, user: User, request: Request) -> dict[str, Any]:
    """Read a value through L1 -> L2 -> L3; the response names the serving tier."""
    found, value, tier = await request.app.state.memory.get(owned(user, body.key))
    if not found:
        raise ApiError(404, f"no value for key {body.key!r}")
    return {"key": body.key, "value": value, "tier": tier}


@router.delete("/api/memory/{key}", responses=declared(401, 404))
async def memory_delete(key: CleanPath, user: User, request: Request) -> dict[str, Any]:
    """Delete a key from every tier."""
    if not await request.app.state.memory.delete(owned(user, key)):
        raise ApiError(404, f"no value for key {key!r}")
    return {"key": key, "deleted": True}


@router.get("/api/memory/stats", responses=declared(401))
async def memory_stats(user: User, request: Request) -> dict[str, Any]:
    """Hits, misses and hit ratio per tier, L1 size and capacity, durable item count."""
    memory = request.app.state.memory
    tiers = {name: {"hits": s.hits, "misses": s.misses, "hit_ratio": s.ratio()}
             for name, s in memory.stats.items()}
    return {"tiers": tiers, "l1_size": len(memory.l1), "l1_capacity": memory.l1.capacity,
            "items": await memory.item_count()}


@router.post("/api/tasks/submit", responses=declared(401, 409))
async def task_submit(body: TaskSubmit, user: User, request: Request) -> dict[str, Any]:
    """Queue a task (ordered through consensus when a cluster is configured); it is durable
    when this returns."""
    state = request.app.state
    task_id, assignment = str(uuid.uuid4()), None
    if state.ordering.enabled:
        assignment = await _order_task(state.ordering, task_id, body)
    await state.tasks.submit(user, body.type, body.payload, body.priority, task_id, assignment)
    return {"task_id": task_id, "status": "queued", "assignment": assignment}


async def _order_task(ordering: Any, task_id: str, body: TaskSubmit) -> dict[str, Any]:
    result = await ordering.submit({"op": "task_submit", "id": task_id, "type": body.type,
                                    "payload": body.payload, "priority": body.priority})
    if not result.get("ok"):
        raise ApiError(409, f"task {task_id} not ordered: {result.get('error')}")
    task = result["task"]
    return {"seq": task["seq"], "position": task["position"], "worker": task["worker"]}


@router.get("/api/tasks/{task_id}", responses=declared(401, 404))
async def task_status(task_id: CleanPath, user: User, request: Request) -> dict[str, Any]:
    """A task's status and result."""
    task = await request.app.state.tasks.get(user, _task_uuid(task_id))
    if task is None:
        raise ApiError(404, f"no task {task_id}")
    return task


@router.delete("/api/tasks/{task_id}", responses=declared(401, 404, 409))
async def task_cancel(task_id: CleanPath, user: User, request: Request) -> dict[str, Any]:
    """Cancel a queued or running task; 409 if it already finished."""
    status = await request.app.state.tasks.cancel(user, _task_uuid(task_id))
    if status is None:
        raise ApiError(404, f"no task {task_id}")
    if status != "cancelled":
        raise ApiError(409, f"task {task_id} already {status}")
    return {"task_id": task_id, "status": status}


@router.post("/api/llm/generate", responses=declared(401, 404))
async def generate(body: Generate, user: User, request: Request) -> dict[str, Any]:
    """Generate text; identical repeated requests are served from the response cache."""
    started = time.perf_counter()
    state = request.app.state
    key = llm.cache_key(body.prompt, body.model, body.max_tokens, body.temperature)
    if body.use_cache:
        cached = await state.redis.get(key)
        if cached is not None:
            return llm.response_body(llm.Generation(**json.loads(cached)), started, True)
    gen = await _generate(state, body)
    if body.use_cache:
        await state.redis.set(key, json.dumps(gen.__dict__), ex=3600)
    return llm.response_body(gen, started, False)


@router.post("/api/inference", responses=declared(401))
async def inference(body: Inference, user: User, request: Request) -> dict[str, Any]:
    """Inference at the edge when healthy, else in the cloud; the answer says which."""
    return await request.app.state.router.infer(body.prompt, body.max_tokens)


@router.get("/api/telemetry/{device}", responses=declared(401, 404))
async def telemetry_readings(device: CleanPath, user: User, request: Request,
                             limit: int = 100) -> dict[str, Any]:
    """The latest landed telemetry of ``device`` and how many readings have landed."""
    limit = max(1, min(limit, 1000))
    async with request.app.state.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT seq, extract(epoch FROM published_at), extract(epoch FROM landed_at), cpu, "
            "memory, disk, battery, temperature, inference_count FROM telemetry "
            "WHERE device = %s ORDER BY seq DESC LIMIT %s", (device, limit))
        rows = await cur.fetchall()
        count = await (await conn.execute(
            "SELECT count(*) FROM telemetry WHERE device = %s", (device,))).fetchone()
    if not rows:
        raise ApiError(404, f"no telemetry for device {device!r}")
    fields = ("seq", "published_at", "landed_at", "cpu", "memory", "disk", "battery",
              "temperature", "inference_count")
    readings = [dict(zip(fields, (float(v) if i in (1, 2) else v for i, v in enumerate(row)),
                         strict=True)) for row in rows]
    return {"device": device, "count": count[0] if count else 0, "readings": readings}


async def _generate(state: Any, body: Generate) -> llm.Generation:
    if state.settings.ollama_url:
        return await llm.ollama_generate(state.settings.ollama_url, body.prompt, body.model,
                                         body.max_tokens, body.temperature)
    if body.model not in llm.BUILTIN_MODELS:
        # 404: the body is well-formed, the model it names does not exist here
        raise ApiError(404, f"no model {body.model!r}; built-in: {list(llm.BUILTIN_MODELS)}")
    return llm.builtin_generate(body.prompt, body.model, body.max_tokens, body.temperature)


def _task_uuid(task_id: str) -> str:
    try:
        return str(uuid.UUID(task_id))
    except ValueError:
        raise ApiError(404, f"no task {task_id}") from None
