"""What a write costs beside a running server: in place versus copy-and-swap (issue 21).

A write to an atlas that nobody reads happens in the file itself; a write to
an atlas that a server (or any reader) has open copies the file, writes the
copy and renames it over the atlas (docs/architecture.md, "One writer, many
readers"). This times, as the commands a user runs (one process each, best of
``--runs``):

  token create     the smallest write: in place, then beside ``clusteratlas serve`` (what the copy costs)
  import + map     a second year of observations (2019 × 1.05, labelled 2020), then ``map``, both ways

and, inside one process, what the write protocol itself costs: opening the
atlas for writing and closing it with nothing written (in place: the lock;
beside a reader: the lock, the copy, fsync and the rename).

on the CBP 2019 metro atlas (../shared/data, built as the tests build it), and
reports the file's size and the seconds of each.

Run:

    python benchmarks/bench_swap.py              # about two minutes
    python benchmarks/bench_swap.py --runs 5
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLI = str(Path(sys.executable).with_name("clusteratlas"))


def _run(*args: object) -> float:
    start = time.perf_counter()
    subprocess.run([CLI, *map(str, args)], check=True, capture_output=True)
    return time.perf_counter() - start


def _serving(path: Path) -> subprocess.Popen:
    """``clusteratlas serve`` on ``path`` (no warm-up), once it answers."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([CLI, "serve", "--atlas", str(path), "--port", str(port), "--no-warm"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def _protocol(path: Path, runs: int) -> float:
    """Best seconds of ``Atlas(path)`` opened for writing and closed with nothing written."""
    from clusteratlas import Atlas

    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        Atlas(path).close()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    import duckdb
    from tests.conftest import cbp2019_atlas

    folder = Path(tempfile.mkdtemp(prefix="bench-swap-"))
    try:
        built = cbp2019_atlas(folder, "built.duckdb")
        obs2020 = folder / "cbp2020.parquet"
        with duckdb.connect() as con:
            con.execute(f"COPY (SELECT region, industry, 2020 AS year, round(employment * 1.05) AS employment, "
                        f"establishments FROM '{folder / 'obs.parquet'}') TO '{obs2020}'")
        print(f"CBP 2019 metro atlas: {built.stat().st_size / 1e6:,.1f} MB")
        rows = []
        for mode in ("in place", "beside a server"):
            path = folder / "atlas.duckdb"
            token, import_, map_ = [], [], []
            shutil.copyfile(built, path)
            if mode == "in place":
                protocol = _protocol(path, args.runs)
            else:
                from clusteratlas import Atlas

                with Atlas(path, read_only=True):
                    protocol = _protocol(path, args.runs)
            for _ in range(args.runs):
                shutil.copyfile(built, path)
                server = _serving(path) if mode == "beside a server" else None
                try:
                    token.append(_run("token", "create", "--role", "editor", "--atlas", path))
                    import_.append(_run("import", "observations", obs2020, "--name", "cbp2020", "--atlas", path))
                    map_.append(_run("map", "--atlas", path))
                    size = path.stat().st_size
                finally:
                    if server is not None:
                        server.send_signal(signal.SIGTERM)
                        server.wait(60)
            rows.append((mode, protocol, min(token), min(import_), min(map_), size))
        print(f"| write (best of {args.runs}) | open + close, nothing written | token create | "
              "import a second year | map (two years) | file after |")
        print("|---|---:|---:|---:|---:|---:|")
        for mode, p, t, i, m, size in rows:
            print(f"| {mode} | {p * 1000:,.0f} ms | {t:.2f} s | {i:.2f} s | {m:.2f} s | {size / 1e6:,.1f} MB |")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
