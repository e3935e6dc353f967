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


def spark_standalone() -> Iterator[str]:
    """Start a Spark standalone master and one worker on loopback (pyspark's own
    ``spark-class``); yield the master's ``spark://`` URL; stop both at the end.

    This is the cluster kind ``--master spark://host:7077`` talks to: the driver runs in the
    kpitree process, the executors in the worker's JVM, and only the aggregate comes back.
    """
    skip_engines()
    import pyspark

    home = Path(pyspark.__file__).parent
    spark_class = home / "bin" / "spark-class"
    if not spark_class.exists() or shutil.which("java") is None:
        pytest.fail("pyspark's spark-class and Java are needed: run scripts/install.sh")
    folder = Path(tempfile.mkdtemp(prefix="kpitree-spark-"))
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_WORKER_DIR": str(folder / "work"), "SPARK_LOG_DIR": str(folder)}
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    logs = {name: open(folder / f"{name}.log", "w") for name in ("master", "worker")}  # noqa: SIM115
    master = subprocess.Popen(
        [str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
         "--port", str(port), "--webui-port", str(_free_port())],
        env=env, stdout=logs["master"], stderr=subprocess.STDOUT, start_new_session=True)
    worker = None
    try:
        _wait_for(folder / "master.log", "ALIVE", master)
        worker = subprocess.Popen(
            [str(spark_class), "org.apache.spark.deploy.worker.Worker", "--cores", "1",
             "--memory", "1g", "--webui-port", str(_free_port()), url],
            env=env, stdout=logs["worker"], stderr=subprocess.STDOUT, start_new_session=True)
        _wait_for(folder / "master.log", "Registering worker", worker)
        yield url
    finally:
        for process in (worker, master):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, 15)
                process.wait(timeout=30)
        for log in logs.values():
            log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(log: Path, text: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if text in log.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.3)
    pytest.fail(f"Spark standalone did not start ('{text}' not in {log.name}): "
                f"{log.read_text(errors='replace')[-400:]}")
