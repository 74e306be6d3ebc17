"""Issue 19 item 7: a CBP file's region totals are its total rows, not the sums of the published cells.

Cells with fewer than three establishments are not published, so a metro's six-digit cells add up to less
than its total row. Totals, shares of regional employment, the all-industry LQ and the reference economy take
the total rows; clusters (and the traded/local totals of the US project's LQ) stay sums of the cells.
"""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import invoke, query_atlas, shared_file

# a metro file as the Census Bureau publishes it: the total row '------', two-digit rows, six-digit cells
CBP = """msa,naics,emp_nf,empflag,emp,ap,est
10001,------,G,,1000,50000,90
10001,31----,G,,400,20000,10
10001,311111,G,,300,15000,5
10001,541511,G,,200,12000,20
10002,------,G,,500,20000,40
10002,311111,G,,100,4000,2
10002,541511,G,,250,10000,12
"""
DEFS = "industry,cluster,type\n311111,Food,traded\n541511,IT,traded\n"


def _atlas(tmp_path, runner, text: str = CBP):
    atlas = tmp_path / "a.duckdb"
    (tmp_path / "cbp.csv").write_text(text, encoding="utf-8")
    (tmp_path / "defs.csv").write_text(DEFS, encoding="utf-8")
    invoke(runner, "init", "--atlas", atlas)
    assert invoke(runner, "import", "definitions", tmp_path / "defs.csv", "--atlas", atlas).exit_code == 0
    res = invoke(runner, "import", "observations", tmp_path / "cbp.csv", "--format", "cbp", "--year", "2019",
                 "--atlas", atlas)
    assert res.exit_code == 0, res.output
    return atlas, " ".join(res.output.split())


def test_region_totals_shares_and_lq_use_the_total_rows_hand_worked(tmp_path, runner):
    atlas, note = _atlas(tmp_path, runner)
    # 10001: cells 500 of 1,000 (50 %); 10002: 350 of 500 (70 %)
    assert "region totals are the file's total rows (2 region-years): the 6-digit cells hold a median 60.0%" in note
    assert query_atlas(atlas, "SELECT region, year, employment, cells FROM region_totals ORDER BY 1") == [
        ("10001", 2019, 1000.0, 500.0), ("10002", 2019, 500.0, 350.0)]
    assert invoke(runner, "map", "--atlas", atlas).exit_code == 0
    regions = query_atlas(atlas, "SELECT region, employment, traded_employment, unmapped_employment "
                                 "FROM results_regions ORDER BY 1")
    assert regions == [("10001", 1000.0, 500.0, 500.0), ("10002", 500.0, 350.0, 150.0)]
    rows = {(r, c): (e, s, lq, lqt) for r, c, e, s, lq, lqt in query_atlas(
        atlas, "SELECT region, cluster, employment, share_of_region, lq, lq_within_type FROM results_clusters")}
    # E = 1,000 + 500 = 1,500 (the total rows); E_Food = 400, E_IT = 450 (the cells)
    assert rows[("10001", "Food")][:3] == (300.0, 0.3, pytest.approx((300 / 1000) / (400 / 1500)))
    assert rows[("10002", "IT")][1:3] == (0.5, pytest.approx((250 / 500) / (450 / 1500)))
    # the US project's LQ within traded employment keeps the cells: (300 / 500) / (400 / 850)
    assert rows[("10001", "Food")][3] == pytest.approx((300 / 500) / (400 / 850))
    # the two-digit row is not an industry, the total row is not one either
    assert query_atlas(atlas, "SELECT DISTINCT industry FROM observations ORDER BY 1") == [("311111",), ("541511",)]


def test_a_custom_region_adds_up_its_members_published_totals(tmp_path, runner):
    atlas, _ = _atlas(tmp_path, runner)
    (tmp_path / "custom.csv").write_text("region,member,name\nBOTH,10001,Both\nBOTH,10002,Both\n", encoding="utf-8")
    assert invoke(runner, "import", "custom-regions", tmp_path / "custom.csv", "--atlas", atlas).exit_code == 0
    assert invoke(runner, "map", "--level", "custom", "--atlas", atlas).exit_code == 0
    assert query_atlas(atlas, "SELECT employment FROM results_regions WHERE region = 'BOTH'") == [(1500.0,)]
    assert query_atlas(atlas, "SELECT share_of_region FROM results_clusters WHERE region = 'BOTH' AND cluster = "
                              "'Food'") == [(400 / 1500,)]


def test_a_file_without_total_rows_keeps_the_sums_of_its_cells(tmp_path, runner):
    no_totals = "\n".join(line for line in CBP.splitlines() if "------" not in line) + "\n"
    atlas, note = _atlas(tmp_path, runner, no_totals)
    assert "total rows" not in note
    assert query_atlas(atlas, "SELECT count(*) FROM region_totals") == [(0,)]
    assert invoke(runner, "map", "--atlas", atlas).exit_code == 0
    assert query_atlas(atlas, "SELECT region, employment FROM results_regions ORDER BY 1") == [
        ("10001", 500.0), ("10002", 350.0)]


def test_a_dataset_imported_again_replaces_its_totals_and_two_total_rows_are_refused(tmp_path, runner):
    atlas, _ = _atlas(tmp_path, runner)
    twice = CBP + "10002,------,G,,600,20000,40\n"
    (tmp_path / "twice.csv").write_text(twice, encoding="utf-8")
    res = invoke(runner, "import", "observations", tmp_path / "twice.csv", "--format", "cbp", "--year", "2019",
                 "--name", "cbp", "--replace", "--atlas", atlas)
    assert res.exit_code == 2 and "region 10002 has two total rows for 2019 (lines 6 and 9)" in res.output
    assert query_atlas(atlas, "SELECT count(*) FROM region_totals") == [(2,)]  # nothing half-written
    no_totals = "\n".join(line for line in CBP.splitlines() if "------" not in line) + "\n"
    (tmp_path / "cbp.csv").write_text(no_totals, encoding="utf-8")
    assert invoke(runner, "import", "observations", tmp_path / "cbp.csv", "--format", "cbp", "--year", "2019",
                  "--replace", "--atlas", atlas).exit_code == 0
    assert query_atlas(atlas, "SELECT count(*) FROM region_totals") == [(0,)]


@pytest.mark.realdata
def test_cbp_2019_metros_lq_and_shares_against_the_files_own_totals(tmp_path, runner):
    """CBP 2019 by CBSA as published (--format cbp): San Jose's total is its total row, 1,115,736 (its cells
    hold 1,104,070), and every LQ and share of the 933 metros equals plain SQL on the file."""
    cbp = shared_file("us/cbp2019_cbsa_naics2017_emp_est.csv.gz")
    crosswalk = shared_file("clusters/naics_to_cluster_subcluster_noco_redi.csv")
    atlas = tmp_path / "a.duckdb"
    defs = tmp_path / "defs.csv"
    duckdb.sql(f"""COPY (SELECT NAICS AS industry, Cluster AS cluster, lower(TradedLocal) AS type
                   FROM read_csv('{crosswalk}', types={{'NAICS': 'VARCHAR'}}) WHERE Cluster IS NOT NULL)
                   TO '{defs}' (HEADER)""")
    invoke(runner, "init", "--atlas", atlas)
    invoke(runner, "import", "definitions", defs, "--name", "benchmark", "--atlas", atlas)
    res = invoke(runner, "import", "observations", cbp, "--format", "cbp", "--name", "cbp2019", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    note = " ".join(res.output.split())
    assert "(933 region-years): the 6-digit cells hold a median 72.6%" in note and "735 below 90 %" in note
    assert invoke(runner, "map", "--atlas", atlas).exit_code == 0
    assert query_atlas(atlas, "SELECT employment FROM results_regions WHERE region = '41940'") == [(1115736.0,)]
    raw = f"read_csv('{cbp}', types={{'cbsa_code': 'VARCHAR', 'naics_code': 'VARCHAR'}})"
    expected = duckdb.sql(f"""
        WITH totals AS (SELECT cbsa_code AS region, emp AS total FROM {raw} WHERE naics_code = '00'),
             defs AS (SELECT * FROM read_csv('{defs}', types={{'industry': 'VARCHAR'}})),
             cells AS (SELECT c.cbsa_code AS region, d.cluster, d.type, sum(c.emp) AS e
                       FROM {raw} c JOIN defs d ON d.industry = c.naics_code WHERE c.naics_level = 6 GROUP BY ALL
                       HAVING sum(c.emp) > 0),
             nation AS (SELECT cluster, sum(e) AS ec FROM cells GROUP BY ALL)
        SELECT c.region, c.cluster, c.e / t.total AS share, (c.e / t.total) / (n.ec / (SELECT sum(total) FROM totals))
               AS lq
        FROM cells c JOIN totals t USING (region) JOIN nation n USING (cluster)""").fetchall()
    got = {(r, c): (s, lq) for r, c, s, lq in query_atlas(
        atlas, "SELECT region, cluster, share_of_region, lq FROM results_clusters WHERE employment > 0")}
    assert len(got) == len(expected) > 25_000
    worst = max(max(abs(got[(r, c)][0] - s) / s, abs(got[(r, c)][1] - lq) / lq) for r, c, s, lq in expected)
    assert worst < 1e-12, worst
    # the reference economy is the sum of the 933 total rows
    total = duckdb.sql(f"SELECT sum(emp) FROM {raw} WHERE naics_code = '00'").fetchall()[0][0]
    assert query_atlas(atlas, "SELECT reference_employment FROM map_runs") == [(float(total),)]


# two years of the same metros, the year a column as in the Census API's tables: totals differ by year
CBP_YEARS = "year," + CBP.splitlines()[0] + "\n" + "".join(
    f"{year},{line}\n" for year in (2018, 2019) for line in CBP.splitlines()[1:]).replace(
    "2018,10001,------,G,,1000", "2018,10001,------,G,,800")
#: Region totals of the metros in 2019 (the total rows) and in 2018 (10001's total row 800).
TOTALS = {2018: {"10001": 800.0, "10002": 500.0}, 2019: {"10001": 1000.0, "10002": 500.0}}


def map_three_ways(tmp_path, runner, *extra: str, spark: bool = False) -> dict[str, dict]:
    """The same small CBP file mapped by the atlas's map, by 'map --data --format cbp' and (``spark``) by
    'map --engine spark --format cbp': each one's (region, year) → employment, and (region, cluster, year) →
    (share of region, LQ)."""
    import polars as pl

    (tmp_path / "cbp.csv").write_text(CBP_YEARS, encoding="utf-8")
    (tmp_path / "defs.csv").write_text(DEFS, encoding="utf-8")
    atlas = tmp_path / "a.duckdb"
    for args in (("init",), ("import", "definitions", tmp_path / "defs.csv"),
                 ("import", "observations", tmp_path / "cbp.csv", "--format", "cbp"), ("map", *extra)):
        res = invoke(runner, *args, "--atlas", atlas)
        assert res.exit_code == 0, res.output
    found = {"atlas": (query_atlas(atlas, "SELECT region, year, employment FROM results_regions"),
                       query_atlas(atlas, "SELECT region, cluster, year, share_of_region, lq FROM results_clusters"))}
    stateless = ("--data", tmp_path / "cbp.csv", "--format", "cbp", "--clusters", tmp_path / "defs.csv", *extra)
    res = invoke(runner, "map", *stateless, "--out", tmp_path / "files.csv", "--regions-out",
                 tmp_path / "files_regions.csv")
    assert res.exit_code == 0, res.output
    assert "region totals are the file's total rows" in " ".join(res.output.split())
    read = {"schema_overrides": {"region": pl.String}}
    found["map --data"] = (
        pl.read_csv(tmp_path / "files_regions.csv", **read).select("region", "year", "employment").rows(),
        pl.read_csv(tmp_path / "files.csv", **read).select("region", "cluster", "year", "share_of_region",
                                                           "lq").rows())
    if spark:
        res = invoke(runner, "map", "--engine", "spark", *stateless, "--out", tmp_path / "spark")
        assert res.exit_code == 0, res.output
        assert "region totals are the file's total rows" in " ".join(res.output.split())
        folder = tmp_path / "spark"
        found["spark"] = (
            pl.read_parquet(folder / "regions" / "*.parquet").select("region", "year", "employment").rows(),
            pl.read_parquet(folder / "clusters" / "*.parquet").select("region", "cluster", "year",
                                                                      "share_of_region", "lq").rows())
    return {how: {"regions": {(r, int(y)): e for r, y, e in regions},
                  "cells": {(r, c, int(y)): (s, lq) for r, c, y, s, lq in cells}}
            for how, (regions, cells) in found.items()}


def test_the_atlas_and_map_data_take_region_totals_from_the_total_rows_alike(tmp_path, runner):
    """One map job: the atlas's map (totals from region_totals) and the stateless 'map --data --format cbp'
    (totals from the file) give the same region totals, shares and LQs, the total rows' in each year."""
    found = map_three_ways(tmp_path, runner)
    expected = {(r, y): e for y, by_region in TOTALS.items() for r, e in by_region.items()}
    for how, got in found.items():
        assert got["regions"] == expected, how
        # 2018: E = 800 + 500; E_Food = 400
        assert got["cells"][("10001", "Food", 2018)] == (300 / 800, pytest.approx((300 / 800) / (400 / 1300))), how
    assert found["map --data"]["cells"].keys() == found["atlas"]["cells"].keys()
    for key, (share, lq) in found["atlas"]["cells"].items():
        assert found["map --data"]["cells"][key] == (pytest.approx(share, rel=1e-12), pytest.approx(lq, rel=1e-12))


def test_one_year_mapped_takes_that_years_totals(tmp_path, runner):
    found = map_three_ways(tmp_path, runner, "--year", "2018")
    for how, got in found.items():
        assert got["regions"] == {("10001", 2018): 800.0, ("10002", 2018): 500.0}, how
        assert got["cells"][("10002", "IT", 2018)][1] == pytest.approx((250 / 500) / (450 / 1300)), how
