"""Benchmark of the complexity chain: RCA → Mcp → proximity → density → ECI/PCI → COI/COG.

One dense year of 3,000 regions × 1,000 industries (seeded, nested structure),
measured for clusteratlas.relate and for the Growth Lab's ecomplexity package
(`pip install ecomplexity pandas`), each in its own process: wall time of the
work (clusteratlas: the first, cold run and the median of five) and the
process's peak resident memory (interpreter and input matrix included).

    python benchmarks/bench_complexity.py
    python benchmarks/bench_complexity.py --regions 300 --industries 100
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time


def economy(regions: int, industries: int, seed: int = 1):
    import numpy as np

    rng = np.random.default_rng(seed)
    capability = rng.uniform(size=regions)[:, None]
    difficulty = rng.uniform(size=industries)[None, :]
    return 100.0 * np.exp(rng.normal(size=(regions, industries)) * 0.5) * (1 + 4 * (capability > difficulty))


def run_clusteratlas(values) -> float:
    from clusteratlas.relate import eci_pci, outlook, presence, proximity, rca

    start = time.perf_counter()
    m = presence(rca(values))
    phi = proximity(m)
    result = eci_pci(m)
    _, coi, cog = outlook(m, result.pci, phi)
    seconds = time.perf_counter() - start
    assert coi.shape == (values.shape[0],) and cog.shape == values.shape
    return seconds


def run_ecomplexity(values) -> float:
    import warnings

    import numpy as np
    import pandas as pd
    from ecomplexity import ecomplexity

    r, i = np.meshgrid(np.arange(values.shape[0]), np.arange(values.shape[1]), indexing="ij")
    frame = pd.DataFrame({"year": 2020, "region": r.ravel(), "industry": i.ravel(), "emp": values.ravel()})
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ecomplexity(frame, {"time": "year", "loc": "region", "prod": "industry", "val": "emp"},
                    check_logsupermodularity=False, verbose=False)
    return time.perf_counter() - start


RUNNERS = {"clusteratlas": run_clusteratlas, "ecomplexity": run_ecomplexity}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=3000)
    parser.add_argument("--industries", type=int, default=1000)
    parser.add_argument("--run", choices=list(RUNNERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        values = economy(args.regions, args.industries)
        repeats = 5 if args.run == "clusteratlas" else 1  # ecomplexity takes ~30 s a run
        times = [RUNNERS[args.run](values) for _ in range(repeats)]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        print(json.dumps({"name": args.run, "cold": round(times[0], 3), "seconds": round(statistics.median(times), 3),
                          "runs": repeats, "peak_gib": round(peak, 3)}))
        return
    results = []
    for name in RUNNERS:
        out = subprocess.run([sys.executable, __file__, "--run", name, "--regions", str(args.regions),
                              "--industries", str(args.industries)], capture_output=True, text=True, check=False)
        if out.returncode:
            results.append({"name": name, "error": (out.stderr.strip().splitlines() or ["failed"])[-1]})
        else:
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"\n{args.regions:,} regions × {args.industries:,} industries, one year\n")
    print("| implementation | first run (s) | median of runs (s) | runs | peak memory (GiB) | ecomplexity ÷ this |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        if "error" in r:
            print(f"| {r['name']} | error: {r['error']} | | | | |")
            continue
        ratio = results[1]["seconds"] / r["seconds"] if "seconds" in results[1] else float("nan")
        print(f"| {r['name']} | {r['cold']:.3f} | {r['seconds']:.3f} | {r['runs']} | {r['peak_gib']:.3f} "
              f"| {ratio:.1f} |")


if __name__ == "__main__":
    main()
