"""Library timing of map_clusters (LQ, stars, strong clusters, growth), and the benchmark economy's generator.

Not what users run: this calls the library function map_clusters inside one
Python process on a DuckDB view of the Parquet file, with no import (reading,
checking and storing the rows), so its figures are not the cost of mapping.
The commands users run are timed by benchmarks/bench_commands.py, whose
figures docs/benchmarks.md reports; this script stays for profiling
map_clusters on its own and for its pandas comparison.

Compares, on the same synthetic Parquet file (default 3,000 regions ×
1,000 industries × 20 years = 60 M rows):

  baseline      one DuckDB GROUP BY of the file to region × cluster × year
                (employment, establishments, payroll), stored in a table:
                the least work any implementation must do;
  clusteratlas  clusteratlas.map_clusters on DuckDB, results stored in a table;
  clusteratlas-800MB  the same with DuckDB's memory capped at 800 MB (it spills);
  pandas        a straightforward vectorised pandas implementation of the
                same metrics (needs `pip install pandas`).

Each runs in its own process; the figures are wall time of the work and
the process's peak resident memory (ru_maxrss). Run:

    python benchmarks/bench_map.py                 # all three, full size
    python benchmarks/bench_map.py --regions 300   # smaller, quicker
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
N_CLUSTERS, N_TRADED = 67, 51


def generate(path: Path, regions: int, industries: int, years: int) -> None:
    """A seeded synthetic economy; a seventh of region × industry pairs specialised."""
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT 'R' || lpad(r::VARCHAR, 5, '0') AS region, (100000 + i)::VARCHAR AS industry,
               (2000 + y)::INTEGER AS year,
               floor(abs(hash(r, i, y) % 5000) * (1 + (hash(r, i) % 7 = 0)::INTEGER * 5))::DOUBLE AS employment,
               (1 + abs(hash(r, i, y, 1)) % 40)::DOUBLE AS establishments,
               floor(abs(hash(r, i, y) % 5000) * 45.0)::DOUBLE AS payroll
        FROM range({regions}) a(r), range({industries}) b(i), range({years}) c(y)
    ) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)""")
    con.execute(f"""COPY (SELECT (100000 + i)::VARCHAR AS industry,
        'C' || lpad((i % {N_CLUSTERS})::VARCHAR, 2, '0') AS cluster,
        CASE WHEN i % {N_CLUSTERS} < {N_TRADED} THEN 'traded' ELSE 'local' END AS type
        FROM range({industries}) t(i)) TO '{path.with_suffix(".defs.csv")}' (HEADER)""")


def run_baseline(data: Path) -> int:
    import duckdb

    con = duckdb.connect(config={"preserve_insertion_order": False})
    con.execute(f"CREATE TABLE defs AS SELECT * FROM read_csv('{data.with_suffix('.defs.csv')}', all_varchar = true)")
    con.execute(f"""CREATE TABLE agg AS SELECT o.region, d.cluster, o.year, sum(o.employment) AS employment,
        sum(o.establishments) AS establishments, sum(o.payroll) AS payroll
        FROM read_parquet('{data}') o LEFT JOIN defs d USING (industry) GROUP BY ALL""")
    return con.execute("SELECT count(*) FROM agg").fetchall()[0][0]


def run_clusteratlas(data: Path, memory_limit: str | None = None) -> int:
    import narwhals as nw

    from clusteratlas import map_clusters
    from clusteratlas._sql import connect
    from clusteratlas.metrics import Engine

    con = connect(memory_limit=memory_limit)
    obs = con.sql(f"SELECT * FROM read_parquet('{data}')")
    defs = con.sql(f"SELECT * FROM read_csv('{data.with_suffix('.defs.csv')}', all_varchar = true)")
    result = map_clusters(nw.from_native(obs), nw.from_native(defs), engine=Engine(con), table="clusters")
    result.regions.to_native().query("r", "CREATE TABLE regions AS SELECT * FROM r")
    result.unmapped.to_native().query("u", "CREATE TABLE unmapped AS SELECT * FROM u")
    return con.execute("SELECT count(*) FROM clusters").fetchall()[0][0]


def run_pandas(data: Path) -> int:
    """The same metrics written as a straightforward vectorised pandas program."""
    import pandas as pd

    obs = pd.read_parquet(data)
    defs = pd.read_csv(data.with_suffix(".defs.csv"), dtype={"industry": str})
    df = obs.merge(defs, on="industry", how="left")
    df["cluster"] = df["cluster"].fillna("(unmapped)")
    df["type"] = df["type"].fillna("none")
    agg = df.groupby(["region", "cluster", "type", "year"], as_index=False)[
        ["employment", "establishments", "payroll"]].sum()
    totals = agg.groupby(["region", "year"])["employment"].transform("sum")
    agg["region_employment"] = totals
    agg["region_type"] = agg.groupby(["region", "type", "year"])["employment"].transform("sum")
    ref = agg.groupby(["cluster", "year"])["employment"].transform("sum")
    nat = agg.groupby("year")["employment"].transform("sum")
    nat_type = agg.groupby(["type", "year"])["employment"].transform("sum")
    agg = agg[agg["cluster"] != "(unmapped)"].copy()
    ref, nat, nat_type = ref[agg.index], nat[agg.index], nat_type[agg.index]
    agg["share_of_region"] = agg["employment"] / agg["region_employment"]
    agg["lq"] = agg["share_of_region"] / (ref / nat)
    agg["lq_within_type"] = (agg["employment"] / agg["region_type"]) / (ref / nat_type)
    agg["average_wage"] = agg["payroll"] / agg["employment"]
    peers = agg[agg["employment"] > 0].groupby(["cluster", "year"])
    q = pd.DataFrame({
        "size_cut": peers["employment"].quantile(0.9), "focus_cut": peers["share_of_region"].quantile(0.9),
        "emp25": peers["employment"].quantile(0.25), "est25": peers["establishments"].quantile(0.25),
        "lq25": peers["lq_within_type"].quantile(0.25), "lq50": peers["lq_within_type"].quantile(0.5),
        "lq75": peers["lq_within_type"].quantile(0.75), "lq90": peers["lq_within_type"].quantile(0.9),
    }).reset_index()
    agg = agg.merge(q, on=["cluster", "year"], how="left")
    agg["size"] = agg["employment"] >= agg["size_cut"]
    agg["specialization"] = agg["lq"] >= 2
    agg["focus"] = agg["share_of_region"] >= agg["focus_cut"]
    agg["stars"] = agg[["size", "specialization", "focus"]].sum(axis=1)
    ok = (agg["type"] == "traded") & (agg["employment"] > agg["emp25"]) & (agg["establishments"] > agg["est25"])
    agg["qualifying"] = ok & (agg["lq_within_type"] > agg["lq25"])
    agg["significant"] = ok & (agg["lq_within_type"] > agg["lq50"])
    agg["strong"] = ok & (agg["lq_within_type"] >= agg["lq75"]) & (agg["lq_within_type"] >= 1)
    agg["strong10"] = ok & (agg["lq_within_type"] >= agg["lq90"]) & (agg["lq_within_type"] >= 1)
    first = agg["year"].min()
    base = agg.loc[agg["year"] == first, ["region", "cluster", "employment"]].rename(
        columns={"employment": "employment_base"})
    agg = agg.merge(base, on=["region", "cluster"], how="left")
    agg["employment_change"] = agg["employment"] - agg["employment_base"]
    years = agg["year"] - first
    agg["employment_cagr"] = (agg["employment"] / agg["employment_base"]) ** (1 / years.where(years > 0)) - 1
    return len(agg)


RUNNERS = {"baseline": run_baseline, "clusteratlas": run_clusteratlas,
           "clusteratlas-800MB": lambda data: run_clusteratlas(data, "800MB"), "pandas": run_pandas}


def measure(name: str, data: Path) -> dict:
    """Run one implementation in a fresh process; return its rows, seconds and peak memory."""
    out = subprocess.run([sys.executable, __file__, "--run", name, "--data", str(data)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"name": name, "error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regions", type=int, default=3000)
    parser.add_argument("--industries", type=int, default=1000)
    parser.add_argument("--years", type=int, default=20)
    parser.add_argument("--only", nargs="*", choices=list(RUNNERS), default=list(RUNNERS))
    parser.add_argument("--run", choices=list(RUNNERS), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        start = time.perf_counter()
        rows = RUNNERS[args.run](args.data)
        seconds = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
        print(json.dumps({"name": args.run, "rows": rows, "seconds": round(seconds, 2), "peak_gib": round(peak, 2)}))
        return
    data = HERE / "data" / f"obs_{args.regions}x{args.industries}x{args.years}.parquet"
    if not data.exists():
        print(f"generating {data} ...", flush=True)
        generate(data, args.regions, args.industries, args.years)
    results = [measure(name, data) for name in args.only]
    base = next((r for r in results if r["name"] == "baseline" and "seconds" in r), None)
    print(f"\n{args.regions:,} regions × {args.industries:,} industries × {args.years} years "
          f"= {args.regions * args.industries * args.years:,} rows\n")
    print("| implementation | rows out | wall time (s) | peak memory (GiB) | × baseline |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        if "error" in r:
            print(f"| {r['name']} | error: {r['error']} | | | |")
            continue
        ratio = f"{r['seconds'] / base['seconds']:.2f}" if base else ""
        print(f"| {r['name']} | {r['rows']:,} | {r['seconds']:.2f} | {r['peak_gib']:.2f} | {ratio} |")


if __name__ == "__main__":
    main()
