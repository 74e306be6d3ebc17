"""Real official tables from ../shared/data (see its MANIFEST.md).

The files are reshaped here with plain SQL into the generic observation
format (the source-specific readers are a later issue); nothing is copied
into the project.
"""

from __future__ import annotations

import csv
from collections import defaultdict

import duckdb
import numpy as np
import pytest

import clusteratlas
from clusteratlas import Atlas
from tests.conftest import cbp2019_inputs, shared_file

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def cbp2019(tmp_path_factory):
    """CBP 2019 by CBSA, six-digit NAICS 2017, and two cluster definitions."""
    cmp = shared_file("clusters/cmp_naics_to_cluster.csv")
    folder = tmp_path_factory.mktemp("cbp2019")
    cbp2019_inputs(folder)
    with duckdb.connect() as con:
        con.execute(f"""COPY (SELECT naics AS industry, cluster_name AS cluster, type FROM read_csv('{cmp}',
            types={{'naics': 'VARCHAR'}}) WHERE naics_vintage = 2012) TO '{folder / "cmp2012.csv"}' (HEADER)""")
    out = folder / "out.csv"
    report = clusteratlas.map_files(folder / "obs.parquet", folder / "crosswalk.csv", out)
    with open(out) as fh:
        rows = list(csv.DictReader(fh))
    return folder, report, rows


def test_share_of_employment_assigned(cbp2019):
    folder, report, _ = cbp2019
    assert report.mapped_share >= 0.99
    only_2012 = clusteratlas.map_files(folder / "obs.parquet", folder / "cmp2012.csv", folder / "o2.csv")
    assert only_2012.mapped_share == pytest.approx(0.958, abs=0.001)  # MANIFEST: 95.8 %
    assert only_2012.unmapped.num_rows > 0  # reported, with their employment
    assert min(only_2012.unmapped["employment"].to_pylist()) >= 0


@pytest.mark.parametrize(("cbsa", "cluster", "lq"), [
    ("19820", "Automotive", 11.0),  # Detroit
    ("41940", "Information Technology and Analytical Instruments", 5.2),  # San Jose
])
def test_published_top_clusters(cbp2019, cbsa, cluster, lq):
    _, _, rows = cbp2019
    traded = [r for r in rows if r["region"] == cbsa and r["type"] == "traded" and float(r["employment"]) > 5000]
    top = max(traded, key=lambda r: float(r["lq_within_type"]))
    assert top["cluster"] == cluster
    assert float(top["lq_within_type"]) == pytest.approx(lq, abs=0.1)
    assert top["strong"] == "true"


def _independent_cmp_flags(rows):
    """The US Cluster Mapping rules re-implemented with plain Python and numpy.quantile."""
    peers = defaultdict(list)
    for r in rows:
        if r["type"] == "traded" and float(r["employment"]) > 0:
            peers[r["cluster"]].append(r)
    flags = {}
    for cluster, group in peers.items():
        lqt = np.array([float(r["lq_within_type"]) for r in group])
        emp = np.array([float(r["employment"]) for r in group])
        est = np.array([float(r["establishments"]) for r in group])
        p25, p50, p75, p90 = np.quantile(lqt, [0.25, 0.5, 0.75, 0.9])  # numpy's default is linear
        e25, s25 = np.quantile(emp, 0.25), np.quantile(est, 0.25)
        for r, q, e, s in zip(group, lqt, emp, est, strict=True):
            ok = e > e25 and s > s25
            flags[(r["region"], cluster)] = (ok and q > p25, ok and q > p50, ok and q >= p75 and q >= 1,
                                             ok and q >= p90 and q >= 1)
    return flags


def test_strong_clusters_match_an_independent_computation(cbp2019):
    _, _, rows = cbp2019
    expected = _independent_cmp_flags(rows)
    ours = {(r["region"], r["cluster"]): tuple(r[k] == "true" for k in ("qualifying", "significant", "strong",
                                                                         "strong10"))
            for r in rows if r["type"] == "traded" and float(r["employment"]) > 0}
    assert ours.keys() == expected.keys()
    mismatched = [k for k in ours if ours[k] != expected[k]]
    assert mismatched == []
    assert sum(v[2] for v in ours.values()) > 1000  # plenty of strong clusters were tested


def test_eco_stars_match_an_independent_computation(cbp2019):
    _, _, rows = cbp2019
    by_cluster = defaultdict(list)
    for r in rows:
        if float(r["employment"]) > 0:
            by_cluster[r["cluster"]].append(r)
    checked = 0
    for group in by_cluster.values():
        emp = np.array([float(r["employment"]) for r in group])
        share = np.array([float(r["share_of_region"]) for r in group])
        size_cut, focus_cut = np.quantile(emp, 0.9), np.quantile(share, 0.9)
        for r, e, s in zip(group, emp, share, strict=True):
            stars = int(e >= size_cut) + int(float(r["lq"]) >= 2) + int(s >= focus_cut)
            assert int(r["stars"]) == stars, r
            checked += 1
    assert checked > 30_000


@pytest.fixture(scope="module")
def cbp_states_2011(tmp_path_factory):
    """CBP state file, 2011, six-digit NAICS 2007, withheld cells as size classes."""
    cbp = shared_file("us/cbp_state_naics_2000_2011.csv.gz")
    cmp = shared_file("clusters/cmp_naics_to_cluster.csv")
    folder = tmp_path_factory.mktemp("states")
    con = duckdb.connect()
    source = f"read_csv('{cbp}', types={{'fipstate': 'VARCHAR', 'naics': 'VARCHAR'}})"
    con.execute(f"""COPY (SELECT fipstate AS region, naics AS industry, year,
        CASE WHEN empflag IS NULL THEN emp END AS employment, est AS establishments,
        CASE WHEN empflag IS NULL THEN ap END AS payroll,
        CASE WHEN empflag IS NULL THEN '' ELSE 'suppressed' END AS flag, empflag AS size_class
        FROM {source} WHERE year = 2011 AND naics_level = 6) TO '{folder / "obs.csv"}' (HEADER)""")
    con.execute(f"""COPY (SELECT naics AS industry, cluster_name AS cluster, type FROM read_csv('{cmp}',
        types={{'naics': 'VARCHAR'}}) WHERE naics_vintage = 2007) TO '{folder / "defs.csv"}' (HEADER)""")
    national_total = con.execute(f"SELECT sum(emp) FROM {source} WHERE year = 2011 AND naics_level = 0"
                                 ).fetchall()[0][0]
    path = folder / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        atlas.import_file("observations", folder / "obs.csv", name="cbp2011")
        atlas.import_file("definitions", folder / "defs.csv", name="cmp2007")
        atlas.map()
    return path, national_total


def test_state_file_total_and_imputation(cbp_states_2011):
    path, national_total = cbp_states_2011
    assert national_total == 113_425_965  # the published CBP 2011 US total
    con = duckdb.connect(str(path), read_only=True)
    withheld, classes = con.execute("SELECT count(*), count(DISTINCT size_class) FROM observations "
                                    "WHERE flag = 'suppressed'").fetchall()[0]
    assert withheld > 5000 and classes >= 8
    estimated = con.execute("SELECT count(*), max(estimated_share) FROM results_clusters WHERE estimated"
                            ).fetchall()[0]
    assert estimated[0] > 100 and 0 < estimated[1] <= 1
    # imputed midpoints are counted: mapped employment exceeds what the reported cells alone give
    reported = con.execute("SELECT sum(employment) FROM observations").fetchall()[0][0]
    mapped = con.execute("SELECT sum(employment) FROM results_regions").fetchall()[0][0]
    assert mapped > reported
    con.close()


def test_state_series_2000_2011_each_year_with_its_own_vintage(tmp_path, runner):
    """CBP states 2000-2011 in one atlas, mapped once with the union of the 1997, 2002 and 2007 benchmark
    definitions, give for each year the same cluster employment as that year alone mapped with its own vintage."""
    from clusteratlas.reference.benchmark import read_cmp
    from clusteratlas.sources.cbp import naics_vintage
    from tests.conftest import invoke, query_atlas

    cbp = shared_file("us/cbp_state_naics_2000_2011.csv.gz")
    cmp = shared_file("clusters/cmp_naics_to_cluster.csv")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", cbp, "--format", "cbp", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert "NAICS 1997, 2002, 2007 codes" in " ".join(res.output.split())
    res = invoke(runner, "reference", "us-benchmark", "--naics", "1997", "--naics", "2002", "--naics", "2007",
                 "--definitions", cmp, "--atlas", atlas)
    assert res.exit_code == 0, res.output
    with Atlas(atlas) as a:
        summary = a.map()
    assert summary.years == tuple(range(2000, 2012))
    import pyarrow.parquet as pq

    for year in (2001, 2005, 2011):
        vintage = naics_vintage(year)
        assert vintage == {2001: 1997, 2005: 2002, 2011: 2007}[year]
        defs = tmp_path / f"defs{vintage}.parquet"
        pq.write_table(read_cmp(cmp, vintage=vintage), defs)
        alone = clusteratlas.map_files(cbp, defs, tmp_path / f"{year}.csv", year=year, file_format="cbp",
                                       options={"digits": 6})
        with open(tmp_path / f"{year}.csv") as fh:
            expected = {(r["region"], r["cluster"]): float(r["employment"]) for r in csv.DictReader(fh)}
        got = dict(((r, c), e) for r, c, e in query_atlas(
            atlas, f"SELECT region, cluster, employment FROM results_clusters WHERE year = {year}"))
        assert got.keys() == expected.keys()
        assert all(got[k] == pytest.approx(v) for k, v in expected.items())
        assert alone.mapped_share > 0.97


def test_region_hierarchy_does_not_change_the_lq_reference_economy(cbp2019, tmp_path, runner):
    """Issue 9, item 4: importing the county → CBSA → state crosswalk split the CBSAs into metro_area,
    micro_area and a leftover level, each its own reference economy (San Jose's IT LQ fell from 5.24 to
    5.07). The reference economy is now one per run: the nation (all CBSAs) before and after."""
    from tests.conftest import invoke, query_atlas

    folder, _, _ = cbp2019
    it = "Information Technology and Analytical Instruments"
    sql = f"SELECT lq_within_type FROM results_clusters WHERE region = '41940' AND cluster = '{it}'"
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    for args in (("observations", folder / "obs.parquet", "--name", "cbp"),
                 ("definitions", folder / "crosswalk.csv", "--name", "benchmark")):
        res = invoke(runner, "import", *args, "--atlas", atlas)
        assert res.exit_code == 0, res.output
    assert invoke(runner, "map", "--atlas", atlas).exit_code == 0
    before = query_atlas(atlas, sql)[0][0]
    # independent: (e_rc / e_r,traded) / (E_c / E_traded) over every CBSA of the file, in plain SQL
    expected = duckdb.connect().execute(f"""
        WITH o AS (SELECT o.region, d.cluster, d.type, o.employment FROM '{folder / "obs.parquet"}' o
                   JOIN read_csv('{folder / "crosswalk.csv"}', types = {{'industry': 'VARCHAR'}}) d
                   USING (industry))
        SELECT (sum(employment) FILTER (WHERE region = '41940' AND cluster = '{it}')
                / sum(employment) FILTER (WHERE region = '41940' AND type = 'traded'))
             / (sum(employment) FILTER (WHERE cluster = '{it}') / sum(employment) FILTER (WHERE type = 'traded'))
        FROM o""").fetchall()[0][0]
    assert before == pytest.approx(expected)
    assert before == pytest.approx(5.24, abs=0.005)
    res = invoke(runner, "import", "regions", shared_file("us/county_cbsa_state_crosswalk.csv"), "--format",
                 "us-regions", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    res = invoke(runner, "map", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert query_atlas(atlas, sql)[0][0] == pytest.approx(before, rel=1e-12)  # was 5.07 with the hierarchy
    text = " ".join(res.output.replace("│", " ").split())  # the map's panel, its lines joined
    # the economy in words, and the --reference value that makes it (issue 22: the spec alone was code, not words)
    assert "LQ reference economy: the observed regions that no other observed region contains" in text
    assert "(--reference=observations), 115,591,806 jobs" in text
    # the CBSAs the crosswalk lacks are reported with their employment, the largest first
    assert "21 region code(s) in the observations are in no imported or built-in region system" in text
    assert "19380 (310,961 jobs)" in text
    run = query_atlas(atlas, "SELECT reference, reference_employment, outside_regions, outside_employment "
                             "FROM map_runs ORDER BY run_at DESC LIMIT 1")[0]
    assert run == ("observations", 115_591_806, 21, 618_508)
    res = invoke(runner, "show", "region", "41940", "--atlas", atlas)
    assert "(--reference=observations)" in " ".join(res.output.split())
    out = tmp_path / "clusters.csv"
    assert invoke(runner, "export", "clusters", out, "--atlas", atlas).exit_code == 0
    with open(out) as fh:
        assert {r["reference_economy"] for r in csv.DictReader(fh)} == {"observations"}
    # a chosen reference: the metro areas only (the old metro_area denominator, now asked for and recorded)
    res = invoke(runner, "map", "--atlas", atlas, "--reference", "level:metro_area")
    assert res.exit_code == 0, res.output
    assert query_atlas(atlas, sql)[0][0] == pytest.approx(5.07, abs=0.005)
    assert "level:metro_area" in " ".join(res.output.split())


def test_a_cbsa_missing_from_the_region_file_is_reported(tmp_path, runner):
    """Issue 9, item 8: a CBSA (99999) absent from the imported crosswalk was imported without a word."""
    from tests.conftest import atlas_fingerprint, invoke

    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "regions", shared_file("us/county_cbsa_state_crosswalk.csv"), "--format",
                 "us-regions", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    obs = tmp_path / "obs.csv"
    obs.write_text("region,industry,year,employment\n41940,541511,2019,1000\n99999,541511,2019,250\n")
    before = atlas_fingerprint(atlas)
    res = invoke(runner, "import", "observations", obs, "--strict", "--atlas", atlas)
    assert res.exit_code == 2 and "'99999'" in res.stderr and "line 3" in res.stderr
    assert atlas_fingerprint(atlas) == before
    res = invoke(runner, "import", "observations", obs, "--atlas", atlas)
    assert res.exit_code == 0
    assert "1 region code(s) in this file are in no imported or built-in region system, 250 jobs: 99999 (250 jobs)" \
        in " ".join(res.output.split())
