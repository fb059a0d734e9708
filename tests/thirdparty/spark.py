"""Spark Edge Gateway: a small, independent implementation of the prime-spark contract, written
the way a third party would, to validate the harness against a deployment not written here.

It differs from the reference system on purpose: task statuses ``pending / in_progress /
succeeded / errored / revoked``, string priorities (``low / normal / high``), FastAPI's default
``{"detail": ...}`` error bodies, its own task types (``noop``, ``wait``, ``checksum``), no FTNS,
an in-process memory store, and its own OpenAPI document. Tasks live in SQLite and are run by
separate worker processes that claim them with a lease (a killed worker's task is taken over
when its lease runs out).

Defects, for the harness's own tests, switched on by ``SPARK_DEFECTS=a,b``:
``contract`` (delete answers a string where its schema says boolean), ``availability``
(cancelling a running task crashes: 500), ``sla`` (a read of a missing key blocks the event
loop for 0.5 s), ``security`` (token signatures are not verified), ``failover`` (workers never
take over an expired lease: a killed worker's task is lost).

    python spark.py api --dir D --port P      # SPARK_USERS='{"ann": "pw"}' SPARK_SECRET=...
    python spark.py worker --dir D --name worker-0 [--detach]
    python spark.py kill --dir D --name worker-0
"""

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

DEFECTS = set(filter(None, os.environ.get("SPARK_DEFECTS", "").split(",")))
LEASE_S, HEARTBEAT_S = 1.5, 0.3
RANK = {"low": 0, "normal": 1, "high": 2}
SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, owner TEXT, type TEXT, payload TEXT,
  priority TEXT, rank INTEGER, status TEXT, result TEXT, worker TEXT, attempts INTEGER DEFAULT 0,
  lease_until REAL DEFAULT 0, created REAL)
"""


def connect(folder: Path) -> sqlite3.Connection:
    """The shared task database (WAL: the API reads while workers write)."""
    db = sqlite3.connect(folder / "tasks.db", timeout=10, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(SCHEMA)
    return db


# --- the API ------------------------------------------------------------------------------

def create_app(folder: Path) -> Any:
    """The FastAPI application."""
    import jwt
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import JSONResponse, PlainTextResponse, Response
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from prometheus_client import CollectorRegistry, Counter, generate_latest
    from pydantic import BaseModel, Field

    secret = os.environ["SPARK_SECRET"]
    users: dict[str, str] = json.loads(os.environ["SPARK_USERS"])
    app = FastAPI(title="Spark Edge Gateway", version="2.3.1", docs_url=None, redoc_url=None)
    registry = CollectorRegistry()
    served = Counter("spark_requests", "requests served", ["path"], registry=registry)
    memory: dict[str, tuple[Any, float | None]] = {}
    cache: dict[str, dict[str, Any]] = {}
    db = connect(folder)
    bearer = HTTPBearer(auto_error=False)

    class Detail(BaseModel):
        detail: str

    def err(*codes: int) -> dict[int | str, Any]:
        return {c: {"model": Detail} for c in codes}

    def user(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> str:
        if creds is None:
            raise HTTPException(401, "not authenticated", {"WWW-Authenticate": "Bearer"})
        try:
            claims = jwt.decode(creds.credentials, secret, algorithms=["HS256"],
                                options={"verify_signature": "security" not in DEFECTS})
        except jwt.PyJWTError:
            raise HTTPException(401, "invalid token", {"WWW-Authenticate": "Bearer"}) from None
        return str(claims.get("sub"))

    User = Annotated[str, Depends(user)]

    class Count:  # plain ASGI: BaseHTTPMiddleware costs a millisecond per request
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                served.labels(scope["path"]).inc()
            await self.inner(scope, receive, send)

    app.add_middleware(Count)

    class Login(BaseModel):
        username: str
        password: str

    class Token(BaseModel):
        access_token: str
        token_type: str
        expires_in: int

    class Health(BaseModel):
        status: str
        version: str

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        return Health(status="healthy", version=app.version)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    @app.post("/api/auth/login", response_model=Token, responses=err(401))
    async def login(body: Login) -> Token:
        if users.get(body.username) != body.password:
            raise HTTPException(401, "bad credentials", {"WWW-Authenticate": "Bearer"})
        now = int(time.time())
        token = jwt.encode({"sub": body.username, "iat": now, "exp": now + 600}, secret,
                           algorithm="HS256")
        return Token(access_token=token, token_type="Bearer", expires_in=600)

    class Me(BaseModel):
        username: str

    @app.get("/api/auth/me", response_model=Me, responses=err(401))
    async def me(who: User) -> Me:
        return Me(username=who)

    class MemorySet(BaseModel):
        key: str = Field(min_length=1)
        value: Any
        ttl: int | None = Field(default=None, ge=1)

    class Stored(BaseModel):
        key: str
        stored: bool

    class MemoryGet(BaseModel):
        key: str

    class Value(BaseModel):
        key: str
        value: Any

    class Deleted(BaseModel):
        key: str
        deleted: bool

    class Stats(BaseModel):
        keys: int

    def live(key: str) -> bool:
        found = memory.get(key)
        if found is not None and found[1] is not None and found[1] < time.monotonic():
            del memory[key]
        return key in memory

    @app.post("/api/memory/set", response_model=Stored, responses=err(401))
    async def memory_set(body: MemorySet, who: User) -> Stored:
        # Found by the harness's hostile-input scenario: a lone UTF-16 surrogate was stored,
        # then every read of it answered 500 (a JSON reply is UTF-8).
        try:
            json.dumps(body.value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise HTTPException(422, "the value holds text not encodable as UTF-8") from None
        expires = None if body.ttl is None else time.monotonic() + body.ttl
        memory[f"{who}:{body.key}"] = (body.value, expires)
        return Stored(key=body.key, stored=True)

    @app.post("/api/memory/get", response_model=Value, responses=err(401, 404))
    async def memory_get(body: MemoryGet, who: User) -> Value:
        if not live(f"{who}:{body.key}"):
            if "sla" in DEFECTS:
                time.sleep(0.5)  # a blocking lookup in the event loop
            raise HTTPException(404, "no such key")
        return Value(key=body.key, value=memory[f"{who}:{body.key}"][0])

    @app.delete("/api/memory/{key}", response_model=Deleted, responses=err(401, 404))
    async def memory_delete(key: str, who: User) -> Deleted | JSONResponse:
        if not live(f"{who}:{key}"):
            raise HTTPException(404, "no such key")
        del memory[f"{who}:{key}"]
        if "contract" in DEFECTS:  # bypasses the response model: the body breaks its schema
            return JSONResponse({"key": key, "deleted": "yes"})
        return Deleted(key=key, deleted=True)

    @app.get("/api/memory/stats", response_model=Stats, responses=err(401))
    async def memory_stats(who: User) -> Stats:
        return Stats(keys=sum(1 for k in list(memory) if k.startswith(f"{who}:") and live(k)))

    class Submit(BaseModel):
        type: Literal["noop", "wait", "checksum"]
        payload: dict[str, Any] = Field(default_factory=dict)
        priority: Literal["low", "normal", "high"] = "normal"

    class Submitted(BaseModel):
        task_id: str
        status: str

    class TaskView(BaseModel):
        task_id: str
        type: str
        status: str
        priority: str
        result: Any = None
        worker: str | None = None
        attempts: int

    @app.post("/api/tasks/submit", response_model=Submitted, responses=err(401))
    async def task_submit(body: Submit, who: User) -> Submitted:
        task_id = str(uuid.uuid4())
        db.execute("INSERT INTO tasks (id, owner, type, payload, priority, rank, status, "
                   "created) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                   (task_id, who, body.type, json.dumps(body.payload), body.priority,
                    RANK[body.priority], time.time()))
        return Submitted(task_id=task_id, status="pending")

    def task_row(task_id: str, who: str) -> TaskView:
        row = db.execute("SELECT id, type, status, priority, result, worker, attempts FROM tasks "
                         "WHERE id = ? AND owner = ?", (task_id, who)).fetchone()
        if row is None:
            raise HTTPException(404, "no such task")
        return TaskView(task_id=row[0], type=row[1], status=row[2], priority=row[3],
                        result=json.loads(row[4]) if row[4] else None, worker=row[5],
                        attempts=row[6])

    @app.get("/api/tasks/{task_id}", response_model=TaskView, responses=err(401, 404))
    async def task_status(task_id: str, who: User) -> TaskView:
        return task_row(task_id, who)

    @app.delete("/api/tasks/{task_id}", response_model=TaskView, responses=err(401, 404, 409))
    async def task_cancel(task_id: str, who: User) -> TaskView:
        task = task_row(task_id, who)
        if task.status in ("succeeded", "errored", "revoked"):
            raise HTTPException(409, f"task already {task.status}")
        if task.status == "in_progress" and "availability" in DEFECTS:
            raise RuntimeError("worker handle lost")  # an unhandled error: plain-text 500
        db.execute("UPDATE tasks SET status = 'revoked' WHERE id = ?", (task_id,))
        return task_row(task_id, who)

    class Generate(BaseModel):
        prompt: str
        model: str
        max_tokens: int = 32
        temperature: float = 0.0
        use_cache: bool = True

    class Generated(BaseModel):
        response: str
        model: str
        location: str
        latency_ms: float
        cached: bool

    @app.post("/api/llm/generate", response_model=Generated, responses=err(401, 404))
    async def generate(body: Generate, who: User) -> Generated:
        started = time.perf_counter()
        if body.model != "spark-mini":
            raise HTTPException(404, f"model {body.model} not found")
        key = hashlib.sha256(f"{body.prompt}|{body.max_tokens}|{body.temperature}".encode()
                             ).hexdigest()
        if body.use_cache and key in cache:
            return Generated(**{**cache[key], "cached": True,
                                "latency_ms": (time.perf_counter() - started) * 1000})
        words = [hashlib.md5(f"{key}{i}".encode()).hexdigest()[:5] for i in range(
            min(body.max_tokens, 64))]
        answer = {"response": " ".join(words), "model": body.model, "location": "cloud"}
        if body.use_cache:
            cache[key] = answer
        return Generated(**answer, cached=False,
                         latency_ms=(time.perf_counter() - started) * 1000)

    return app


# --- the workers --------------------------------------------------------------------------

def claim(db: sqlite3.Connection, name: str) -> tuple[str, str, dict[str, Any], int] | None:
    """Take the most urgent pending task, or one whose worker's lease ran out."""
    now = time.time()
    takeover = "" if "failover" in DEFECTS else (
        " OR (status = 'in_progress' AND lease_until < :now)")
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute(f"SELECT id, type, payload, attempts FROM tasks WHERE status = "
                         f"'pending'{takeover} ORDER BY rank DESC, created LIMIT 1",
                         {"now": now}).fetchone()
        if row is not None:
            db.execute("UPDATE tasks SET status = 'in_progress', worker = ?, attempts = ?, "
                       "lease_until = ? WHERE id = ?", (name, row[3] + 1, now + LEASE_S, row[0]))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return None if row is None else (row[0], row[1], json.loads(row[2]), row[3] + 1)


def execute(db: sqlite3.Connection, task: tuple[str, str, dict[str, Any], int],
            name: str) -> None:
    """Run one claimed task, renewing its lease; complete it unless it was taken away."""
    task_id, kind, payload, attempt = task
    if kind == "wait":
        end = time.monotonic() + min(float(payload.get("duration_s", 1)), 60)
        while time.monotonic() < end:
            renewed = db.execute("UPDATE tasks SET lease_until = ? WHERE id = ? AND worker = ? "
                                 "AND attempts = ? AND status = 'in_progress'",
                                 (time.time() + LEASE_S, task_id, name, attempt)).rowcount
            if not renewed:
                return  # revoked, or taken over
            time.sleep(min(HEARTBEAT_S, max(0.0, end - time.monotonic())))
        result: Any = {"waited_s": payload.get("duration_s", 1)}
    elif kind == "checksum":
        result = {"sha256": hashlib.sha256(json.dumps(payload).encode()).hexdigest()}
    else:
        result = {}
    db.execute("UPDATE tasks SET status = 'succeeded', result = ? WHERE id = ? AND worker = ? "
               "AND attempts = ? AND status = 'in_progress'",
               (json.dumps(result), task_id, name, attempt))


def work(folder: Path, name: str) -> None:
    """Claim and run tasks until the folder's ``alive`` flag disappears."""
    db = connect(folder)
    while (folder / "alive").exists():
        task = claim(db, name)
        if task is None:
            time.sleep(0.02)
            continue
        execute(db, task, name)


def start_worker(folder: Path, name: str) -> None:
    """(Re)start worker ``name`` detached, in its own process group; pid in ``<name>.pid``."""
    pid_file = folder / f"{name}.pid"
    if pid_file.exists():
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.killpg(int(pid_file.read_text()), 9)
    with (folder / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen([sys.executable, __file__, "worker", "--dir", str(folder),
                                 "--name", name], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    pid_file.write_text(str(proc.pid))


def main(argv: list[str] | None = None) -> None:
    """``api`` or ``worker``."""
    parser = argparse.ArgumentParser(prog="spark")
    parser.add_argument("role", choices=["api", "worker", "kill"])
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--name", default="worker-0")
    parser.add_argument("--detach", action="store_true")
    args = parser.parse_args(argv)
    if args.role == "kill":  # SIGKILL the worker's process group
        os.killpg(int((args.dir / f"{args.name}.pid").read_text()), 9)
        return
    if args.role == "worker":
        start_worker(args.dir, args.name) if args.detach else work(args.dir, args.name)
        return
    import gc

    import uvicorn

    gc.collect()
    gc.freeze()  # the startup heap (FastAPI, pydantic models) out of every later collection
    asyncio.run(uvicorn.Server(uvicorn.Config(create_app(args.dir), host="127.0.0.1",
                                              port=args.port, log_level="warning")).serve())


if __name__ == "__main__":
    main()
