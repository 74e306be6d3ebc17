"""Benchmark of local Moran's I with conditional permutations for many series at once.

3,000 regions on a 60 × 50 queen lattice (up to 8 neighbours, like county
adjacency) × 1,000 series, the default permutations (sequential: 999 for every
test, up to ⌈3,000 / 0.05⌉ − 1 = 59,999 where a p-value is small) or a fixed
number (``--permutations 999``, the old default), FDR control included; esda's
Moran_Local on a few of the same series for comparison (it runs one series
per call; without numba installed it uses its pure-Python path).

    python benchmarks/bench_spatial.py
    python benchmarks/bench_spatial.py --permutations 999
    python benchmarks/bench_spatial.py --series 100 --esda-series 2
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=60)
    parser.add_argument("--cols", type=int, default=50)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--permutations", type=int, default=None,
                        help="a fixed number per test (default: sequential, the library's default)")
    parser.add_argument("--esda-series", type=int, default=3)
    args = parser.parse_args()

    import libpysal

    from clusteratlas.relate.spatial import local_moran, weights_from_libpysal

    w = libpysal.weights.lat2W(args.rows, args.cols, rook=False)
    n = args.rows * args.cols
    rng = np.random.default_rng(0)
    y = rng.lognormal(size=(n, args.series))
    y[: n // 10] *= 3  # a band of high values, so there is something to find
    matrix = weights_from_libpysal(w)
    start, cpu = time.perf_counter(), time.process_time()
    result = local_moran(y, matrix, permutations=args.permutations, seed=0)
    ours, ours_cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    from clusteratlas.relate.spatial import FIRST, needed_permutations

    how = (f"{args.permutations} permutations" if args.permutations else
           f"sequential permutations ({FIRST} to {needed_permutations(n):,}; {result.permutations.sum():,.0f} "
           f"draws in all, {result.permutations.mean():,.0f} per test on average)")
    print(f"\n{n:,} regions × {args.series:,} series, {how}\n")
    print("| implementation | series | wall time (s) | CPU time (s) | per series (s) | peak memory (GiB) |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| clusteratlas local_moran | {args.series:,} | {ours:.1f} | {ours_cpu:.1f} | {ours / args.series:.4f} "
          f"| {peak:.2f} |")
    if args.esda_series:
        import esda

        start = time.perf_counter()
        for j in range(args.esda_series):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                esda.Moran_Local(y[:, j], w, permutations=args.permutations or FIRST, seed=0)
        theirs = time.perf_counter() - start
        print(f"| esda Moran_Local | {args.esda_series} | {theirs:.1f} | | {theirs / args.esda_series:.4f} | |")
    print(f"\nhot spots (FDR 5 %): {int(result.significant.sum()):,} of {result.significant.size:,} cells")


if __name__ == "__main__":
    main()
