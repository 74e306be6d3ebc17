"""What a visitor waits while a new map's answers are read (issue 21 item 3).

A server reads a new version's stored answers before it serves it
(:mod:`clusteratlas.server.service`), so the requests that meet the switch wait
for that read. This serves a copy of an atlas read-write (``clusteratlas serve
--no-warm``, its own process on 127.0.0.1), has one client ask a region profile
every 20 ms, runs ``clusteratlas map`` beside it (the command a user types), and
reports: the map's wall time, when the server first answered from the new
version (``X-Atlas-Version``) relative to the map's exit, and the slowest
requests during and after the map against the slowest before it.

    python benchmarks/bench_switch.py --atlas benchmarks/data/synthetic.duckdb
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_answers import CLI, paths, serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--atlas", type=Path, required=True, help="a mapped atlas (copied, not changed)")
    args = parser.parse_args()
    atlas = args.atlas.with_name(args.atlas.stem + "-switch.duckdb")
    shutil.copyfile(args.atlas, atlas)
    profile = paths(atlas)["region profile"][0]
    proc, base = serve(atlas, None, read_only=False)
    log: list[tuple[float, float, str | None]] = []  # (start, seconds, version)
    stop = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            while not stop.is_set():
                start = time.monotonic()
                got = client.get(profile)
                got.raise_for_status()
                log.append((start, time.monotonic() - start, got.headers.get("X-Atlas-Version")))
                time.sleep(0.02)

    thread = threading.Thread(target=poll)
    try:
        thread.start()
        time.sleep(2)
        before = log[-1][2]
        start = time.monotonic()
        subprocess.run([*CLI, "map", "--atlas", str(atlas)], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        end = time.monotonic()
        while log[-1][2] == before and time.monotonic() - end < 120:
            time.sleep(0.01)
        time.sleep(2)
    finally:
        stop.set()
        thread.join()
        proc.terminate()
        proc.wait(30)
        atlas.unlink(missing_ok=True)
    first_new = next(entry for entry in log if entry[2] != before)
    during = sorted((entry for entry in log if entry[0] >= start), key=lambda e: -e[1])
    print(f"map beside the server: {end - start:.1f} s; the new version first answered "
          f"{first_new[0] + first_new[1] - end:+.2f} s after the map exited")
    print(f"requests during and after the map: {len(during)}, slowest "
          f"{', '.join(f'{e[1] * 1e3:.0f} ms' for e in during[:3])}; slowest before it: "
          f"{max(e[1] for e in log if e[0] < start) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
