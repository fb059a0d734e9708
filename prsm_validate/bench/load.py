"""``prsm-validate bench load``: load generator capacity per core, side by side in one run.

A fast HTTP server (uvloop, a fixed answer) runs pinned to core 0; each generator runs pinned
to core 1 against its one endpoint: this engine (closed model, HDR recording), plain Locust
FastHttpUser (no extra recording), and wrk (the ceiling, if installed). Median of ``--runs``.
Then the coordinated-omission demonstration (a server that stalls 1 s; closed vs open model
p99) and the reference API's ceiling for /health and memory get under this engine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
NAME = "load"
HELP = "Generator capacity per core: engine vs Locust FastHttpUser vs wrk; JSON on last line."
SERVER = """
import asyncio, sys, uvloop
BODY = b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nContent-Type: text/plain\\r\\n\\r\\nok"
class Answer(asyncio.Protocol):
    def connection_made(self, transport): self.t = transport
    def data_received(self, data): self.t.write(BODY * data.count(b"\\r\\n\\r\\n"))
async def main():
    server = await asyncio.get_running_loop().create_server(Answer, "127.0.0.1", int(sys.argv[1]))
    await server.serve_forever()
uvloop.run(main())
"""
PLAIN_LOCUST = """
from locust import FastHttpUser, constant, task
class Plain(FastHttpUser):
    wait_time = constant(0)
    @task
    def hit(self): self.client.get("/fast")
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of the load benchmark."""
    parser.add_argument("--runs", type=int, default=3, help="runs per generator (median)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--users", type=int, default=20, help="concurrent users/connections")
    parser.add_argument("--skip-api", action="store_true", help="skip the reference API part")


def _pinned(core: int) -> Callable[[], None]:
    """A preexec function pinning the child process to ``core``."""
    return lambda: os.sched_setaffinity(0, {core % (os.cpu_count() or 1)})


def _engine_rps(url: str, args: argparse.Namespace) -> float:
    from prsm_validate.load import engine

    result = _with_affinity(1, lambda: engine.run_load(
        url, [engine.Endpoint("fast", "GET", "/fast")], users=args.users,
        duration_s=args.seconds))
    return result.requests() / args.seconds


def _with_affinity(core: int, work: Callable[[], T]) -> T:
    """Run ``work`` with this process (and so its children) pinned to ``core``."""
    everything = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core % (os.cpu_count() or 1)})
    try:
        return work()
    finally:
        os.sched_setaffinity(0, everything)


def _locust_rps(url: str, args: argparse.Namespace, tmp: Path) -> float:
    locustfile = tmp / "plain.py"
    locustfile.write_text(PLAIN_LOCUST)
    csv = tmp / "plain"
    subprocess.run([sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
                    "-u", str(args.users), "-r", str(args.users),
                    "-t", f"{math.ceil(args.seconds)}s",
                    "--host", url, "--only-summary", "--csv", str(csv), "--loglevel", "ERROR"],
                   capture_output=True, timeout=args.seconds + 60, preexec_fn=_pinned(1))
    rows = (tmp / "plain_stats.csv").read_text().splitlines()
    header, total = rows[0].split(","), rows[-1].split(",")
    return float(total[header.index("Request Count")]) / args.seconds


def _wrk_rps(url: str, args: argparse.Namespace) -> float | None:
    if shutil.which("wrk") is None:
        return None
    out = subprocess.run(["wrk", "-t1", f"-c{args.users}", f"-d{int(args.seconds)}s",
                          f"{url}/fast"], capture_output=True, text=True,
                         timeout=args.seconds + 30, preexec_fn=_pinned(1)).stdout
    match = re.search(r"Requests/sec:\s*([\d.]+)", out)
    return float(match.group(1)) if match else None


def _median(measure: Callable[[], float | None], runs: int) -> float | None:
    values = [v for v in (measure() for _ in range(runs)) if v is not None]
    return round(statistics.median(values), 1) if values else None


def _generators(args: argparse.Namespace) -> dict[str, float | None]:
    from reference_system.ports import free_ports

    port = free_ports(1)[0]
    with tempfile.TemporaryDirectory(prefix="prsm-bench-load-") as tmp:
        script = Path(tmp) / "server.py"
        script.write_text(SERVER)
        server = subprocess.Popen([sys.executable, str(script), str(port)],
                                  preexec_fn=_pinned(0), start_new_session=True)
        try:
            time.sleep(0.5)
            url = f"http://127.0.0.1:{port}"
            return {"engine_rps_per_core": _median(lambda: _engine_rps(url, args), args.runs),
                    "locust_fast_rps_per_core": _median(
                        lambda: _locust_rps(url, args, Path(tmp)), args.runs),
                    "wrk_rps": _median(lambda: _wrk_rps(url, args), args.runs)}
        finally:
            server.kill()
            server.wait()


def _stall_demo() -> dict[str, float]:
    from prsm_validate.load.demo_server import SmallServer
    from prsm_validate.load.engine import Endpoint, run_load

    out = {}
    for model, settings in (("closed", {"users": 2}), ("open", {"rate": 100})):
        with SmallServer(stall=True) as server:
            result = run_load(server.url, [Endpoint("fast", "GET", "/fast")], model=model,
                              duration_s=3, **settings)
        out[f"stall_p99_ms_{model}"] = round(result.quantiles_ms()["p99"], 1)
    return out


def _api_ceiling(args: argparse.Namespace) -> dict[str, float]:
    import httpx

    from prsm_validate.load.engine import Endpoint, run_load
    from prsm_validate.targets.local import LocalTarget

    target = LocalTarget()
    deployment = target.start()
    try:
        assert deployment.credentials is not None
        token = httpx.post(f"{deployment.api_url}/api/auth/login", trust_env=False, json={
            "username": deployment.credentials.username,
            "password": deployment.credentials.password}).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        httpx.post(f"{deployment.api_url}/api/memory/set", headers=headers, trust_env=False,
                   json={"key": "bench", "value": 1})
        out = {}
        for name, endpoint in (("health", Endpoint("health", "GET", "/health")),
                               ("memory_get", Endpoint("memory_get", "POST", "/api/memory/get",
                                                       json={"key": "bench"}))):
            result = run_load(deployment.api_url, [endpoint], users=50, headers=headers,
                              duration_s=args.seconds)
            q = result.quantiles_ms()
            out |= {f"api_{name}_rps": round(result.requests() / args.seconds, 1),
                    f"api_{name}_p50_ms": round(q["p50"], 2),
                    f"api_{name}_p99_ms": round(q["p99"], 2),
                    f"api_{name}_failures": result.failures()}
        return out
    finally:
        target.stop()


def run(args: argparse.Namespace) -> int:
    """Measure and print JSON."""
    result: dict[str, object] = dict(_generators(args))
    print(f"generators: {result}", flush=True)
    result |= _stall_demo()
    print(f"stall demo: closed p99 {result['stall_p99_ms_closed']} ms, open p99 "
          f"{result['stall_p99_ms_open']} ms", flush=True)
    if not args.skip_api:
        result |= _api_ceiling(args)
    engine, locust = result["engine_rps_per_core"], result["locust_fast_rps_per_core"]
    if isinstance(engine, float) and isinstance(locust, float):
        result["engine_vs_locust"] = round(engine / locust, 3)
    print(json.dumps(result))
    return 0
