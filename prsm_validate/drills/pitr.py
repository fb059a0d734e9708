"""Backup and restore drill with point-in-time recovery, using the PostgreSQL binaries the
pgserver wheel ships (``postgres``, ``pg_basebackup``, ``pg_dump``, ``pg_restore``).

The procedure is the one the reference system's runbook (docs/runbooks/backup-restore.md)
prescribes: a primary with continuous WAL archiving (``archive_timeout`` 1 s), a base backup,
then recovery of the base backup from the archive, to a named restore point and to the end of
the archive, and a logical dump restored into a new database. Every server runs as a child
process on loopback in a private folder (as the unprivileged server user when root); all of
it is removed at the end, also on failure.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from prsm_validate.targets import embedded, probes
from prsm_validate.targets.processes import ManagedProcess, Reaper, wait_ready
from reference_system.ports import free_ports

READY_TIMEOUT_S = 60.0
TABLE = "drill_rows"


@dataclass
class Server:
    """One PostgreSQL server of the drill."""

    name: str
    data: Path
    port: int
    process: ManagedProcess

    @property
    def dsn(self) -> str:
        """Superuser DSN on loopback."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"


@dataclass
class Lab:
    """A private folder holding the drill's servers, base backup and WAL archive."""

    root: Path
    reaper: Reaper
    servers: list[Server] = field(default_factory=list)

    @property
    def archive(self) -> Path:
        """The WAL archive folder."""
        return self.root / "archive"

    def run(self, tool: str, *args: object, timeout_s: float = 120.0) -> str:
        """Run a PostgreSQL client tool (as the server user) and return its output."""
        argv = [str(embedded.postgres_bin_dir() / tool), *map(str, args)]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s,
                              user=embedded.server_user(), cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}")
        return done.stdout

    def start(self, name: str, data: Path, settings: dict[str, str]) -> Server:
        """Start ``postgres`` on ``data`` with ``-c`` settings; wait until it answers."""
        port = free_ports(1)[0]
        argv: list[object] = [embedded.postgres_bin_dir() / "postgres", "-D", data,
                              "-h", "127.0.0.1", "-p", port, "-k", self.root]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        proc = ManagedProcess(name, [str(a) for a in argv], self.root / f"{name}.log", {},
                              embedded.server_user(), self.reaper)
        proc.start()
        server = Server(name, data, port, proc)
        self.servers.append(server)
        wait_ready(proc, lambda: probes.postgres_query(server.dsn), READY_TIMEOUT_S)
        return server

    def copy(self, source: Path, dest: Path) -> Path:
        """Copy a data folder (as the server user, keeping modes)."""
        subprocess.run(["cp", "-a", str(source), str(dest)], check=True,
                       user=embedded.server_user())
        return dest


@contextmanager
def lab() -> Iterator[Lab]:
    """A drill folder with a reaper; every server stopped and the folder removed on exit."""
    root = Path(tempfile.mkdtemp(prefix="prsm-drill-pg-"))
    drill = Lab(root, Reaper())
    try:
        drill.reaper.watch_path(root)
        root.chmod(0o755)
        (root / "archive").mkdir()
        user = embedded.server_user()
        if user:
            shutil.chown(root, user)
            shutil.chown(root / "archive", user)
        yield drill
    finally:
        for server in reversed(drill.servers):
            server.process.kill()  # throw-away data: no clean shutdown to wait for
        shutil.rmtree(root, ignore_errors=True)
        drill.reaper.close()


def archiving(lab_: Lab) -> dict[str, str]:
    """Settings of a primary that archives every WAL segment within a second."""
    return {"wal_level": "replica", "archive_mode": "on", "archive_timeout": "1",
            "archive_command": f"cp %p {lab_.archive}/%f", "max_wal_senders": "4",
            "fsync": "on"}


def recovery(lab_: Lab, data: Path, target: str | None) -> None:
    """Configure ``data`` (a base backup copy) to recover from the archive and promote:
    to the named restore point ``target``, or to the end of the archive."""
    lines = [f"restore_command = 'cp {lab_.archive}/%f %p'",
             "recovery_target_action = 'promote'"]
    if target:
        lines.append(f"recovery_target_name = '{target}'")
    else:
        lines.append("recovery_target_timeline = 'latest'")
    with (data / "postgresql.auto.conf").open("a") as conf:
        conf.write("\n".join(lines) + "\n")
    (data / "recovery.signal").touch()


def wait_promoted(server: Server, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Wait until the recovered server left recovery (it accepts writes)."""
    import psycopg

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{server.name} still in recovery after {timeout_s:g}s; log: "
                       f"{server.process.log_tail()}")


def payload(row_id: int) -> str:
    """The content written for row ``row_id`` (checked byte for byte after a restore)."""
    return hashlib.sha256(f"drill-row-{row_id}".encode()).hexdigest()


def rows(dsn: str) -> dict[int, tuple[str, str]]:
    """Every drill row: id -> (batch, payload)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        return {r[0]: (r[1], r[2]) for r in conn.execute(
            f"SELECT id, batch, payload FROM {TABLE}").fetchall()}


@dataclass
class Figures:
    """What the drill measured."""

    backup_s: float = 0.0
    restore_s: float = 0.0
    rpo_s: float = 0.0
    dump_s: float = 0.0
    logical_restore_s: float = 0.0
    rows_before: int = 0
    rows_wrong: int = 0
    problems: list[str] = field(default_factory=list)
    tail_acknowledged: int = 0
    tail_recovered: int = 0

    def to_json(self) -> dict[str, object]:
        """The figures recorded on the scenario."""
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in vars(self).items()}


def write(dsn: str, ids: range, batch: str) -> dict[int, float]:
    """Insert rows ``ids`` one transaction each; returns each row's acknowledgement time."""
    import psycopg

    acked = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        for row_id in ids:
            conn.execute(f"INSERT INTO {TABLE} (id, batch, payload) VALUES (%s, %s, %s)",
                         (row_id, batch, payload(row_id)))
            acked[row_id] = time.monotonic()
    return acked


def sql(dsn: str, statement: str) -> object:
    """Run one statement, return the first column of its first row (or None)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(statement)
        row = cursor.fetchone() if cursor.description else None
    return row[0] if row else None


def wait_archived(primary: Server, timeout_s: float = 30.0) -> None:
    """Switch to a new WAL segment and wait until the one holding our writes is archived."""
    segment = sql(primary.dsn, "SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = sql(primary.dsn, "SELECT last_archived_wal FROM pg_stat_archiver")
        if done is not None and str(done) >= str(segment):
            return
        time.sleep(0.05)
    raise TimeoutError(f"WAL segment {segment} not archived within {timeout_s:g}s")


def check_exact(found: dict[int, tuple[str, str]], expected: range, batch: str) -> list[str]:
    """Problems of a restore that must hold exactly ``expected`` rows of ``batch``."""
    problems = [f"row {i} missing" for i in expected if i not in found]
    problems += [f"row {i} has wrong content" for i in expected
                 if i in found and found[i] != (batch, payload(i))]
    problems += [f"row {i} ({found[i][0]}) written after the recovery point came back"
                 for i in sorted(set(found) - set(expected))]
    return problems


def run(before: int = 300, after: int = 100, tail_s: float = 2.0) -> Figures:
    """The whole drill; raises only when a step cannot run (a failed check is in Figures)."""
    figures = Figures(rows_before=before)
    with lab() as drill:
        primary = drill.start("primary", embedded.copy_postgres_data(drill.root / "primary"),
                              archiving(drill))
        sql(primary.dsn, f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, batch text NOT NULL,"
                         " payload text NOT NULL)")
        started = time.monotonic()
        drill.run("pg_basebackup", "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres",
                  "-D", drill.root / "base", "-X", "stream", "-c", "fast")
        figures.backup_s = time.monotonic() - started
        write(primary.dsn, range(1, before + 1), "before")
        sql(primary.dsn, "SELECT pg_create_restore_point('drill')")
        write(primary.dsn, range(before + 1, before + after + 1), "after")
        wait_archived(primary)
        acked = _tail(primary, before + after + 1, tail_s)
        primary.process.kill()  # the disaster: the primary and its disk are gone
        disaster = time.monotonic()
        figures.restore_s, found = _restore(drill, "pitr", "drill")
        figures.problems += check_exact(found, range(1, before + 1), "before")
        found = _latest(drill, figures, acked, disaster)
        figures.problems += _archived_missing(found, before, after)
    figures.rows_wrong = len(figures.problems)
    return figures


def _tail(primary: Server, first: int, seconds: float) -> dict[int, float]:
    """Keep writing for ``seconds`` (the writes the disaster may lose)."""
    acked: dict[int, float] = {}
    deadline, next_id = time.monotonic() + seconds, first
    while time.monotonic() < deadline:
        acked.update(write(primary.dsn, range(next_id, next_id + 20), "tail"))
        next_id += 20
    return acked


def _restore(drill: Lab, name: str, target: str | None
             ) -> tuple[float, dict[int, tuple[str, str]]]:
    """Restore the base backup from the archive (to ``target``); seconds and rows found."""
    started = time.monotonic()
    data = drill.copy(drill.root / "base", drill.root / name)
    recovery(drill, data, target)
    server = drill.start(name, data, {"archive_mode": "off"})
    wait_promoted(server)
    seconds = time.monotonic() - started
    return seconds, rows(server.dsn)


def _archived_missing(found: dict[int, tuple[str, str]], before: int, after: int) -> list[str]:
    """Problems of the recovery to the end of the archive: every row written before the last
    confirmed archive (both batches) must be there. The tail written after it may be lost (that
    is the RPO, a figure: how much of it survives depends on when the archiver copied the last
    segment before the kill, which a busy machine delays)."""
    expected = {i: ("before", payload(i)) for i in range(1, before + 1)}
    expected |= {i: ("after", payload(i)) for i in range(before + 1, before + after + 1)}
    return [f"row {i} ({batch}, archived before the disaster) missing or wrong after recovery"
            f" to the end of the archive" for i, (batch, _) in expected.items()
            if found.get(i) != expected[i]]


def _latest(drill: Lab, figures: Figures, acked: dict[int, float], disaster: float
            ) -> dict[int, tuple[str, str]]:
    """Recover to the end of the archive: what was lost is the RPO; then dump and restore.
    Returns the rows found."""
    _seconds, found = _restore(drill, "latest", None)
    tail = [i for i in acked if i in found]
    figures.tail_acknowledged, figures.tail_recovered = len(acked), len(tail)
    last_acked = max(acked.values()) if acked else disaster
    last_kept = max((acked[i] for i in tail), default=min(acked.values(), default=disaster))
    figures.rpo_s = max(0.0, last_acked - last_kept)
    server = drill.servers[-1]
    dump = drill.root / "drill.dump"
    started = time.monotonic()
    drill.run("pg_dump", "-Fc", "-f", dump, server.dsn)
    figures.dump_s = time.monotonic() - started
    sql(server.dsn, "CREATE DATABASE restored")
    started = time.monotonic()
    drill.run("pg_restore", "-d", server.dsn.rsplit("/", 1)[0] + "/restored", dump)
    figures.logical_restore_s = time.monotonic() - started
    copy = rows(server.dsn.rsplit("/", 1)[0] + "/restored")
    if copy != found:
        figures.problems.append(f"pg_restore copy differs: {len(copy)} rows vs {len(found)}")
    return found
