"""The floor for the map pipeline: plain DuckDB SQL doing the least work any import + map must do.

Run as its own process by benchmarks/bench_commands.py (its wall time and peak
memory are measured from outside, like every command's):

    python benchmarks/floor.py OBSERVATIONS.parquet DEFINITIONS.csv OUT.duckdb

In one DuckDB file, as an atlas is:
  1. load the Parquet file into a typed table (region, industry, year,
     employment, establishments, payroll);
  2. the key checks: missing keys or employment, negative values, and duplicate
     region × industry × year (the run fails, exit code 2, if any is found);
  3. load the definition and join it to group the observations into
     region × cluster × year (employment, establishments, payroll) in a table;
     industries without a cluster are kept as one group (cluster NULL), as the
     unmapped report needs them.

DuckDB runs with the setting clusteratlas uses (`preserve_insertion_order`
off) and its default memory limit. The last line printed is JSON: the
seconds of each stage (measured inside; the harness reports the process's)
and the row counts.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import duckdb


def _sql_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def floor(data: Path, definitions: Path, out: Path) -> dict:
    """Run the three stages into the DuckDB file ``out``; return stage seconds, counts and problems."""
    con = duckdb.connect(str(out), config={"preserve_insertion_order": False})
    stages: dict[str, float] = {}
    start = time.perf_counter()
    con.execute("""CREATE TABLE observations (region VARCHAR, industry VARCHAR, year INTEGER,
                   employment DOUBLE, establishments DOUBLE, payroll DOUBLE)""")
    con.execute(f"""INSERT INTO observations
        SELECT CAST(region AS VARCHAR), CAST(industry AS VARCHAR), CAST(year AS INTEGER),
               CAST(employment AS DOUBLE), CAST(establishments AS DOUBLE), CAST(payroll AS DOUBLE)
        FROM read_parquet({_sql_path(data)})""")
    stages["load"] = time.perf_counter() - start

    start = time.perf_counter()
    missing, negative = con.execute("""SELECT
        count(*) FILTER (WHERE region IS NULL OR industry IS NULL OR year IS NULL OR employment IS NULL),
        count(*) FILTER (WHERE employment < 0 OR establishments < 0 OR payroll < 0)
        FROM observations""").fetchall()[0]
    duplicates = con.execute("""SELECT count(*) FROM (SELECT region, industry, year FROM observations
        GROUP BY ALL HAVING count(*) > 1)""").fetchall()[0][0]
    stages["checks"] = time.perf_counter() - start

    start = time.perf_counter()
    con.execute(f"""CREATE TABLE definitions AS SELECT industry, cluster, type
        FROM read_csv({_sql_path(definitions)}, all_varchar = true)""")
    con.execute("""CREATE TABLE clusters AS
        SELECT o.region, d.cluster, o.year, sum(o.employment) AS employment,
               sum(o.establishments) AS establishments, sum(o.payroll) AS payroll
        FROM observations o LEFT JOIN definitions d USING (industry) GROUP BY ALL""")
    stages["group"] = time.perf_counter() - start
    rows_in = con.execute("SELECT count(*) FROM observations").fetchall()[0][0]
    rows_out = con.execute("SELECT count(*) FROM clusters").fetchall()[0][0]
    con.close()
    return {"stages": {k: round(v, 2) for k, v in stages.items()}, "rows_in": rows_in, "rows_out": rows_out,
            "missing": missing, "negative": negative, "duplicates": duplicates}


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    data, definitions, out = (Path(a) for a in sys.argv[1:])
    out.unlink(missing_ok=True)
    result = floor(data, definitions, out)
    print(json.dumps(result))
    if result["missing"] or result["negative"] or result["duplicates"]:
        print(f"{data}: {result['missing']} rows with a missing key or employment, {result['negative']} with "
              f"negative values, {result['duplicates']} duplicate region × industry × year", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
