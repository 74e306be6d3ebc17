"""Time the network CLI end to end on the Horizon 2020 participations: wall time and peak RSS, two runs.

    PYTHONPATH=src python benchmarks/bench_network.py [/path/to/shared/data/actors]

Runs ``network import participations --format h2020`` and ``network compute``
(betweenness from 200 sampled pivots above 10,000 actors), then one
``match --need`` over the network, each as a separate process measured with
``os.wait4`` (peak RSS of that process).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data" / "actors"
CLI = [str(Path(sys.executable).with_name("clusteratlas"))]


def timed(args: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ)
    _, status, rusage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(proc.stderr.read().decode() if proc.stderr else "failed")
    return time.perf_counter() - start, rusage.ru_maxrss / 1024


def main() -> None:
    h2020 = DATA / "eu_h2020_participations" / "h2020.csv.gz"
    for run in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            atlas = str(Path(tmp) / "bench.duckdb")
            subprocess.run([*CLI, "init", "--atlas", atlas], check=True, stdout=subprocess.DEVNULL)
            for label, args in (("import", ["network", "import", "participations", str(h2020), "--format", "h2020",
                                            "-n", "h2020", "-a", atlas]),
                                ("compute", ["network", "compute", "-a", atlas]),
                                ("match", ["match", "--need", "hydrogen fuel cells", "-a", atlas])):
                seconds, mb = timed(args)
                print(f"run {run} {label:8s} {seconds:7.1f} s  peak RSS {mb:7.0f} MB", flush=True)


if __name__ == "__main__":
    main()
