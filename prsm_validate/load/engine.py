"""The load engine: Locust in its own processes, results merged back into pytest.

Closed model: ``users`` loop as fast as answers come. Open model: requests start at a fixed
arrival ``rate`` and latency counts from the intended start, so a stalled server shows its real
effect on users instead of fewer, faster samples (coordinated omission). Distributed: a master
and ``workers`` local worker processes (remote workers can join the same master address).
Every run is bounded by its duration plus a grace period, and its processes are killed by
process group if they overrun, on Ctrl-C, or on failure.
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
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from prsm_validate.load.recorder import Recorder, new_histogram, split_key
from prsm_validate.targets.ports import free_ports

ENGINE = Path(__file__).with_name("locustfile_engine.py")
GRACE_S = 30.0


@dataclass(frozen=True)
class Endpoint:
    """One request the load sends, with its weight."""

    name: str
    method: str
    path: str
    json: Any = None
    weight: int = 1


@dataclass
class LoadResult:
    """Merged results of a load run."""

    model: str
    duration_s: float
    per_second: dict[tuple[str, int], HdrHistogram] = field(default_factory=dict)
    series: dict[int, dict[str, list[int]]] = field(default_factory=dict)

    def histogram(self, name: str | None = None) -> HdrHistogram:
        """All latencies (of one endpoint, or of every endpoint) over the run."""
        total = new_histogram()
        for (endpoint, _), hist in self.per_second.items():
            if name is None or endpoint == name:
                total.add(hist)
        return total

    def requests(self, name: str | None = None) -> int:
        """Requests completed."""
        return sum(c[0] for sec in self.series.values() for n, c in sec.items()
                   if name is None or n == name)

    def failures(self, name: str | None = None) -> int:
        """Requests that failed (HTTP >= 400 or no answer)."""
        return sum(c[1] for sec in self.series.values() for n, c in sec.items()
                   if name is None or n == name)

    def quantiles_ms(self, name: str | None = None) -> dict[str, float]:
        """p50, p95, p99, max in milliseconds (exact to 3 significant digits)."""
        hist = self.histogram(name)
        out = {f"p{p}": hist.get_value_at_percentile(p) / 1000 for p in (50, 95, 99)}
        out["max"] = hist.get_max_value() / 1000
        return out

    def summary(self) -> dict[str, Any]:
        """JSON-safe figures for reports."""
        return {"model": self.model, "requests": self.requests(), "failures": self.failures(),
                "rps": round(self.requests() / max(self.duration_s, 1e-9), 1),
                **{k: round(v, 3) for k, v in self.quantiles_ms().items()}}

    def record_into(self, store: Any, metric: str = "http_req_duration") -> None:
        """Feed every latency (per endpoint, per second) and failure into a MetricStore."""
        for (endpoint, second), hist in self.per_second.items():
            series = store._series(metric, "trend", {"name": endpoint})
            for item in hist.get_recorded_iterator():
                for _ in range(item.count_added_in_this_iter_step):
                    series.add(float(second), item.value_iterated_to / 1000)
        for second, names in self.series.items():
            for endpoint, (count, failures) in names.items():
                series = store._series("http_req_failed", "rate", {"name": endpoint})
                for index in range(count):
                    series.add(float(second), 1.0 if index < failures else 0.0)


def _spec(endpoints: list[Endpoint], **settings: Any) -> dict[str, Any]:
    return {"endpoints": [e.__dict__ for e in endpoints], **settings}


def _locust(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "locust", "-f", str(ENGINE), *args],
                                env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)


def run_load(base_url: str, endpoints: list[Endpoint], *, users: int = 10,
             duration_s: float = 5.0, model: str = "closed", rate: float | None = None,
             headers: dict[str, str] | None = None, workers: int = 0, seed: int = 0,
             spawn_rate: float | None = None, max_in_flight: int = 200) -> LoadResult:
    """Run one bounded load and return its merged results."""
    if model not in ("closed", "open") or (model == "open" and not rate):
        raise ValueError("model must be 'closed', or 'open' with a rate (requests/s)")
    processes = max(1, workers)
    with tempfile.TemporaryDirectory(prefix="prsm-load-") as tmp:
        output = Path(tmp) / "result.json"
        spec = _spec(endpoints, model=model, rate=rate, duration_s=duration_s, seed=seed,
                     headers=headers or {}, output=str(output), processes=processes,
                     max_in_flight=max_in_flight)
        env = {**os.environ, "PRSM_LOAD_SPEC": json.dumps(spec)}
        count = processes if model == "open" else users
        run_time = math.ceil(duration_s + (2 if model == "open" else 0))
        common = ["--headless", "-u", str(count), "-r", str(spawn_rate or count), "-t",
                  f"{run_time}s", "--host", base_url,
                  "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5",
                  "--exit-code-on-error", "0"]
        procs = _start(common, workers, env, Path(tmp) / "locust.log")
        _wait(procs, duration_s + GRACE_S, Path(tmp) / "locust.log", duration_s)
        if not output.exists():
            log = (Path(tmp) / "locust.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"load run wrote no results; Locust said:\n{log}")
        return _result(json.loads(output.read_text()), model, duration_s)


def _start(common: list[str], workers: int, env: dict[str, str], log: Path
           ) -> list[subprocess.Popen[bytes]]:
    if workers == 0:
        return [_locust(common, env, log)]
    port = free_ports(1)[0]
    master = _locust([*common, "--master", "--master-bind-host", "127.0.0.1",
                      "--master-bind-port", str(port), "--expect-workers", str(workers)],
                     env, log)
    return [master] + [_locust(["--worker", "--master-host", "127.0.0.1", "--master-port",
                                str(port), "--loglevel", "WARNING"], env, log)
                       for _ in range(workers)]


def _interactive() -> bool:
    """A progress line only for a person at a terminal; CI and pipes stay quiet."""
    return sys.stderr.isatty() and os.environ.get("CI", "").lower() not in ("1", "true", "yes")


def _progress(started: float, planned_s: float) -> None:
    done = min(planned_s, time.monotonic() - started)
    bar = "#" * int(20 * done / max(planned_s, 1e-9))
    sys.stderr.write(f"\rload [{bar:<20}] {done:4.0f}/{planned_s:.0f}s")
    sys.stderr.flush()


def _wait(procs: list[subprocess.Popen[bytes]], limit_s: float, log: Path,
          planned_s: float = 0.0) -> None:
    started = time.monotonic()
    deadline = started + limit_s
    try:
        while _interactive() and procs[0].poll() is None and time.monotonic() < deadline:
            _progress(started, planned_s)
            time.sleep(0.5)
        if _interactive():
            sys.stderr.write("\n")
        for proc in procs:
            proc.wait(max(0.1, deadline - time.monotonic()))
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        _kill(procs)
        raise
    finally:
        _kill(procs)


def _kill(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _result(data: dict[str, Any], model: str, duration_s: float) -> LoadResult:
    merged = Recorder()
    merged.merge(data)
    per_second = {split_key(k): h for k, h in merged.histograms.items()}
    return LoadResult(model, duration_s, per_second, merged.series)
