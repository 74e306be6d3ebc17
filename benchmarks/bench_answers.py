"""A server started cold (no warm-up) under load: region profiles, cluster rankings and map layers.

Issue 21 item 3: the common answers are stored with the map run, so a fresh
server answers them at full speed from its first request. This starts
``clusteratlas serve --read-only --no-warm`` on an atlas in its own process
on 127.0.0.1 (with the default answer cache, and again with ``--cache-mb 0``:
every request computed or read from the stored answers), and drives each
kind for ``--seconds`` with wrk at 50 connections (random paths over every
region or cluster; :mod:`bench_serve`'s Lua script, which prints p50/p95/p99).
A fresh server per scenario, so every one starts cold. The scenario "after a
write" serves a copy of the atlas read-write, makes a write through the CLI
beside it (``clusteratlas token create``, which the server takes as a new
version of the file: its answer cache and the stored answers it keeps in
memory start again), checks that the server reads the new version
(``X-Atlas-Version``), and then measures.

The server runs whatever ``clusteratlas`` the environment imports: to
compare with the code before the stored answers, run the same command with
``PYTHONPATH`` pointing at a checkout of that commit's ``src``.

Run:

    python benchmarks/bench_answers.py --atlas cbp.duckdb            # 30 s per scenario
    python benchmarks/bench_answers.py --build synthetic --atlas benchmarks/data/synthetic.duckdb
    python benchmarks/bench_answers.py --atlas cbp.duckdb --scenarios "after a write, cache on"
    python benchmarks/bench_answers.py --atlas synthetic.duckdb --scenarios "cold, cache on" --windows 6

``--windows N`` splits each measurement into N consecutive wrk runs of ``--seconds / N`` on the same server
and prints each window's figures: how a cold server's first seconds compare with its later ones.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_serve import CLIENTS, _free_port, _peak_rss_mb, _wrk, build_cbp, build_synthetic


def paths(atlas: Path) -> dict[str, list[str]]:
    """Every region profile, LQ ranking (top 20) and LQ map layer of the atlas, as the benchmark asks them."""
    with duckdb.connect(str(atlas), read_only=True) as con:
        regions = [r[0] for r in con.execute("SELECT DISTINCT region FROM results_regions ORDER BY 1").fetchall()]
        clusters = [r[0] for r in con.execute("SELECT DISTINCT cluster FROM results_clusters ORDER BY 1").fetchall()]
    api = "/api/v1"
    return {"region profile": [f"{api}/regions/{quote(r, safe='')}" for r in regions],
            "cluster ranking": [f"{api}/clusters/{quote(c, safe='')}/ranking?metric=lq&top=20" for c in clusters],
            "map layer": [f"{api}/clusters/{quote(c, safe='')}/map?metric=lq" for c in clusters]}


#: The scenarios: (answer cache in MB, None for the default; whether a write beside the server comes first).
SCENARIOS = {"cold, cache on": (None, False), "cold, cache off": (0, False), "after a write, cache on": (None, True)}
CLI = [sys.executable, "-c", "from clusteratlas.cli import run; run()"]


def serve(atlas: Path, cache_mb: float | None, read_only: bool = True) -> tuple[subprocess.Popen, str]:
    """A cold server (no warm-up) on a free port, once its health route answers."""
    port = _free_port()
    args = [*CLI, "serve", "--atlas", str(atlas), "--no-warm", "--port", str(port)]
    if read_only:
        args.append("--read-only")
    if cache_mb is not None:
        args += ["--cache-mb", str(cache_mb)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")


def _write_beside(base: str, atlas: Path) -> None:
    """A write through the CLI while the server runs (a new editor token), then wait until the server reads
    the new version of the file."""
    before = httpx.get(f"{base}/api/v1/overview", timeout=30).headers["X-Atlas-Version"]
    subprocess.run([*CLI, "token", "create", "--role", "editor", "--name", "bench", "--atlas", str(atlas)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while httpx.get(f"{base}/api/v1/overview", timeout=30).headers["X-Atlas-Version"] == before:
        if time.monotonic() > deadline:
            raise RuntimeError("the server still reads the version before the write")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--atlas", type=Path, required=True)
    parser.add_argument("--build", choices=("cbp", "synthetic"), help="build the atlas first if it is missing")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--windows", type=int, default=1,
                        help="consecutive wrk runs per measurement, each --seconds / N (figures per window)")
    args = parser.parse_args()
    if args.build and not args.atlas.exists():
        (build_cbp if args.build == "cbp" else build_synthetic)(args.atlas)
    figures = []
    for label in args.scenarios:
        cache_mb, write = SCENARIOS[label]
        for kind, listed in paths(args.atlas).items():
            atlas = args.atlas
            if write:  # a copy, as the write changes the file
                atlas = args.atlas.with_name(args.atlas.stem + "-write.duckdb")
                shutil.copyfile(args.atlas, atlas)
            load = os.getloadavg()[0]
            proc, base = serve(atlas, cache_mb, read_only=not write)
            try:
                if write:
                    _write_beside(base, atlas)
                windows = [_wrk(base, listed, args.seconds / args.windows, CLIENTS)
                           for _ in range(max(1, args.windows))]
                got = windows[0] if len(windows) == 1 else {"windows": windows}
                got["server_peak_mb"] = round(_peak_rss_mb(proc.pid))
            finally:
                proc.terminate()
                proc.wait(30)
                if write:
                    atlas.unlink(missing_ok=True)
            figures.append({"server": label, "kind": kind, "load_average": round(load, 2), **got})
            print(json.dumps(figures[-1]), flush=True)
    if args.out:
        args.out.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
