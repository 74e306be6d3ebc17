"""A throw-away Spark standalone cluster on 127.0.0.1, for tests and benchmarks.

Started with the daemon script the pyspark package ships
(``sbin/spark-daemon.sh``, which ``start-master.sh``/``start-worker.sh``
wrap in a full Spark distribution) and stopped by the process ids it
records, never by name. Not for production: a real cluster is run by its
operators (see docs/scale.md).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Standalone:
    """A running cluster: its master URL, web UI port, SPARK_HOME, environment and process ids."""

    master: str
    ui_port: int
    home: Path
    env: dict[str, str]
    pids: list[int]

    def state(self) -> dict:
        """The master's JSON status (workers, running and completed applications)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as fh:
            return json.load(fh)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def standalone_cluster(folder: Path, *, workers: int = 2, cores: int = 1, memory: str = "1g",
                       timeout: float = 120) -> Iterator[Standalone]:
    """Start a master and ``workers`` workers bound to 127.0.0.1; stop them (by pid) on exit, whatever happened."""
    import pyspark

    home = Path(pyspark.__file__).parent
    folder = Path(folder)
    port, ui = free_port(), free_port()
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_MASTER_HOST": "127.0.0.1",
           "SPARK_PID_DIR": str(folder / "pids"), "SPARK_LOG_DIR": str(folder / "logs"),
           "SPARK_WORKER_DIR": str(folder / "work"), "SPARK_IDENT_STRING": f"clusteratlas-{os.getpid()}",
           "SPARK_DAEMON_MEMORY": "256m"}
    daemon = ["bash", str(home / "sbin" / "spark-daemon.sh"), "start"]
    master = f"spark://127.0.0.1:{port}"
    cluster = Standalone(master, ui, home, env, [])
    try:
        subprocess.run([*daemon, "org.apache.spark.deploy.master.Master", "1", "--host", "127.0.0.1",
                        "--port", str(port), "--webui-port", str(ui)], env=env, check=True, capture_output=True)
        for i in range(1, workers + 1):
            subprocess.run([*daemon, "org.apache.spark.deploy.worker.Worker", str(i), "--host", "127.0.0.1",
                            "--webui-port", str(free_port()), "--cores", str(cores), "--memory", memory,
                            "--work-dir", str(folder / "work"), master],
                           env=env, check=True, capture_output=True)
        cluster.pids = _pids(folder)
        deadline, alive = time.time() + timeout, 0
        while time.time() < deadline:
            with contextlib.suppress(OSError):
                alive = cluster.state().get("aliveworkers", 0)
            if alive == workers:
                break
            time.sleep(1)
        if alive != workers:
            logs = "\n".join(p.read_text()[-2000:] for p in (folder / "logs").glob("*.out"))
            raise RuntimeError(f"{alive} of {workers} Spark workers registered:\n{logs}")
        yield cluster
    finally:
        _stop(_pids(folder))


def _pids(folder: Path) -> list[int]:
    return [int(p.read_text()) for p in sorted((folder / "pids").glob("*.pid"))] if (folder / "pids").exists() \
        else []


def _stop(pids: list[int]) -> None:
    """SIGTERM each daemon, then SIGKILL any still alive after 10 s (a worker takes its executors with it)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 15)
    for pid in pids:
        for _ in range(50):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
