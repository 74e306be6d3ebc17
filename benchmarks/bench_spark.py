"""Benchmark of the command a user runs: ``clusteratlas map`` on DuckDB, on Spark local[2], on a standalone cluster.

On the synthetic file of benchmarks/bench_map.py (6 M rows by default:
1,000 regions × 300 industries × 20 years; ``--regions 3000 --industries
1000`` gives 60 M), each engine runs the stateless map as a user types it:

  duckdb      clusteratlas map --data F --clusters D --out out.parquet --regions-out r.parquet
  spark-local CLUSTERATLAS_SPARK_MASTER=local[2] clusteratlas map --engine spark ... --memory-limit 4g
  spark-cluster  spark-submit --master spark://127.0.0.1:PORT (a master and two workers, 1 core and
              ``--worker-memory`` each, started here with pyspark's own scripts) ... map --engine spark ...

Figures: wall time of the command, and peak resident memory of its whole
process tree sampled every 0.2 s (Python, the driver JVM; for the cluster
also the master, workers and executor JVMs, which are not children of the
command). Each engine runs ``--runs`` times (default 2). Run:

    python benchmarks/bench_spark.py                       # 6 M rows
    python benchmarks/bench_spark.py --regions 3000 --industries 1000   # 60 M rows (check free memory first)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_map import generate  # noqa: E402


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            kids.setdefault(ppid, []).append(int(entry))
    return kids


def _tree_rss(roots: list[int]) -> int:
    """Resident bytes of the processes ``roots`` and all their descendants."""
    kids, total, todo, seen = _children(), 0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except OSError:
            continue
        todo += kids.get(pid, [])
    return total


def timed(cmd: list[str], env: dict[str, str], extra_roots: list[int] | None = None) -> dict:
    """Run a command; return its wall time and the peak RSS of its tree (plus ``extra_roots``' trees)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, done = 0, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss([proc.pid, *(extra_roots or [])]))
            time.sleep(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    thread.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{err[-3000:]}")
    return {"seconds": round(seconds, 1), "peak_gib": round(peak / 1024**3, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=1000)
    parser.add_argument("--industries", type=int, default=300)
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--only", nargs="*", choices=["duckdb", "spark-local", "spark-cluster"],
                        default=["duckdb", "spark-local", "spark-cluster"])
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument("--worker-memory", default="3g")
    args = parser.parse_args()
    data = HERE / "data" / f"obs_{args.regions}x{args.industries}x{args.years}.parquet"
    if not data.exists():
        print(f"generating {data} ...", flush=True)
        generate(data, args.regions, args.industries, args.years)
    defs = data.with_suffix(".defs.csv")
    cli = [shutil.which("clusteratlas") or "clusteratlas"]
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
           "PYSPARK_DRIVER_PYTHON": sys.executable}
    rows = args.regions * args.industries * args.years
    results: list[tuple[str, int, dict]] = []
    with tempfile.TemporaryDirectory(prefix="bench-spark-") as tmp:
        out = Path(tmp)
        for engine in args.only:
            for run in range(1, args.runs + 1):
                shutil.rmtree(out / "res", ignore_errors=True)
                if engine == "duckdb":
                    cmd = [*cli, "map", "--data", str(data), "--clusters", str(defs), "--out",
                           str(out / "duck.parquet"), "--regions-out", str(out / "duck_regions.parquet")]
                    results.append((engine, run, timed(cmd, env)))
                elif engine == "spark-local":
                    cmd = [*cli, "map", "--engine", "spark", "--data", str(data), "--clusters", str(defs),
                           "--out", str(out / "res"), "--memory-limit", args.driver_memory]
                    results.append((engine, run, timed(cmd, {**env, "CLUSTERATLAS_SPARK_MASTER": "local[2]"})))
                else:
                    from clusteratlas.engines.standalone import standalone_cluster

                    with standalone_cluster(out / f"cluster{run}", memory=args.worker_memory) as cluster:
                        entry = subprocess.run([sys.executable, "-m", "clusteratlas.engines.submit"], env=env,
                                               capture_output=True, text=True, check=True).stdout.strip()
                        cmd = [str(cluster.home / "bin" / "spark-submit"), "--master", cluster.master,
                               "--deploy-mode", "client", "--conf", "spark.driver.host=127.0.0.1",
                               "--driver-memory", "1g", "--executor-memory", args.worker_memory,
                               "--conf", "spark.sql.shuffle.partitions=16", entry, "map", "--engine", "spark",
                               "--data", str(data), "--clusters", str(defs), "--out", str(out / "res")]
                        results.append((engine, run, timed(cmd, {**env, **cluster.env}, extra_roots=cluster.pids)))
                print(results[-1], flush=True)
    print(f"\n{rows:,} rows ({args.regions:,} regions × {args.industries:,} industries × {args.years} years)\n")
    print("| engine | run | wall time (s) | peak RSS of the process tree (GiB) |")
    print("|---|---:|---:|---:|")
    for engine, run, r in results:
        print(f"| {engine} | {run} | {r['seconds']} | {r['peak_gib']} |")


if __name__ == "__main__":
    main()
