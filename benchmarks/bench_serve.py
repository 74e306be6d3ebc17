"""Load benchmark of ``clusteratlas serve``: latency under 50 concurrent clients, errors, server memory.

For each atlas (the CBP 2019 metro atlas from ../shared/data with the
benchmark definition, and a synthetic 3,000-region × 67-cluster × 20-year
atlas) the server is started as ``clusteratlas serve`` in its own process
on 127.0.0.1, then a bounded asyncio loop of httpx clients (50 at once,
``--seconds`` per scenario, loopback only) asks:

  region profile   /api/v1/regions/{random region}
  cluster ranking  /api/v1/clusters/{random cluster}/ranking?metric=lq&top=20
  map layer        /api/v1/clusters/{random cluster}/map?metric=lq (every region of the level)

first with one client (the cost of one answer, cache mostly cold), then with 50,
and reports p50/p95/p99 latency, requests/s, errors (any non-200) and the
server's peak resident memory (VmHWM). The same answers are then timed from
the CLI (``clusteratlas show region`` / ``show cluster``, a fresh process each).
The clients run on the same machine as the server, so the figures include
their CPU use. Run:

    python benchmarks/bench_serve.py                  # both atlases, 30 s per scenario
    python benchmarks/bench_serve.py --seconds 5 --only synthetic
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
CLIENTS = 50


def build_cbp(path: Path) -> None:
    """CBP 2019 by CBSA (six-digit NAICS 2017) mapped with the benchmark definition (the tests' atlas)."""
    sys.path.insert(0, str(HERE.parent))
    from tests.conftest import cbp2019_atlas

    cbp2019_atlas(path.parent, path.name)


def build_synthetic(path: Path, regions: int = 3000, years: int = 20) -> None:
    """3,000 regions × 67 clusters (two industries each) × 20 years, mapped."""
    sys.path.insert(0, str(HERE))
    from bench_map import N_CLUSTERS, generate

    from clusteratlas import Atlas

    data = path.with_suffix(".parquet")
    generate(data, regions, 2 * N_CLUSTERS, years)
    with Atlas(path, create=True) as atlas:
        atlas.import_file("definitions", data.with_suffix(".defs.csv"), name="synthetic")
        atlas.import_file("observations", data, name="synthetic")
        atlas.map()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _load(base: str, paths: list[str], seconds: float, clients: int = CLIENTS) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    rng = random.Random(1)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                path = rng.choice(paths)
                t0 = time.perf_counter()
                try:
                    r = await client.get(path)
                    await r.aread()
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        await asyncio.gather(*(worker() for _ in range(clients)))
    q = statistics.quantiles(latencies, n=100)
    return {"requests": len(latencies), "errors": errors, "rps": round(len(latencies) / seconds, 1),
            "p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1), "p99_ms": round(q[98] * 1000, 1)}


def _cli_seconds(args: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from clusteratlas.cli import run; run()", *args], check=True,
                       capture_output=True, env={**os.environ, "COLUMNS": "200"})
        best = min(best, time.perf_counter() - t0)
    return round(best, 2)


def bench(name: str, atlas: Path, seconds: float) -> dict:
    import duckdb

    con = duckdb.connect(str(atlas), read_only=True)
    regions = [r[0] for r in con.execute("SELECT DISTINCT region FROM results_regions").fetchall()]
    clusters = [r[0] for r in con.execute("SELECT DISTINCT cluster FROM results_clusters").fetchall()]
    con.close()
    from urllib.parse import quote

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-c", "from clusteratlas.cli import run; run()", "serve",
                               "--atlas", str(atlas), "--port", str(port), "--read-only"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(200):
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        scenarios = {
            "region profile": [f"/api/v1/regions/{quote(r, safe='')}" for r in regions],
            "cluster ranking": [f"/api/v1/clusters/{quote(c, safe='')}/ranking?metric=lq&top=20" for c in clusters],
            "map layer": [f"/api/v1/clusters/{quote(c, safe='')}/map?metric=lq" for c in clusters],
        }
        out = {name: {}}
        for label, paths in scenarios.items():  # one client first (the cost of an answer), then 50 at once
            out[name][label + ", 1 client"] = asyncio.run(_load(base, paths, max(seconds / 3, 2), clients=1))
            print(name, label, "1 client", out[name][label + ", 1 client"], flush=True)
            out[name][label] = asyncio.run(_load(base, paths, seconds))
            print(name, label, out[name][label], flush=True)
        out[name]["server_peak_rss_mb"] = round(_peak_rss_mb(server.pid), 1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    region, cluster = regions[len(regions) // 2], clusters[0]
    out[name]["cli_show_region_s"] = _cli_seconds(["show", "region", region, "--atlas", str(atlas)])
    out[name]["cli_show_cluster_s"] = _cli_seconds(["show", "cluster", cluster, "--atlas", str(atlas)])
    out[name]["regions"], out[name]["clusters"] = len(regions), len(clusters)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="load per scenario (default 30)")
    parser.add_argument("--only", choices=("cbp", "synthetic"))
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, build in (("cbp", build_cbp), ("synthetic", build_synthetic)):
        if args.only and args.only != name:
            continue
        atlas = DATA / f"serve-{name}.duckdb"
        if not atlas.exists():
            t0 = time.perf_counter()
            build(atlas)
            print(f"built {atlas} in {time.perf_counter() - t0:.0f} s", flush=True)
        results.update(bench(name, atlas, args.seconds))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
