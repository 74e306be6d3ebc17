"""Issue 12, item 1: partner clusters across regions, synergistic and complementary, with their figures.

Before: complementary scores were 1/rank of ``relate_pairs`` (0 on the demo data), synergistic returned no
rows on the demo data, and neither was tested. Now: a hand-checkable atlas, the sample economy and CBP 2019.
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pytest

from clusteratlas.networks.matching import composition_cosine, match_clusters
from tests.conftest import invoke, shared_file


@pytest.fixture
def tiny() -> duckdb.DuckDBPyConnection:
    """Cluster A (subclusters a1: industry i1, a2: i2) and cluster B (industry i3), related to A with
    proximity 0.5; four regions of one level. R1 is the home region."""
    con = duckdb.connect()
    con.execute("CREATE TABLE observations (region VARCHAR, industry VARCHAR, year INTEGER, employment DOUBLE)")
    con.execute("INSERT INTO observations VALUES ('R1','i1',2020,90),('R1','i2',2020,10),('R2','i1',2020,80),"
                "('R2','i2',2020,20),('R3','i1',2020,10),('R3','i2',2020,90),('R4','i3',2020,100)")
    con.execute("CREATE TABLE definitions (definition VARCHAR, industry VARCHAR, cluster VARCHAR, "
                "subcluster VARCHAR)")
    con.execute("INSERT INTO definitions VALUES ('d','i1','A','a1'),('d','i2','A','a2'),('d','i3','B',NULL)")
    con.execute("CREATE TABLE map_runs (run_at TIMESTAMP, definition VARCHAR)")
    con.execute("INSERT INTO map_runs VALUES (now(), 'd')")
    con.execute("CREATE TABLE region_links (hierarchy VARCHAR, region VARCHAR, parent VARCHAR)")
    con.execute("CREATE TABLE custom_members (region VARCHAR, member VARCHAR)")
    con.execute("CREATE TABLE results_clusters (level VARCHAR, region VARCHAR, cluster VARCHAR, subcluster VARCHAR,"
                " year INTEGER, lq DOUBLE, employment DOUBLE)")
    con.execute("INSERT INTO results_clusters VALUES ('r','R1','A',NULL,2020,3.0,100),('r','R2','A',NULL,2020,1.5,100),"
                "('r','R3','A',NULL,2020,1.2,100),('r','R4','A',NULL,2020,0.0,0),('r','R1','B',NULL,2020,0.5,0),"
                "('r','R4','B',NULL,2020,4.0,100),('r','R2','B',NULL,2020,0.0,0),('r','R3','B',NULL,2020,0.0,0)")
    con.execute("CREATE TABLE relate_pairs (item VARCHAR, related VARCHAR, rank BIGINT, year BIGINT, "
                "proximity DOUBLE, colocation DOUBLE, breakdown VARCHAR)")
    con.execute("INSERT INTO relate_pairs VALUES ('A','B',1,2020,0.5,0.3,'cluster'),('B','A',1,2020,0.5,0.3,'cluster')")
    return con


def test_synergistic_by_hand(tiny):
    got = match_clusters(tiny, "R1", "A", kind="synergistic", min_employment=0)
    # nation's mix of A: a1 180/300, a2 120/300; each region's share over it
    nation = np.array([0.6, 0.4])
    rel = {r: np.array(v) / sum(v) / nation for r, v in {"R1": (90, 10), "R2": (80, 20), "R3": (10, 90)}.items()}
    cos = {r: rel["R1"] @ rel[r] / math.hypot(*rel["R1"]) / math.hypot(*rel[r]) for r in ("R2", "R3")}
    assert cos["R2"] == pytest.approx(0.9813, abs=1e-4) and cos["R3"] == pytest.approx(0.2368, abs=1e-4)
    assert got["region"].to_list() == ["R2", "R3"]  # R4 is not specialised in A
    assert got["similarity"].to_list() == pytest.approx([cos["R2"], cos["R3"]])
    assert got["lq_there"].to_list() == [1.5, 1.2] and got["lq_here"].to_list() == [3.0, 3.0]
    assert "both specialised in a1" in got["why"][0] and "a1" not in got["why"][1]  # R3 is over-weight in a2
    assert got["basis"][0] == "composition by subcluster (2)"


def test_complementary_by_hand(tiny):
    got = match_clusters(tiny, "R1", "A", kind="complementary", min_employment=0)
    assert got.select("region", "cluster").rows() == [("R4", "B")]
    row = got.row(0, named=True)
    assert row["score"] == pytest.approx(0.5 * math.log1p(100 * (1 - 1 / 4)))
    assert (row["relatedness"], row["colocation"], row["lq_there"], row["lq_here"]) == (0.5, 0.3, 4.0, 0.5)
    assert "proximity 0.50" in row["why"] and "75 jobs above" in row["why"]
    # B specialised at home too: not a different specialisation, no suggestion
    tiny.execute("UPDATE results_clusters SET lq = 1.5 WHERE region = 'R1' AND cluster = 'B'")
    assert match_clusters(tiny, "R1", "A", kind="complementary", min_employment=0).height == 0
    # the size floor drops small partner clusters
    assert match_clusters(tiny, "R1", "A", min_employment=101).height == 0


def test_composition_cosine_degenerate():
    assert np.isnan(composition_cosine(np.zeros(2), np.array([[1.0, 0.0]])))[0]
    assert composition_cosine(np.array([1.0, 0.0]), np.array([[2.0, 0.0], [0.0, 1.0]])).tolist() == [1.0, 0.0]


def test_sample_atlas_both_kinds(tmp_path, runner):
    atlas = tmp_path / "demo.duckdb"
    assert invoke(runner, "demo", "--atlas", atlas).exit_code == 0
    assert invoke(runner, "relate", "--atlas", atlas).exit_code == 0
    con = duckdb.connect(str(atlas), read_only=True)
    got = match_clusters(con, "S3C2", "C03")
    by_kind = dict(zip(*np.unique(got["kind"].to_numpy(), return_counts=True), strict=True))
    assert by_kind.get("synergistic", 0) > 0 and by_kind.get("complementary", 0) > 0
    assert (got["score"] > 0).all() and got["why"].str.len_chars().min() > 20
    syn = got.filter(kind="synergistic")
    assert (syn["lq_there"] > 1).all() and syn["similarity"].is_not_null().all()
    comp = got.filter(kind="complementary")
    assert (comp["lq_there"] > 1).all() and (comp["lq_here"] <= 1).all() and (comp["relatedness"] > 0).all()
    con.close()
    res = invoke(runner, "match", "--cluster", "S3C2:C03", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert "synergistic" in res.output and "complementary" in res.output


@pytest.mark.realdata
def test_san_jose_it_on_cbp_2019(tmp_path, runner):
    """CBP 2019 metros, the benchmark definition (as tests/test_realdata.py builds it)."""
    cbp = shared_file("us/cbp2019_cbsa_naics2017_emp_est.csv.gz")
    crosswalk = shared_file("clusters/naics_to_cluster_subcluster_noco_redi.csv")
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT cbsa_code AS region, naics_code AS industry, year, emp AS employment,
        est AS establishments FROM read_csv('{cbp}', types={{'cbsa_code': 'VARCHAR', 'naics_code': 'VARCHAR'}})
        WHERE naics_level = 6) TO '{tmp_path / "obs.parquet"}'""")
    con.execute(f"""COPY (SELECT NAICS AS industry, Cluster AS cluster, lower(TradedLocal) AS type,
        SubclusterName AS subcluster FROM read_csv('{crosswalk}', types={{'NAICS': 'VARCHAR'}})
        WHERE Cluster IS NOT NULL) TO '{tmp_path / "crosswalk.csv"}' (HEADER)""")
    atlas = tmp_path / "a.duckdb"
    for args in (("init",), ("import", "observations", tmp_path / "obs.parquet", "--name", "cbp"),
                 ("import", "definitions", tmp_path / "crosswalk.csv", "--name", "benchmark"), ("map",),
                 ("relate",)):
        res = invoke(runner, *args, "--atlas", atlas)
        assert res.exit_code == 0, res.output
    it = "Information Technology and Analytical Instruments"
    with duckdb.connect(str(atlas), read_only=True) as a:
        got = match_clusters(a, "41940", it, top=15)
    syn, comp = got.filter(kind="synergistic"), got.filter(kind="complementary")
    # Seattle, Austin, Boston: IT-specialised metros with a composition like San Jose's
    assert {"42660", "12420", "14460"} <= set(syn["region"].to_list())
    assert (syn["lq_there"] > 1).all() and (syn["employment_there"] >= 1000).all()
    assert syn["similarity"].is_sorted(descending=True)
    assert syn["why"].str.contains("both specialised in").any()
    # complementary: related clusters San Jose is not specialised in (Seattle's aerospace, Boston's biopharma)
    pairs = set(comp.select("region", "cluster").rows())
    assert ("42660", "Aerospace Vehicles and Defense") in pairs and ("14460", "Biopharmaceuticals") in pairs
    assert (comp["lq_here"] <= 1).all() and comp["relatedness"].is_not_null().all()
