"""Benchmark of `clusteratlas define` with all three relatedness measures on 1,000 industries, end to end.

Builds a synthetic atlas (900 regions × 1,000 six-digit industries in 60
co-locating groups), a BEA-style Use table (1,000 × 1,000 plus totals and final
demand, as published) and a BLS-style long occupation matrix (1,000 industries
× 800 occupations, one cell in ten suppressed), then times the CLI command
(`define --k 60 --io … --occupations … --compare …`) in a fresh process, twice:
wall time and peak RSS of the child (resource.getrusage(RUSAGE_CHILDREN)).

    PYTHONPATH=src python benchmarks/bench_define.py
    PYTHONPATH=src python benchmarks/bench_define.py --industries 300 --runs 1
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def build(folder: Path, industries: int, regions: int, occupations: int, groups: int) -> dict[str, Path]:
    """Synthetic inputs whose industries of one group co-locate, trade with each other and share occupations."""
    import duckdb

    from clusteratlas import Atlas

    rng = np.random.default_rng(0)
    codes = [f"{311000 + i:06d}" for i in range(industries)]
    group = rng.integers(0, groups, industries)
    factor = rng.lognormal(0, 1, (regions, groups))
    emp = np.rint(rng.lognormal(4, 1, (regions, 1)) * factor[:, group] * rng.lognormal(0, .5, (regions, industries)))
    emp[rng.random(emp.shape) < 0.3] = 0
    r, i = np.nonzero(emp)
    con = duckdb.connect()
    con.execute("CREATE TABLE o AS SELECT * FROM (SELECT unnest(?) AS region, unnest(?) AS industry, 2019 AS year, "
                "unnest(?) AS employment, unnest(?) AS establishments)",
                [[f"R{x:04d}" for x in r], [codes[x] for x in i], emp[r, i].tolist(),
                 np.maximum(1, emp[r, i] // 20).tolist()])
    con.execute(f"COPY o TO '{folder / 'obs.parquet'}'")
    con.close()
    with Atlas(folder / "atlas.duckdb", create=True) as atlas:
        atlas.import_file("observations", folder / "obs.parquet", name="synthetic")
    same = group[:, None] == group[None, :]
    flows = np.rint(rng.exponential(1, (industries, industries)) * np.where(same, 20, 1))
    with gzip.open(folder / "use.csv.gz", "wt", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["code", *codes, "T001", "F01000"])
        for a, code in enumerate(codes):
            w.writerow([code, *flows[a].astype(int).tolist(), int(flows[a].sum()), 7])
        w.writerow(["V00100", *([3] * industries), 3 * industries, 0])
    occ_factor = rng.lognormal(0, 1.5, (groups, occupations))
    with gzip.open(folder / "nem.csv.gz", "wt", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["nem_industry_code", "occ_code", "occ_type", "emp_2014_thousands"])
        for a, code in enumerate(codes):
            mix = occ_factor[group[a]] * rng.lognormal(0, .5, occupations)
            for o in range(occupations):
                value = "*" if rng.random() < 0.1 else f"{mix[o]:.2f}"
                w.writerow([code, f"{11 + o // 100}-{o:04d}", "Line item", value])
    with open(folder / "reference.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["industry", "cluster", "type"])
        w.writerows([code, f"G{group[a]:02d}", "traded"] for a, code in enumerate(codes))
    return {"atlas": folder / "atlas.duckdb", "use": folder / "use.csv.gz", "nem": folder / "nem.csv.gz",
            "reference": folder / "reference.csv"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--industries", type=int, default=1000)
    parser.add_argument("--regions", type=int, default=900)
    parser.add_argument("--occupations", type=int, default=800)
    parser.add_argument("--groups", type=int, default=60)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        files = build(folder, args.industries, args.regions, args.occupations, args.groups)
        print(f"inputs built in {time.perf_counter() - start:.1f} s: {args.regions} regions × {args.industries} "
              f"industries; IO {args.industries}²; {args.industries} × {args.occupations} occupations\n")
        print("| run | wall time (s) | peak RSS (MiB) | ARI vs planted groups |")
        print("|---:|---:|---:|---:|")
        script = Path(sys.executable).with_name("clusteratlas")  # the installed command, as a user runs it
        cmd = [str(script), "define", "--atlas", str(files["atlas"]),
               "--out", str(folder / "derived.csv"), "--k", str(args.groups), "--io", str(files["use"]),
               "--occupations", str(files["nem"]), "--compare", str(files["reference"]), "--wide"]
        for run in range(1, args.runs + 1):
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                sys.exit(proc.stdout + proc.stderr)
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # max over children so far
            derived = next((line for line in proc.stdout.splitlines() if line.strip("│ ").startswith("derived")), "")
            ari = derived.split("│")[2].strip() if "│" in derived else "?"
            print(f"| {run} | {wall:.1f} | {peak:.0f} | {ari} |")


if __name__ == "__main__":
    main()
