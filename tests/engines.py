"""Real engines for the raw-source tests: a PostgreSQL server and a local Spark, started here.

The server is a throw-away cluster (initdb in a temporary folder, loopback only, trust auth),
started once per test session and stopped at the end. Run as root, it runs as the 'postgres'
system user (PostgreSQL refuses root). Binaries come from the Debian package `postgresql`,
which scripts/install.sh installs. Set KPITREE_SKIP_ENGINES=1 to skip these tests.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bindir() -> Path | None:
    for pattern in ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin"):
        found = sorted(glob.glob(pattern), reverse=True)
        for folder in found:
            if (Path(folder) / "pg_ctl").exists():
                return Path(folder)
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_db_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def skip_engines() -> None:
    if os.environ.get("KPITREE_SKIP_ENGINES"):
        pytest.skip("KPITREE_SKIP_ENGINES is set")


def postgres_server() -> Iterator[str]:
    """Start a PostgreSQL cluster in a new temporary folder; yield its URL; stop and remove it.

    The folder is made with ``tempfile`` (not pytest's tmp_path, whose parents the 'postgres'
    user may not enter).
    """
    skip_engines()
    bindir = _bindir()
    if bindir is None:
        pytest.fail("PostgreSQL server binaries not found: run scripts/install.sh "
                    "(apt-get install postgresql), or set KPITREE_SKIP_ENGINES=1")
    folder = Path(tempfile.mkdtemp(prefix="kpitree-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        os.chmod(folder, 0o700)
    data = folder / "data"
    port = _free_port()
    _run(_as_db_user([str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                      "-U", "postgres", "--no-sync"]))
    _run(_as_db_user([str(bindir / "pg_ctl"), "-D", str(data), "-w", "-l",
                      str(folder / "log"), "-o",
                      f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 "
                      "-c fsync=off -c synchronous_commit=off", "start"]))
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_db_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                                    "stop"]), capture_output=True, cwd="/")
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, cwd="/")
    if done.returncode:
        pytest.fail(f"{' '.join(command)} failed: {done.stderr.strip() or done.stdout.strip()}")
