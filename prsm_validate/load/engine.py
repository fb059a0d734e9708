"""The load engine: Locust in its own processes, results merged back into pytest.

Closed model: ``users`` loop as fast as answers come (plus ``think_time_s``). Open model:
requests start at a constant ``rate`` or along ramping ``stages``, and latency counts from the
intended start, so a stalled server shows its real effect on users instead of fewer, faster
samples (coordinated omission). Distributed: a master and ``workers`` local worker processes;
``remote_workers`` more may join from other machines (:func:`worker_command`).

Every run is bounded: by its duration, by ``max_requests``, by a per-request ``timeout_s``, and
by a hard limit after which its processes are killed by process group (also on Ctrl-C or on
failure). The Locust processes never share the pytest process: gevent stays out of it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prsm_validate.errors import HarnessError
from prsm_validate.load.progress import Progress
from prsm_validate.load.recorder import SPEC_FILE_ENV, Recorder, split_key
from prsm_validate.load.result import LoadResult
from prsm_validate.load.schedule import Stage, total
from reference_system.ports import free_ports

__all__ = ["Endpoint", "LoadPlan", "LoadResult", "Stage", "remote_worker_command", "run_load",
           "worker_command"]
ENGINE = Path(__file__).with_name("locustfile_engine.py")
GRACE_S = 30.0  # beyond duration, stop timeout and worker wait: kill the run
STOP_TIMEOUT_S = 5


@dataclass(frozen=True)
class Endpoint:
    """One request the load sends, with its weight among the endpoints."""

    name: str
    method: str
    path: str
    json: Any = None
    weight: int = 1


@dataclass(frozen=True)
class LoadPlan:
    """How much load, of which model, from how many processes, within which bounds."""

    users: int = 10
    duration_s: float = 5.0
    model: str = "closed"  # closed | open
    rate: float | None = None  # open model: constant arrivals per second
    stages: tuple[Stage, ...] = ()  # open model: ramping arrival rate, from ``rate`` (or 0)
    spawn_rate: float | None = None  # closed model: users started per second (default: all)
    think_time_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    workers: int = 0  # local worker processes; 0 = a single local process
    remote_workers: int = 0  # workers started elsewhere with worker_command()
    master_host: str = "127.0.0.1"  # the address workers dial
    master_bind: str | None = None  # the interface the master listens on (default master_host)
    master_port: int | None = None
    worker_wait_s: float = 60.0  # how long the master waits for its workers
    max_requests: int = 1_000_000
    max_in_flight: int = 200  # open model: outstanding requests per process
    timeout_s: float = 10.0  # per request (connect and read)
    seed: int = 0
    progress: bool | None = None  # None: in an interactive terminal outside CI

    def __post_init__(self) -> None:
        if self.model not in ("closed", "open"):
            raise ValueError(f"model must be 'closed' or 'open', not {self.model!r}")
        if self.model == "open" and not (self.rate or self.stages):
            raise ValueError("the open model needs a rate (requests/s) or stages")
        if self.duration_s <= 0 or self.max_requests <= 0 or self.users <= 0:
            raise ValueError("duration_s, max_requests and users must be positive")
        object.__setattr__(self, "stages", tuple(
            s if isinstance(s, Stage) else Stage(*s) for s in self.stages))

    @property
    def schedule(self) -> tuple[Stage, ...]:
        """The open model's stages (a constant rate is one stage)."""
        return self.stages or (Stage(self.duration_s, float(self.rate or 0)),)

    @property
    def run_s(self) -> float:
        """Seconds of load: the schedule's length (open) or ``duration_s`` (closed)."""
        return sum(s.duration_s for s in self.schedule) if self.model == "open" else \
            self.duration_s

    @property
    def processes(self) -> int:
        """Processes generating load."""
        return max(1, self.workers + self.remote_workers)


class LoadCancelled(HarnessError, RuntimeError):
    """The run's ``cancel`` event was set: its processes were killed, it has no result."""


def run_load(base_url: str, endpoints: list[Endpoint],
             announce: Callable[[str], None] | None = None,
             cancel: threading.Event | None = None, **settings: Any) -> LoadResult:
    """Run one bounded load (settings: the fields of :class:`LoadPlan`), return its results.

    With ``remote_workers``, ``announce`` (default: a line on stderr) is given the command that
    joins a worker from another host, once the master listens. Setting ``cancel`` (from
    another thread) kills the run at once and raises :class:`LoadCancelled`."""
    plan = LoadPlan(**settings)
    if plan.model == "open" and total(plan.rate or 0, plan.schedule) > plan.max_requests:
        raise ValueError(f"the schedule sends more than max_requests={plan.max_requests}")
    port = plan.master_port or free_ports(1, plan.master_bind or plan.master_host)[0]
    with tempfile.TemporaryDirectory(prefix="prsm-load-") as tmp:
        files = _Files(Path(tmp))
        started = time.time()
        files.spec.write_text(json.dumps(_spec(plan, endpoints, files, started)))
        files.spec.chmod(0o600)  # it holds the bearer token
        procs = _start(plan, base_url, port, files)
        if plan.remote_workers:
            (announce or _to_stderr)(
                f"load: master on {plan.master_bind or plan.master_host}:{port} waits "
                f"{plan.worker_wait_s:g}s for {plan.remote_workers} remote worker(s); on each "
                f"worker host run: {remote_worker_command(plan.master_host, port)}")
        _wait(procs, plan, files, cancel)
        if not files.output.exists() or "Traceback" in files.log_tail():
            raise RuntimeError("load run failed; Locust said:\n" + files.log_tail())
        return _result(json.loads(files.output.read_text()), plan, started)


@dataclass(frozen=True)
class _Files:
    """The run's scratch files."""

    root: Path

    @property
    def spec(self) -> Path:
        return self.root / "spec.json"

    @property
    def output(self) -> Path:
        return self.root / "result.json"

    @property
    def status(self) -> Path:
        return self.root / "status.json"

    @property
    def log(self) -> Path:
        return self.root / "locust.log"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def requests_so_far(self) -> int:
        with contextlib.suppress(OSError, ValueError):
            return int(json.loads(self.status.read_text())["requests"])
        return 0


def _spec(plan: LoadPlan, endpoints: list[Endpoint], files: _Files, started: float
          ) -> dict[str, Any]:
    return {"endpoints": [asdict(e) for e in endpoints], "headers": plan.headers,
            "model": plan.model, "start_rate": plan.rate or 0.0,
            "stages": [[s.duration_s, s.target_rate] for s in plan.schedule],
            "think_time_s": plan.think_time_s, "max_requests": plan.max_requests,
            "max_in_flight": plan.max_in_flight, "timeout_s": plan.timeout_s,
            "seed": plan.seed, "processes": plan.processes, "epoch": started,
            "output": str(files.output), "status": str(files.status)}


def _locust_args(plan: LoadPlan, base_url: str) -> list[str]:
    user = "OpenModelUser" if plan.model == "open" else "ClosedModelUser"
    count = plan.processes if plan.model == "open" else plan.users
    # The open model's time limit leaves room for the last requests to be answered.
    run_time = math.ceil(plan.run_s + (min(plan.timeout_s, 2.0) if plan.model == "open" else 0))
    return [user, "--headless", "-u", str(count), "-r", str(plan.spawn_rate or count),
            "-t", f"{run_time}s", "--host", base_url, "--only-summary", "--loglevel", "WARNING",
            "--stop-timeout", str(STOP_TIMEOUT_S), "--exit-code-on-error", "0"]


def worker_command(master_host: str, master_port: int) -> list[str]:
    """The command that joins a worker (on any machine with prsm-validate installed) to a run
    whose master listens on ``master_host:master_port``; it needs no other configuration."""
    return [sys.executable, "-m", "locust", "-f", str(ENGINE), "--worker", "--master-host",
            master_host, "--master-port", str(master_port), "--loglevel", "WARNING"]


def remote_worker_command(master_host: str, master_port: int) -> str:
    """The worker command for another host (with prsm-validate installed there)."""
    return f"prsm-validate load-worker --master {master_host}:{master_port}"


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _popen(args: list[str], files: _Files, master: bool) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.pop(SPEC_FILE_ENV, None)
    if master:
        env[SPEC_FILE_ENV] = str(files.spec)
    with files.log.open("ab") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def _start(plan: LoadPlan, base_url: str, port: int, files: _Files
           ) -> list[subprocess.Popen[bytes]]:
    locust = [sys.executable, "-m", "locust", "-f", str(ENGINE), *_locust_args(plan, base_url)]
    if plan.workers + plan.remote_workers == 0:
        return [_popen(locust, files, master=True)]
    procs = [_popen([*locust, "--master", "--master-bind-host", plan.master_bind or
                     plan.master_host,
                     "--master-bind-port", str(port), "--expect-workers", str(plan.processes),
                     "--expect-workers-max-wait", str(int(plan.worker_wait_s))], files, True)]
    try:
        for _ in range(plan.workers):
            procs.append(_popen(worker_command(plan.master_host, port), files, master=False))
    except BaseException:
        _kill(procs)
        raise
    return procs


def _wait(procs: list[subprocess.Popen[bytes]], plan: LoadPlan, files: _Files,
          cancel: threading.Event | None = None) -> None:
    """Wait for the master (or lone process) while drawing progress; kill all at the limit."""
    limit = plan.run_s + STOP_TIMEOUT_S + GRACE_S + (plan.worker_wait_s if plan.workers or
                                                     plan.remote_workers else 0)
    progress = Progress(plan.run_s, f"load {plan.model}",
                        enabled=False if plan.progress is False else None)
    begun = time.monotonic()
    try:
        while procs[0].poll() is None:
            elapsed = time.monotonic() - begun
            if elapsed > limit:
                raise TimeoutError(f"load run still going after {limit:.0f}s; killed it\n"
                                   + files.log_tail())
            if cancel is not None and cancel.is_set():
                raise LoadCancelled("load run cancelled; its processes were killed")
            progress.update(min(elapsed, plan.run_s), files.requests_so_far())
            time.sleep(0.25 if progress.enabled else 0.05)
        for worker in procs[1:]:
            worker.wait(max(0.1, begun + limit - time.monotonic()))
    finally:
        progress.close()
        _kill(procs)


def _kill(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


def _result(data: dict[str, Any], plan: LoadPlan, started: float) -> LoadResult:
    merged = Recorder()
    merged.merge(data)
    per_second = {split_key(k): h for k, h in merged.histograms.items()}
    return LoadResult(plan.model, plan.run_s, started, per_second, merged.series,
                      merged.sources)
