"""Load benchmark of ``clusteratlas serve``: latency under 50 concurrent clients, errors, server memory.

For each atlas (the CBP 2019 metro atlas from ../shared/data with the
benchmark definition, and a synthetic 3,000-region × 67-cluster × 20-year
atlas) the server is started as ``clusteratlas serve --read-only`` in its own
process on 127.0.0.1, and a bounded load generator asks, for random
regions/clusters from every one the atlas has:

  region profile   /api/v1/regions/{region}
  cluster ranking  /api/v1/clusters/{cluster}/ranking?metric=lq&top=20
  map layer        /api/v1/clusters/{cluster}/map?metric=lq (every region of the level)

in three server modes:

  cache off   ``--cache-mb 0``: every request computes its answer (the cold cost, at 1 and 50 clients);
  warmed      the default (cache on, ``--warm``): the time the background warm-up takes to compute every
              region profile, cluster ranking and map layer into the cache (polled on /api/v1/health,
              no load), then 1 and 50 clients on the warm cache;
  fresh       a fresh default server under load at once: 50 clients asking all three kinds (mixed) while
              the warm-up runs, and how far the warm-up got meanwhile (it yields to live requests).

For each it reports p50/p95/p99 latency, requests/s, errors (any non-2xx/3xx,
timeouts, socket errors) and the server's peak resident memory (VmHWM, summed
over worker processes). The same answers are then timed from the CLI
(``clusteratlas show region`` / ``show cluster``, a fresh process each, best
of three). The clients run on the same machine as the server; requests ask for
identity encoding (no gzip), as ``wrk`` does.

The load generator is ``wrk`` when it is installed (C, a few % of a core;
the output names the generator), else a bounded asyncio loop of httpx
clients in Python (which itself takes about one of the two cores here).
Install wrk:

    apt-get install -y wrk        # Debian/Ubuntu (brew install wrk on macOS)

Run:

    python benchmarks/bench_serve.py                  # both atlases, 30 s per scenario
    python benchmarks/bench_serve.py --seconds 5 --only synthetic
    python benchmarks/bench_serve.py --generator httpx --workers 2

The synthetic atlas is built once into benchmarks/data/ (git-ignored); delete
it to rebuild it with the current ``map`` (which stores results by level,
year and region: an older atlas answers region profiles more slowly).
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


WRK_SCRIPT = r"""
-- Random paths from a file (one a line); prints the figures as one JSON line.
local paths = {}
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  math.randomseed(1000 + (id or 0))
end
function request()
  return wrk.format("GET", paths[math.random(#paths)], {["Accept-Encoding"] = "identity"})
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\nWRK_JSON {"requests": %d, "duration_us": %d, "errors": %d, "kinds": {"connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d}, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def _wrk(base: str, paths: list[str], seconds: float, clients: int) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        script, listed = Path(tmp) / "paths.lua", Path(tmp) / "paths.txt"
        script.write_text(WRK_SCRIPT)
        listed.write_text("\n".join(paths) + "\n")
        threads = min(2, clients)
        run = subprocess.run(["wrk", "-t", str(threads), "-c", str(clients), "-d", f"{max(1, round(seconds))}s",
                              "--timeout", "30s", "-s", str(script), base, "--", str(listed)],
                             capture_output=True, text=True, check=True)
    line = next(x for x in run.stdout.splitlines() if x.startswith("WRK_JSON "))
    got = json.loads(line.removeprefix("WRK_JSON "))
    secs = got["duration_us"] / 1e6
    return {"requests": got["requests"], "errors": got["errors"], "rps": round(got["requests"] / secs, 1),
            **({"error_kinds": {k: v for k, v in got["kinds"].items() if v}} if got["errors"] else {}),
            "p50_ms": round(got["p50_us"] / 1000, 1), "p95_ms": round(got["p95_us"] / 1000, 1),
            "p99_ms": round(got["p99_us"] / 1000, 1)}


async def _httpx(base: str, paths: list[str], seconds: float | None, clients: int = CLIENTS) -> dict:
    """``clients`` at once for ``seconds``, random paths; or (``seconds`` None) each path once, in order."""
    import httpx

    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}
    rng = random.Random(1)
    queue = list(reversed(paths)) if seconds is None else None
    t_start = time.perf_counter()
    deadline = t_start + (seconds or 0)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30,
                                 headers={"Accept-Encoding": "identity"}) as client:
        async def worker() -> None:
            nonlocal errors
            while (queue if queue is not None else time.perf_counter() < deadline):
                path = queue.pop() if queue is not None else rng.choice(paths)
                t0 = time.perf_counter()
                try:
                    r = await client.get(path)
                    await r.aread()
                    kind = None if r.status_code == 200 else str(r.status_code)
                except httpx.HTTPError as exc:
                    kind = type(exc).__name__
                latencies.append(time.perf_counter() - t0)
                if kind is not None:
                    errors += 1
                    kinds[kind] = kinds.get(kind, 0) + 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - t_start
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0]] * 99
    return {"requests": len(latencies), "errors": errors, "rps": round(len(latencies) / elapsed, 1),
            **({"error_kinds": kinds} if errors else {}),
            "p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1), "p99_ms": round(q[98] * 1000, 1)}


def _load(generator: str, base: str, paths: list[str], seconds: float, clients: int) -> dict:
    if generator == "wrk":
        return _wrk(base, paths, seconds, clients)
    return asyncio.run(_httpx(base, paths, seconds, clients))


def _cli_seconds(args: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "from clusteratlas.cli import run; run()", *args], check=True,
                       capture_output=True, env={**os.environ, "COLUMNS": "200"})
        best = min(best, time.perf_counter() - t0)
    return round(best, 2)


def _tree_peak_rss_mb(pid: int) -> float:
    """VmHWM of a process and its children (uvicorn's workers), summed."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    return round(sum(_peak_rss_mb(p) for p in pids if Path(f"/proc/{p}/status").exists()), 1)


def _serve(atlas: Path, port: int, cache_mb: float | None, workers: int) -> subprocess.Popen:
    args = [sys.executable, "-c", "from clusteratlas.cli import run; run()", "serve", "--atlas", str(atlas),
            "--port", str(port), "--read-only", "--workers", str(workers)]
    if cache_mb is not None:
        args += ["--cache-mb", str(cache_mb), "--no-warm"]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import httpx

    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("the server did not start")


def _warm_status(base: str) -> dict:
    import httpx

    return httpx.get(f"{base}/api/v1/health", timeout=30).json()["warm_up"]


def _wait_warm(base: str, timeout: float = 3600) -> dict:
    """Poll the health route until the warm-up has finished (done, or the cache full); its status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _warm_status(base)
        if status["state"] in ("done", "full", "failed", "off"):
            return status
        time.sleep(0.5)
    return _warm_status(base)


def bench(name: str, atlas: Path, seconds: float, generator: str, workers: int = 1) -> dict:
    import duckdb

    con = duckdb.connect(str(atlas), read_only=True)
    regions = [r[0] for r in con.execute("SELECT DISTINCT region FROM results_regions ORDER BY 1").fetchall()]
    clusters = [r[0] for r in con.execute("SELECT DISTINCT cluster FROM results_clusters ORDER BY 1").fetchall()]
    con.close()
    from urllib.parse import quote

    scenarios = {
        "region profile": [f"/api/v1/regions/{quote(r, safe='')}" for r in regions],
        "cluster ranking": [f"/api/v1/clusters/{quote(c, safe='')}/ranking?metric=lq&top=20" for c in clusters],
        "map layer": [f"/api/v1/clusters/{quote(c, safe='')}/map?metric=lq" for c in clusters],
    }
    one = max(seconds / 3, 2)
    out: dict = {"generator": generator, "workers": workers, "regions": len(regions), "clusters": len(clusters),
                 "load_average_at_start": round(os.getloadavg()[0], 2)}
    for mode, cache_mb in (("cache off", 0), ("warmed", None)):
        port = _free_port()
        server = _serve(atlas, port, cache_mb, workers)
        base = f"http://127.0.0.1:{port}"
        try:
            if mode == "warmed":  # each worker process warms its own cache; health answers from one of them
                status = _wait_warm(base)
                out["warm-up (no load)"] = {**status, "load_average": round(os.getloadavg()[0], 2)}
                print(name, "warm-up", status, flush=True)
            for label, paths in scenarios.items():
                if mode == "cache off":  # a few answers first: the first reads of DuckDB's blocks are not the cost
                    asyncio.run(_httpx(base, random.Random(3).sample(paths, min(20, len(paths))), None, 1))
                for clients, secs in ((1, one), (CLIENTS, seconds)):
                    got = _load(generator, base, paths, secs, clients)
                    out[f"{label}, {mode}, {clients} client{'s' if clients > 1 else ''}"] = got
                    print(name, label, mode, clients, got, flush=True)
            out[f"server peak RSS MB, {mode}"] = _tree_peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    # a fresh server under load at once: the warm-up yields to the live requests
    port = _free_port()
    server = _serve(atlas, port, None, workers)
    base = f"http://127.0.0.1:{port}"
    try:
        mixed = [p for paths in scenarios.values() for p in paths]
        got = _load(generator, base, mixed, seconds, CLIENTS)
        got["warm_up_after_load"] = _warm_status(base)["text"]
        out[f"fresh server (warm-up running), mixed, {CLIENTS} clients"] = got
        print(name, "fresh server", got, flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    region, cluster = regions[len(regions) // 2], clusters[0]
    out["cli show region s"] = _cli_seconds(["show", "region", region, "--atlas", str(atlas)])
    out["cli show cluster s"] = _cli_seconds(["show", "cluster", cluster, "--atlas", str(atlas)])
    return {name: out}


def main() -> None:
    import shutil

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="load per scenario at 50 clients (default 30)")
    parser.add_argument("--only", choices=("cbp", "synthetic"))
    parser.add_argument("--generator", choices=("auto", "wrk", "httpx"), default="auto",
                        help="load generator (default: wrk when installed, else httpx)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if shutil.which("wrk") else "httpx"
    print(f"load generator: {generator}" + (" (wrk not found: apt-get install -y wrk)" if generator == "httpx"
                                            and args.generator == "auto" else ""), flush=True)
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
        results.update(bench(name, atlas, args.seconds, generator, args.workers))
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
