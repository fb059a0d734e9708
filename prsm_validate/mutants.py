"""Planted defects: the harness's self-test (``prsm-validate mutants``).

Each mutant is one small, realistic bug applied to a scratch copy of ``reference_system`` (never
to the shipped code): the scenarios run with that copy first on ``PYTHONPATH``, so every
process the target starts imports the defective code. A mutant is detected when the scenarios
it names fail; the unmodified system must pass the same scenarios (else: a false alarm).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import reference_system

SOURCE = Path(reference_system.__file__).parent
REQUIRE = '"require": _REQUIRED_CLAIMS'
CONSENSUS = "scenarios/consensus/test_consensus.py"
BYZANTINE = "scenarios/byzantine/test_byzantine.py"
PARTITION = "scenarios/partition/test_partitions.py"
SECURITY = "scenarios/security"
BYZZFUZZ = "scenarios/byzantine/test_byzzfuzz.py"


def byzzfuzz(schedule: str) -> str:
    """The node id of one named schedule of the ByzzFuzz scenario."""
    return (f"{BYZZFUZZ}::test_byzzfuzz_schedule_keeps_honest_replicas_safe_and_live"
            f"[{schedule}]")



@dataclass(frozen=True)
class Mutant:
    """A defect: replace ``old`` (which must occur exactly once) by ``new`` in ``file``."""

    id: str
    description: str
    file: str
    old: str
    new: str
    scenarios: tuple[str, ...]


MUTANTS: tuple[Mutant, ...] = (
    Mutant("memory-lost-update", "an overwrite never reaches the durable tier", "memory.py",
           'ON CONFLICT (key) DO UPDATE SET "', 'ON CONFLICT (key) DO NOTHING --"',
           ("scenarios/integration/test_memory.py",)),
    Mutant("memory-no-backfill", "a read from L2 does not back-fill L1", "memory.py",
           'if self._count("l2", found):\n            self.l1.put(key, value, ttl)\n',
           'if self._count("l2", found):\n', ("scenarios/integration/test_memory.py",)),
    Mutant("memory-delete-keeps-l2", "delete forgets the Redis copy", "memory.py",
           "await self.redis.delete(_REDIS_PREFIX + key)", "pass",
           ("scenarios/integration/test_memory.py",)),
    Mutant("memory-l3-not-durable", "the durable copy expires at once", "memory.py",
           "(key, Jsonb(value), ttl_s)", "(key, Jsonb(value), 0.001)",
           ("scenarios/integration/test_memory.py",)),
    Mutant("memory-write-behind", "a write is acknowledged before it is performed",
           "api/routes.py",
           "await request.app.state.memory.set(owned(user, body.key), body.value, body.ttl)",
           "asyncio.get_running_loop().call_later(0.05, asyncio.ensure_future, "
           "request.app.state.memory.set(owned(user, body.key), body.value, body.ttl))",
           ("scenarios/integration/test_memory_linearizable.py",)),
    Mutant("auth-no-audience", "tokens for another audience are accepted", "api/auth.py",
           REQUIRE, REQUIRE + ', "verify_aud": False', ("scenarios/integration/test_auth.py",)),
    Mutant("auth-no-expiry", "expired tokens are accepted", "api/auth.py",
           REQUIRE, REQUIRE + ', "verify_exp": False', ("scenarios/integration/test_auth.py",)),
    Mutant("auth-no-signature", "token signatures are not checked", "api/auth.py",
           REQUIRE, REQUIRE + ', "verify_signature": False',
           ("scenarios/integration/test_auth.py",)),
    Mutant("tasks-priority-ignored", "the queue ignores priorities", "tasks.py",
           "ORDER BY priority DESC, created_at", "ORDER BY created_at",
           ("scenarios/integration/test_tasks.py",)),
    Mutant("health-never-down", "health stays 200 when a required dependency is down",
           "api/health.py", 'return "down", 503', 'return "degraded", 200',
           ("scenarios/integration/test_health_metrics.py",)),
    Mutant("llm-cache-flag", "a cache hit is reported as a miss", "llm.py",
           '"cached": cached}', '"cached": False}', ("scenarios/integration/test_llm.py",)),
    Mutant("pipeline-ack-before-commit", "telemetry is acknowledged before it is stored",
           "pipeline.py", "        readings, poison = _split(messages)\n",
           "        readings, poison = _split(messages)\n        for message, _ in readings:\n"
           "            await message.ack()\n", ("scenarios/pipeline/test_no_loss.py",)),
    Mutant("pipeline-dlq-dropped", "poison messages are dropped, not dead-lettered",
           "pipeline.py", 'await js.publish(f"telemetry-dlq.{seq}"',
           'None and await js.publish(f"telemetry-dlq.{seq}"',
           ("scenarios/pipeline/test_dead_letter.py",)),
    Mutant("inference-no-failover", "an edge error is returned instead of failing over",
           "inference.py", "except (httpx.HTTPError, KeyError, ValueError) as exc:",
           "except ZeroDivisionError as exc:", ("scenarios/edge/test_failover.py",)),
    Mutant("pbft-weak-prepare-quorum", "a slot is prepared with f prepares instead of 2f",
           "consensus/normal.py", "if len(votes) < 2 * r.f:\n        return\n"
           "    slot.prepared = True", "if len(votes) < r.f:\n        return\n"
           "    slot.prepared = True", (BYZANTINE,)),
    Mutant("pbft-no-signature-check", "replica signatures are not verified",
           "consensus/crypto.py",
           "return keyring.verify(message.replica, message.payload(), message.sig)",
           "return True", (BYZANTINE,)),
    Mutant("pbft-out-of-order", "a committed batch executes before the ones before it",
           "consensus/normal.py",
           "while (entry := log.committed.get(log.last_executed + 1)) is not None:",
           "while (entry := next((e for s, e in sorted(log.committed.items())"
           " if s > log.last_executed), None)) is not None:", (PARTITION,)),
    Mutant("ledger-overdraw", "a transfer may overdraw its source",
           "consensus/state_machine.py", "if self.balances.get(source, 0) < amount:",
           "if False:", (CONSENSUS,)),
    Mutant("ledger-repeat-applies", "a repeated transfer id is applied again",
           "consensus/state_machine.py",
           "if isinstance(transfer_id, str) and transfer_id in self.outcomes:",
           "if False:", (CONSENSUS,)),
    Mutant("edge-sequence-stuck", "a device re-uses its sequence number after an ack",
           "edge.py", "state.next_seq, state.pending = reading.seq + 1, None",
           "state.next_seq, state.pending = reading.seq, None",
           ("scenarios/edge/test_failover.py",)),
    # the security scenarios' defects (issue 16): each was in the reference before its fix
    Mutant("memory-shared-namespace", "every user reads and deletes every user's memory keys",
           "api/routes.py", 'return f"{len(user)}:{user}/{key}"', "return key",
           (f"{SECURITY}/test_authorization.py",)),
    Mutant("ledger-id-unbound", "a transfer id reused with another body answers 'applied'",
           "consensus/state_machine.py",
           'if first.get("request", _request(op)) != _request(op):', "if False:",
           (f"{SECURITY}/test_replay.py",)),
    Mutant("json-non-finite", "NaN, Infinity and 1e400 reach PostgreSQL (a 500)",
           "api/strict.py",
           "value = json.loads(text, parse_constant=constant, parse_float=number)",
           "value = json.loads(text)", (f"{SECURITY}/test_hostile_input.py",)),
    Mutant("json-nul", "NUL characters in a body reach PostgreSQL (a 500)", "api/strict.py",
           'if "\\x00" in item:\n                return "a NUL character"',
           'if False:\n                return "a NUL character"',
           (f"{SECURITY}/test_hostile_input.py",)),
    Mutant("json-lone-surrogate", "a lone UTF-16 surrogate in a body reaches PostgreSQL (a 500)",
           "api/strict.py", "if not _utf8(item):", "if False:",
           (f"{SECURITY}/test_hostile_input.py",)),
    Mutant("path-control-chars", "control characters in a path parameter reach PostgreSQL",
           "api/strict.py", "CleanPath = Annotated[str, Path(pattern=NO_CONTROL)]",
           "CleanPath = str", (f"{SECURITY}/test_hostile_input.py",)),
    Mutant("lax-integers", 'an integer field takes "10" and true', "api/models.py",
           "if isinstance(value, str | bool):", "if False:",
           (f"{SECURITY}/test_hostile_input.py",)),
    Mutant("chunked-body-400", "a chunked oversize body is a 400, not a 413",
           "api/middleware.py", "raise BodyTooLarge(self.max_bytes)",
           "raise ValueError(self.max_bytes)", (f"{SECURITY}/test_hostile_input.py",)),
    Mutant("login-enumeration", "an unknown username skips the password hash (fast 401)",
           "api/auth.py",
           "matches = verify_password(password, encoded if encoded is not None else "
           "_dummy_hash())", "matches = encoded is not None and verify_password(password, "
           "encoded)", (f"{SECURITY}/test_login.py",)),
    Mutant("login-no-lockout", "failed logins are never locked out", "api/routes.py",
           "wait = guard.retry_after(body.username)", "wait = 0",
           (f"{SECURITY}/test_login.py",)),
    Mutant("token-lifetime-uncapped", "a correctly signed token valid for a year is accepted",
           "api/auth.py", "if not _lifetime_within(claims, settings.jwt_ttl_s):", "if False:",
           ("scenarios/integration/test_auth.py",)),
    Mutant("task-error-text", "a failed task's status shows the exception's text",
           "tasks.py", 'await self._finish(task_id, attempt, "failed", None, public_error(type_))',
           'await self._finish(task_id, attempt, "failed", None, '
           'str(__import__("sys").exc_info()[1]))',
           ("scenarios/integration/test_task_results.py",)),
    Mutant("admin-role-unchecked", "a plain user's token is served the admin-only operations",
           "api/auth.py", "if claims.get(\"role\") != ADMIN_ROLE:", "if False:",
           (f"{SECURITY}/test_function_authorization.py",)),
    Mutant("rate-limit-no-retry-after", "a rate-limited request's 429 has no Retry-After",
           "api/middleware.py", 'headers = [(b"retry-after", str(math.ceil(wait)).encode())]',
           "headers = []", (f"{SECURITY}/test_rate_limit.py",)),
    Mutant("rate-limit-ignored", "the per-user plan limits are never applied",
           "api/middleware.py", "if self.user_limits and self.subject is not None:",
           "if False:", (f"{SECURITY}/test_rate_limit.py",)),
    Mutant("admin-403-undeclared", "the admin-only routes' OpenAPI entries omit their 403",
           "api/admin.py", "responses=declared(*COMMON, 401, 403)",
           "responses=declared(*COMMON, 401)", (f"{SECURITY}/test_authentication_sweep.py",)),
    Mutant("telemetry-no-auth", "telemetry is served without a token", "api/routes.py",
           "async def telemetry_readings(device: CleanPath, user: User, request: Request,",
           "async def telemetry_readings(device: CleanPath, request: Request,",
           (f"{SECURITY}/test_authentication_sweep.py",)),
    # Consensus defects that only a Byzantine replica plus a partition at the wrong round
    # expose (found by ``prsm-validate byzzfuzz --mutant ID``, caught black-box by BYZZFUZZ).
    Mutant("viewchange-quorum-2f", "the new primary sends NEW-VIEW on 2f VIEW-CHANGEs",
           "consensus/viewchange.py", "if len(votes) < 2 * r.f + 1:\n        return\n"
           "    chosen = tuple(votes[k] for k in sorted(votes)[: 2 * r.f + 1])",
           "if len(votes) < 2 * r.f:\n        return\n"
           "    chosen = tuple(votes[k] for k in sorted(votes)[: 2 * r.f])",
           (byzzfuzz("vc-quorum"),)),
    Mutant("checkpoint-mixed-digests", "CHECKPOINT votes for different digests are pooled",
           "consensus/checkpoints.py",
           "votes = r.checkpoints.votes.setdefault(cp.seq, {}).setdefault(cp.state_digest, {})",
           "votes = r.checkpoints.votes.setdefault(cp.seq, {}).setdefault(\"\", {})",
           (byzzfuzz("checkpoint"),)),
    Mutant("catchup-unmatched-commits", "catch-up accepts an entry whose COMMITs name another "
           "batch", "consensus/certs.py",
           "matching = [c for c in entry.commits\n"
           "                if (c.view, c.seq, c.digest) == (pp.view, pp.seq, pp.digest)]",
           "matching = list(entry.commits)", (byzzfuzz("catch-up"),)),
    Mutant("catchup-unverified-snapshot", "state transfer installs a snapshot without checking "
           "it against the certified digest", "consensus/recovery.py",
           "if machine is None or machine.digest() != digest:", "if machine is None:",
           (byzzfuzz("snapshot"),)),
    Mutant("catchup-batch-unhashed", "catch-up accepts an entry without checking that its "
           "batch hashes to the certified digest", "consensus/certs.py",
           "if pp.digest != batch_digest(pp.batch):\n        return False\n"
           "    matching = [c for c in entry.commits", "matching = [c for c in entry.commits",
           (byzzfuzz("catch-up-batch"),)),
    Mutant("catchup-commits-not-distinct", "catch-up counts a COMMIT certificate's quorum "
           "without checking the senders are distinct", "consensus/certs.py",
           "(c.view, c.seq, c.digest) == (pp.view, pp.seq, pp.digest)]\n"
           "    return len(distinct_valid(matching, keyring, set(range(n)))) >= 2 * f + 1",
           "(c.view, c.seq, c.digest) == (pp.view, pp.seq, pp.digest)]\n"
           "    return sum(1 for c in matching if verify_message(c, keyring)) >= 2 * f + 1",
           (byzzfuzz("catch-up-forged"),)),
    Mutant("checkpoint-proof-not-distinct", "a checkpoint proof counts its 2f+1 CHECKPOINTs "
           "without checking the senders are distinct", "consensus/certs.py",
           "c.seq == seq and c.state_digest == digest]\n"
           "    return len(distinct_valid(matching, keyring, set(range(n)))) >= 2 * f + 1",
           "c.seq == seq and c.state_digest == digest]\n"
           "    return sum(1 for c in matching if verify_message(c, keyring)) >= 2 * f + 1",
           (byzzfuzz("snapshot-forged"),)),
    Mutant("checkpoint-weak-quorum", "a checkpoint is stable with f+1 CHECKPOINTs",
           "consensus/checkpoints.py", "if len(votes) >= 2 * r.f + 1:\n"
           "        _certified_checkpoint",
           "if len(votes) >= r.f + 1:\n        _certified_checkpoint",
           (byzzfuzz("checkpoint"),)),
)

# Consensus defects the simulator finds (``prsm-validate byzzfuzz --mutant ID``, and for
# newview-drops-last-prepared and dedup-equal-timestamp ``prsm-validate twins --mutant ID``)
# that no scenario catches on the real processes yet: not part of ``prsm-validate mutants``.
# Their Twins schedules replayed on real processes (scenarios/byzantine/test_twins.py) pass;
# a transfer executed twice is absorbed by the ledger's transfer ids, so dedup-equal-timestamp
# may not be observable through the API at all.
SIMULATED: tuple[Mutant, ...] = (
    Mutant("pbft-commit-quorum-f", "a slot commits with f+1 commits instead of 2f+1",
           "consensus/normal.py", "if len(votes) < 2 * r.f + 1:\n        return\n"
           "    slot.committed = True", "if len(votes) < r.f + 1:\n        return\n"
           "    slot.committed = True", ()),
    Mutant("pbft-prepare-any-digest", "prepares for any digest count towards prepared",
           "consensus/normal.py", "votes = slot.prepares.get(pp.digest, {})\n"
           "    if len(votes) < 2 * r.f:",
           "votes = {k: v for d in slot.prepares.values() for k, v in d.items()}\n"
           "    if len(votes) < 2 * r.f:", ()),
    Mutant("newview-drops-last-prepared", "NEW-VIEW does not re-propose the highest prepared "
           "sequence", "consensus/certs.py",
           "return min_s, {s: best.get(s) for s in range(min_s + 1, max_s + 1)}",
           "return min_s, {s: best.get(s) for s in range(min_s + 1, max_s)}",
           ()),
    Mutant("dedup-equal-timestamp", "a request ordered twice (across views) executes twice",
           "consensus/state.py",
           "return cached is not None and request.timestamp <= cached[0]",
           "return cached is not None and request.timestamp < cached[0]",
           ()),
)


def apply(mutant: Mutant, root: Path) -> Path:
    """Copy ``reference_system`` under ``root`` with the defect applied; returns ``root``."""
    text = (SOURCE / mutant.file).read_text()
    if text.count(mutant.old) != 1:
        raise ValueError(f"mutant {mutant.id}: {mutant.old!r} occurs {text.count(mutant.old)} "
                         f"times in {mutant.file}; it must occur exactly once")
    return write_copy(root, {mutant.file: text.replace(mutant.old, mutant.new)})


def write_copy(root: Path, files: dict[str, str]) -> Path:
    """Copy ``reference_system`` under ``root`` with ``files`` (path inside the package ->
    new text) replaced; returns ``root``."""
    copy = root / "reference_system"
    shutil.copytree(SOURCE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in files.items():
        (copy / name).write_text(text)
    return root


def find(mutant_id: str, simulated: bool = True) -> Mutant | None:
    """The mutant named ``mutant_id`` (among the simulator-only ones too when ``simulated``)."""
    pool = (*MUTANTS, *SIMULATED) if simulated else MUTANTS
    return next((m for m in pool if m.id == mutant_id), None)


def rerun_on_copy(mutant: Mutant, argv: Sequence[str]) -> int:
    """Run ``prsm-validate ARGV`` in a fresh process whose ``reference_system`` is a scratch
    copy with ``mutant`` applied (removed afterwards); returns its exit status."""
    with tempfile.TemporaryDirectory(prefix=f"prsm-{mutant.id}-") as scratch:
        root = apply(mutant, Path(scratch))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        return subprocess.run([sys.executable, "-m", "prsm_validate.cli", *argv],
                              env=env, cwd=root, check=False).returncode


@dataclass(frozen=True)
class ScenarioRun:
    """One pytest run of scenarios: whether all passed, how long, which failed, and whether it
    was stopped at its timeout (then ``passed`` is False and nothing about the defect is
    known: a timed-out baseline is a false alarm, a timed-out mutant is neither detected nor
    passed)."""

    passed: bool
    seconds: float
    failed: list[str]
    timed_out: bool = False


DEFAULT_TIMEOUT_S = 600.0


def run_scenarios(scenarios: tuple[str, ...], pythonpath: Path | None, cwd: Path,
                  timeout_s: float = DEFAULT_TIMEOUT_S, failure_log: Path | None = None,
                  args: Sequence[str] = (), reports: Path | None = None,
                  env: Mapping[str, str] | None = None) -> ScenarioRun:
    """Run the scenarios in a fresh pytest (stopped after ``timeout_s``).

    When they fail or time out, pytest's output is written to ``failure_log`` (if given).
    ``args`` go to pytest; the run's report goes to ``reports`` (default: a temporary folder);
    ``env`` adds environment variables (e.g. ``PRSM_BYZZFUZZ``, the schedule to run).
    With a scratch copy, pytest and every process it starts run *in* the copy's folder:
    the working directory comes first on ``sys.path``, before ``PYTHONPATH``.
    """
    env = {**os.environ, **(env or {})}
    paths = [str((cwd / s).resolve()) for s in scenarios]
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(pythonpath),
                                                          env.get("PYTHONPATH")]))
        cwd = pythonpath
    with tempfile.TemporaryDirectory(prefix="prsm-mutant-report-") as scratch:
        reports = reports or Path(scratch)
        started = time.monotonic()
        try:
            result = subprocess.run(
                # No -x by default: every scenario that catches the defect is named, and one
                # unrelated failure does not hide the ones that matter.
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                 f"--prsm-report={reports}", *args, *paths],
                cwd=cwd, env=env, capture_output=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as expired:
            # pytest was killed; the systems it started are reaped by their reaper.
            _write_log(failure_log, (expired.stdout or b"") + (expired.stderr or b"")
                       + f"\n(timed out after {timeout_s:g} s)\n".encode())
            return ScenarioRun(False, time.monotonic() - started,
                               [f"(timed out after {timeout_s:g} s)"], timed_out=True)
        failed = _failed_tests(Path(reports))
    if result.returncode != 0:
        _write_log(failure_log, result.stdout + result.stderr)
    return ScenarioRun(result.returncode == 0, time.monotonic() - started, failed)


def _write_log(path: Path | None, output: bytes) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(output)


def first_reason(output: str) -> str:
    """The line of a pytest output that says best why the run failed."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for marker in ("did not start", "Failed: ", "E   ", "FAILED ", "ERROR "):
        found = next((line for line in lines if marker in line), None)
        if found is not None:
            return found[:300]
    return lines[-1][:300] if lines else "(no output)"


def _failed_tests(reports: Path) -> list[str]:
    summary_path = reports / "latest" / "summary.json"
    if not summary_path.exists():
        return ["(no report: the run did not get as far as a test)"]
    tests = json.loads(summary_path.read_text())["tests"]
    return [t["nodeid"].split("::", 1)[-1] for t in tests if t["outcome"] in ("failed", "error")]


def detect(mutant: Mutant, cwd: Path, timeout_s: float = DEFAULT_TIMEOUT_S
           ) -> dict[str, object]:
    """Run ``mutant``'s scenarios against the defective copy (``detected`` is False when
    the run timed out: ``timed_out`` says so)."""
    with tempfile.TemporaryDirectory(prefix=f"prsm-mutant-{mutant.id}-") as scratch:
        run = run_scenarios(mutant.scenarios, apply(mutant, Path(scratch)), cwd, timeout_s)
    return {"id": mutant.id, "description": mutant.description,
            "detected": not run.passed and not run.timed_out, "timed_out": run.timed_out,
            "caught_by": [] if run.timed_out else run.failed, "seconds": round(run.seconds, 1),
            "scenarios": list(mutant.scenarios)}


def summary(rows: list[dict[str, object]], baseline_failures: int, baseline_runs: int,
            baseline_timeouts: int = 0) -> dict[str, object]:
    """The JSON line of ``prsm-validate mutants`` (a timed-out mutant is in ``timed_out``,
    not in ``undetected``; a timed-out baseline counts as a false alarm)."""
    detected = sum(1 for r in rows if r["detected"])
    return {"total": len(rows), "detected": detected,
            "undetected": [r["id"] for r in rows if not r["detected"] and not r["timed_out"]],
            "timed_out": [r["id"] for r in rows if r["timed_out"]],
            "false_alarms": baseline_failures, "baseline_timeouts": baseline_timeouts,
            "baseline_runs": baseline_runs}


def dumps(data: object) -> str:
    """Compact JSON."""
    return json.dumps(data, separators=(",", ":"))
