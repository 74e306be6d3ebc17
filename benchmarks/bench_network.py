"""Time the network CLI end to end on the Horizon 2020 participations: wall time, CPU time and peak RSS, two runs.

    PYTHONPATH=src python benchmarks/bench_network.py [/path/to/shared/data/actors]

Each command runs as its own process (the ``clusteratlas`` script, as a user
runs it) and is measured with ``os.wait4``: wall time, CPU time (user +
system; on a shared machine wall time includes waiting for a core) and the
peak RSS of that process. Commands: ``network import participations
--format h2020`` and ``network compute`` (betweenness from 500 sampled pivots
above 10,000 actors), then ``match --need`` and ``match --actor`` over the
35,871 actors. The matching query is also timed in process (the library call
a server makes), and the sampled betweenness is compared with exact values on
a subnetwork (a snowball sample of the Horizon 2020 network).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data" / "actors"
CLI = [str(Path(sys.executable).with_name("clusteratlas"))]


def timed(args: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one CLI process."""
    start = time.perf_counter()
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(proc.stderr.read().decode() if proc.stderr else "failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def example_actor(atlas: str) -> str:
    """An actor of middling rank (the 501st by degree): a typical query, not the largest hub."""
    import duckdb

    with duckdb.connect(atlas, read_only=True) as con:
        return con.execute("SELECT actor FROM network_metrics ORDER BY degree DESC, actor LIMIT 1 OFFSET 500"
                           ).fetchall()[0][0]


def library_query(atlas: str) -> None:
    """The matching query in process: with the index loaded from the atlas each call, and held in memory."""
    import duckdb

    from clusteratlas.networks.matching import _LOADED, match_actors, text_index

    con = duckdb.connect(atlas, read_only=True)
    actor = example_actor(atlas)
    n = con.execute("SELECT count(*) FROM actors").fetchall()[0][0]
    for label, kwargs in (("need", {"need": "hydrogen fuel cells"}), ("actor", {"actor": actor})):
        _LOADED.clear()  # the first call of a process reads the index (and adjacency) from the atlas
        start = time.perf_counter()
        match_actors(con, "h2020", **kwargs)
        first = time.perf_counter() - start
        cold = []
        for _ in range(5):
            start = time.perf_counter()
            match_actors(con, "h2020", **kwargs)
            cold.append(time.perf_counter() - start)
        index = text_index(con, "h2020")
        warm = []
        for _ in range(5):
            start = time.perf_counter()
            match_actors(con, "h2020", index=index, **kwargs)
            warm.append(time.perf_counter() - start)
        print(f"library match --{label} over {n:,} actors: first call {1000 * first:6.0f} ms; index read from "
              f"the atlas {1000 * statistics.median(cold):6.0f} ms, index in memory "
              f"{1000 * statistics.median(warm):6.0f} ms (median of 5)", flush=True)
    con.close()


def betweenness_error(atlas: str, size: int = 5000, pivots: tuple[int, ...] = (200, 500, 1000)) -> None:
    """Sampled against exact betweenness on a snowball subnetwork of ``size`` actors (seeded)."""
    import duckdb
    import numpy as np
    from scipy.stats import spearmanr

    from clusteratlas.networks.analysis import betweenness, load_network

    con = duckdb.connect(atlas, read_only=True)
    graph = load_network(con, "h2020").graph
    con.close()
    rng = np.random.default_rng(0)
    giant = graph.connected_components().giant()
    order = giant.bfs(int(rng.integers(giant.vcount())))[0][:size]
    sub = giant.induced_subgraph(order)
    start = time.process_time()
    exact, _ = betweenness(sub, max_exact=size)
    exact_cpu = time.process_time() - start
    top = np.argsort(-exact)[:50]
    print(f"subnetwork: {sub.vcount():,} actors, {sub.ecount():,} ties (snowball of the giant component, seed 0); "
          f"exact betweenness {exact_cpu:.1f} CPU s", flush=True)
    for k in pivots:
        errors, rho_all, rho_top, overlap = [], [], [], []
        start = time.process_time()
        for seed in range(5):
            est, _ = betweenness(sub, max_exact=0, pivots=k, seed=seed)
            errors.append(float(np.median(np.abs(est[top] - exact[top]) / exact[top])))
            rho_all.append(spearmanr(est, exact).statistic)
            top500 = np.argsort(-exact)[:500]
            rho_top.append(spearmanr(est[top500], exact[top500]).statistic)
            overlap.append(len(set(np.argsort(-est)[:100]) & set(np.argsort(-exact)[:100])) / 100)
        cpu = (time.process_time() - start) / 5
        print(f"  k={k:5d} pivots: median relative error of the top 50 {np.median(errors):.1%}; Spearman rho "
              f"all {np.median(rho_all):.3f}, top 500 {np.median(rho_top):.3f}; top-100 overlap "
              f"{np.median(overlap):.0%}; {cpu:.1f} CPU s (medians over seeds 0-4)", flush=True)


def main() -> None:
    h2020 = DATA / "eu_h2020_participations" / "h2020.csv.gz"
    keep = None
    for run in (1, 2):
        tmp = tempfile.mkdtemp(prefix="bench-network-")
        atlas = str(Path(tmp) / "bench.duckdb")
        subprocess.run([*CLI, "init", "--atlas", atlas], check=True, stdout=subprocess.DEVNULL)
        for label, args in (("import", ["network", "import", "participations", str(h2020), "--format", "h2020",
                                         "-n", "h2020", "-a", atlas]),
                            ("compute", ["network", "compute", "-a", atlas]),
                            ("match --need", ["match", "--need", "hydrogen fuel cells", "-a", atlas]),
                            ("match --actor", ["match", "--actor", "{actor}", "-a", atlas]),
                            ("--help", ["--help"])):
            if "{actor}" in args:
                args = [a.replace("{actor}", example_actor(atlas)) for a in args]
            wall, cpu, mb = timed(args)
            print(f"run {run} {label:14s} wall {wall:6.1f} s  CPU {cpu:6.1f} s  peak RSS {mb:6.0f} MB", flush=True)
        keep = atlas
        if run == 1:
            shutil.rmtree(tmp)
    try:
        library_query(keep)
        betweenness_error(keep)
    finally:
        shutil.rmtree(Path(keep).parent)


if __name__ == "__main__":
    main()
