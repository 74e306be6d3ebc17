"""Issue 12, item 1: partner clusters across regions, synergistic and complementary, with their figures.

Before: complementary scores were 1/rank of ``relate_pairs`` (0 on the demo data), synergistic returned no
rows on the demo data, and neither was tested. Now: a hand-checkable atlas, the sample economy and CBP 2019.
"""

from __future__ import annotations

import csv
import math

import duckdb
import numpy as np
import pytest

from clusteratlas.networks.matching import analyze, build_index, composition_cosine, match_actors, match_clusters
from tests.conftest import cbp2019_inputs, invoke, shared_file


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
    cbp2019_inputs(tmp_path)
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


# ---------------------------------------------------------------- actors (item 2: a stored text index)
def test_analyze_words_bigrams_and_cjk_bigrams():
    assert analyze("Fuel cells, 燃料電池") == ["fuel", "cells", "fuel cells", "燃料", "料電", "電池"]
    assert analyze("a 鉄") == ["鉄"]  # one-letter words are dropped, a lone CJK character is kept


def test_index_transform_equals_sklearn():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = ["hydrogen fuel cells for trucks", "燃料電池 の 研究", "fuel cells and batteries", "", "wine"]
    index = build_index(texts, [f"a{i}" for i in range(5)])
    ref = TfidfVectorizer(analyzer=analyze, sublinear_tf=True).fit(texts)
    for text in ("fuel cells fuel", "燃料電池", "nothing known"):
        want = ref.transform([text]).toarray().ravel()
        got = index.transform(text).toarray().ravel()
        order = {t: i for i, t in enumerate(ref.get_feature_names_out())}
        assert got == pytest.approx(want[[order[t] for t in index.terms]], abs=1e-6)


def _small_network(tmp_path) -> duckdb.DuckDBPyConnection:
    from clusteratlas.networks import importers

    rows = [["project", "actor", "role", "type", "region", "name"],
            ["P1", "U1", "coordinator", "university", "S1", "Hydrogen institute fuel cells"],
            ["P1", "F1", "member", "firm", "S1", "Membrane maker"],
            ["P2", "F1", "coordinator", "firm", "S1", "Membrane maker"],
            ["P2", "F2", "member", "firm", "S2", "Fuel cells stacks for trucks"],
            ["P3", "U1", "coordinator", "university", "S1", "Hydrogen institute fuel cells"],
            ["P3", "G1", "member", "government", "S2", "Energy agency"],
            ["P4", "G1", "coordinator", "government", "S2", "Energy agency"],
            ["P4", "F3", "member", "firm", "S3", "Wine cellar"]]
    path = tmp_path / "p.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    con = duckdb.connect(str(tmp_path / "a.duckdb"))
    importers.import_participations(con, path, "t")
    return con


def test_match_actor_by_hand_and_index_stored_at_compute(tmp_path):
    from clusteratlas.networks.analysis import run_network

    con = _small_network(tmp_path)
    info = run_network(con, "t")
    assert info["text_index_seconds"] >= 0
    assert con.execute("SELECT n_rows FROM network_text_index WHERE network = 't'").fetchall() == [(5,)]
    got = match_actors(con, "t", actor="U1")
    # U1's partners F1 and G1 are excluded; F2 (via F1) and F3 (via G1) share one partner each: network 1.0
    assert set(got["actor"]) == {"F2", "F3"}
    f2 = got.filter(actor="F2").row(0, named=True)
    assert f2["network"] == 1.0 and "via Membrane maker" in f2["why"] and f2["text"] > 0
    assert "fuel cells" in f2["why"]  # the shared terms are named
    assert got["actor"][0] == "F2" and f2["score"] == pytest.approx(0.5 * f2["text"] + 0.35)
    # complementary keeps other sectors than U1's (academia); synergistic the same sector (none left)
    assert set(match_actors(con, "t", actor="U1", kind="complementary")["actor"]) == {"F2", "F3"}
    assert match_actors(con, "t", actor="U1", kind="synergistic").height == 0
    # the stored adjacency and the SQL fallback (used when the ties changed since) agree
    import clusteratlas.networks.matching as matching

    stored = match_actors(con, "t", actor="U1")
    original, matching.load_adjacency = matching.load_adjacency, lambda con, network: None
    try:
        assert match_actors(con, "t", actor="U1").equals(stored)
    finally:
        matching.load_adjacency = original
    need = match_actors(con, "t", need="燃料電池 fuel cells trucks")
    assert need["actor"][0] == "F2"


def test_stale_index_is_rebuilt(tmp_path):
    from clusteratlas.networks.matching import load_index, store_index

    con = _small_network(tmp_path)
    store_index(con, "t")
    assert load_index(con, "t") is not None
    con.execute("UPDATE actors SET seeds = 'solar panels' WHERE actor = 'F3'")
    assert load_index(con, "t") is None  # checksum differs
    assert match_actors(con, "t", need="solar panels")["actor"][0] == "F3"
    assert load_index(con, "t") is not None  # rebuilt and stored


@pytest.mark.realdata
def test_anr_index_builds_quickly():
    """The first pass took 11 s (character 2–4-grams of every word over 8 M characters of abstracts)."""
    import time

    from clusteratlas.networks.matching import actor_texts

    path = shared_file("actors/fr_anr_pia_partners/anr_dgpie_partenaires_20220512.csv")
    from clusteratlas.networks import importers

    con = duckdb.connect()
    importers.import_participations(con, path, "anr", preset="anr")
    texts = actor_texts(con.sql("SELECT * FROM actors ORDER BY actor").pl())
    start = time.process_time()
    index = build_index(texts)
    assert time.process_time() - start < 5  # CPU seconds; about 2 on this machine
    assert index.matrix.shape[0] == 1331


# ---------------------------------------------------------------- items 6 and 7: tables that fit, demo data
def test_network_tables_fit_80_columns_and_wide_shows_all(tmp_path):
    """Item 6: the coordinators table (and every network table) was wider than an 80-column terminal."""
    from rich.cells import cell_len
    from typer.testing import CliRunner

    narrow = CliRunner(env={"COLUMNS": "80"})
    atlas = tmp_path / "demo.duckdb"
    res = invoke(narrow, "demo", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    # item 7: the demo network is the package's data file (names included), not rows written in the CLI
    assert "East Technology" in res.output
    assert invoke(narrow, "relate", "--atlas", atlas).exit_code == 0
    commands = [("coordinators", "-n", "demo"), ("match", "--need", "batteries", "-n", "demo"),
                ("match", "--actor", "U1", "-n", "demo"), ("match", "--cluster", "S3C2:C03"),
                ("show", "network", "S2", "-n", "demo"), ("show", "actor", "T1", "-n", "demo"),
                ("spinoffs", "-n", "san-diego")]
    for args in commands:
        res = invoke(narrow, *args, "--atlas", atlas)
        assert res.exit_code == 0, (args, res.output)
        too_wide = [line for line in res.output.splitlines() if cell_len(line) > 80 and "{" not in line]
        assert not too_wide, (args, res.output)
    res = invoke(narrow, "coordinators", "-n", "demo", "--atlas", atlas)
    assert "use --wide" in " ".join(res.output.split())
    res = invoke(narrow, "coordinators", "-n", "demo", "--atlas", atlas, "--wide")
    assert "Reachability lost" in res.output and "Components after" in res.output and "hidden" not in res.output


def test_demo_network_data_is_a_package_file():
    from pathlib import Path

    import clusteratlas.cli.network as cli_network
    from clusteratlas.networks.sample import demo_participations_path

    assert demo_participations_path().is_file()
    source = Path(cli_network.__file__).read_text()
    assert "\"P1\"" not in source and "\"U1\"" not in source  # the first pass wrote the rows here
