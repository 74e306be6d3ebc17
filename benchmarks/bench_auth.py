"""A flood of wrong token secrets against ``clusteratlas serve``: the server's peak memory and /health latency.

Issue 20 item 5: a token id is public (the write log shows it), and each
wrong secret used to cost an Argon2 check (~0.15 s, 64 MiB). This script
builds the demo atlas, makes an editor token, serves the atlas on
127.0.0.1 and sends ``--rounds`` rounds of ``--clients`` concurrent
requests with that id and a wrong secret, while another client asks
``/api/v1/health`` every 50 ms. It reports /health latency idle and during
the flood, the answers by status, and the server's peak resident memory
(VmHWM). ``--legacy`` stores the token's hash as Argon2 (a token made before
the SHA-256 change and not used since); ``--serve-arg`` passes options to
``serve`` (e.g. ``--serve-arg=--auth-failures=100000/minute`` to see the
two-at-a-time bound without the per-address throttle).

Run it on this checkout, or on another one's source for a before/after:

    python benchmarks/bench_auth.py
    python benchmarks/bench_auth.py --legacy
    PYTHONPATH=/path/to/other/checkout/src python benchmarks/bench_auth.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

CLI = [sys.executable, "-c", "from clusteratlas.cli import run; run()"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmHWM:"))


def _atlas(folder: Path, legacy: bool) -> tuple[Path, str]:
    """The demo atlas with an editor token; with ``legacy``, the token's hash rewritten as Argon2."""
    path = folder / "demo.duckdb"
    subprocess.run([*CLI, "demo", "--atlas", str(path)], check=True, capture_output=True)
    made = subprocess.run([*CLI, "token", "create", "--role", "editor", "--atlas", str(path)], check=True,
                          capture_output=True, text=True)
    token = made.stdout.strip().splitlines()[-1]
    if legacy:
        import duckdb
        from argon2 import PasswordHasher

        con = duckdb.connect(str(path))
        con.execute("UPDATE api_tokens SET hash = ? WHERE id = ?", [PasswordHasher().hash(token), token.split("_")[1]])
        con.close()
    return path, token


def _health(base: str, stop: threading.Event, out: list[float], failed: list[str]) -> None:
    """Ask /health every 50 ms until ``stop``; a timeout (30 s) or error counts its time and is listed."""
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            start = time.perf_counter()
            try:
                client.get(base + "/api/v1/health").raise_for_status()
            except httpx.HTTPError as exc:
                failed.append(type(exc).__name__)
            out.append(time.perf_counter() - start)
            stop.wait(0.05)


async def _flood(base: str, token: str, clients: int, rounds: int) -> Counter:
    wrong = token[:-4] + ("abcd" if not token.endswith("abcd") else "wxyz")
    statuses: Counter = Counter()
    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=clients)) as client:
        for _ in range(rounds):
            answers = await asyncio.gather(*(client.get(base + "/api/v1/tokens",
                                                        headers={"Authorization": f"Bearer {wrong}"})
                                              for _ in range(clients)), return_exceptions=True)
            statuses.update(a.status_code if isinstance(a, httpx.Response) else type(a).__name__ for a in answers)
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--legacy", action="store_true", help="store the token's hash as Argon2")
    parser.add_argument("--serve-arg", action="append", default=[], help="an option for serve (repeatable)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-auth-") as tmp:
        path, token = _atlas(Path(tmp), args.legacy)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([*CLI, "serve", "--atlas", str(path), "--port", str(port), "--no-warm",
                                   *args.serve_arg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    if httpx.get(base + "/api/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            idle: list[float] = []
            stop = threading.Event()
            poller = threading.Thread(target=_health, args=(base, stop, idle, []))
            poller.start()
            time.sleep(2)
            stop.set()
            poller.join()
            before = _peak_rss_mb(server.pid)
            during: list[float] = []
            failed: list[str] = []
            stop = threading.Event()
            poller = threading.Thread(target=_health, args=(base, stop, during, failed))
            poller.start()
            start = time.perf_counter()
            statuses = asyncio.run(_flood(base, token, args.clients, args.rounds))
            seconds = time.perf_counter() - start
            stop.set()
            poller.join()
            result = {
                "source": os.environ.get("PYTHONPATH") or "this checkout", "legacy_argon2_hash": args.legacy,
                "serve_args": args.serve_arg, "clients": args.clients, "rounds": args.rounds,
                "flood_seconds": round(seconds, 2), "answers": dict(statuses),
                "load_average": os.getloadavg()[0],
                "health_idle_ms_p50": round(statistics.median(idle) * 1000, 1),
                "health_flood_ms_p50": round(statistics.median(during) * 1000, 1) if during else None,
                "health_flood_ms_max": round(max(during) * 1000, 1) if during else None,
                "health_flood_failed": dict(Counter(failed)),
                "peak_rss_mb_before": round(before), "peak_rss_mb": round(_peak_rss_mb(server.pid)),
            }
        finally:
            server.terminate()
            server.wait(30)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
