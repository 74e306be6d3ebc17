"""Relate and shift-share runs on an atlas: stored, consistent with the map, replaced on rerun."""

from __future__ import annotations

import pytest

from clusteratlas import Atlas
from tests.conftest import atlas_fingerprint, invoke, query_atlas


def test_relate_by_cluster_agrees_with_the_map(runner, mapped_atlas):
    res = invoke(runner, "relate", "--atlas", mapped_atlas)
    assert res.exit_code == 0, res.output
    assert "Most complex regions" in res.output
    # every cluster is mapped in the sample, so RCA (against mapped employment) equals the map's LQ
    diff = query_atlas(mapped_atlas, """
        SELECT max(abs(c.rca - r.lq)), count(*) FROM relate_cells c JOIN results_clusters r
        ON r.region = c.region AND r.cluster = c.item AND r.year = c.year AND r.level = c.level""")[0]
    assert diff[0] < 1e-9 and diff[1] == 36 * 20
    n_before = query_atlas(mapped_atlas, "SELECT count(*) FROM relate_cells")[0][0]
    assert invoke(runner, "relate", "--atlas", mapped_atlas).exit_code == 0
    assert query_atlas(mapped_atlas, "SELECT count(*) FROM relate_cells")[0][0] == n_before  # replaced, not added
    res = invoke(runner, "show", "related", "C02", "--atlas", mapped_atlas, "--top", "3")
    assert res.exit_code == 0 and "Most related to Biopharmaceuticals (C02)" in res.output


def test_relate_by_industry_with_related_variety(runner, mapped_atlas, sample):
    res = invoke(runner, "relate", "--atlas", mapped_atlas, "--by", "industry", "--year", "2018")
    assert res.exit_code == 0, res.output
    rows = query_atlas(mapped_atlas, """SELECT count(*), max(abs(total_variety - related_variety - unrelated_variety))
        FROM relate_regions WHERE breakdown = 'industry' AND year = 2018""")[0]
    assert rows[0] == 36 and rows[1] < 1e-9
    gamma = query_atlas(mapped_atlas, "SELECT count(ellison_glaeser) FROM relate_items WHERE breakdown = 'industry'")
    assert gamma[0][0] == sample.definitions.num_rows  # the sample has establishments: γ is defined for every industry


def test_shift_share_components_add_up(runner, mapped_atlas):
    res = invoke(runner, "shift-share", "2015", "2020", "--atlas", mapped_atlas)
    assert res.exit_code == 0, res.output
    worst = query_atlas(mapped_atlas, """SELECT max(abs(national_share + industry_mix + competitive + allocation
        - (employment_end - employment_start))) FROM shift_share""")[0][0]
    assert worst < 1e-6
    # the planted declining cluster (S5C1, C05, -5 % a year) has a negative regional share
    rs = query_atlas(mapped_atlas, "SELECT regional_share FROM shift_share WHERE region = 'S5C1' AND item = 'C05'")
    assert rs[0][0] < 0
    res = invoke(runner, "shift-share", "2015", "2020", "--atlas", mapped_atlas, "--region", "S3C2")
    assert res.exit_code == 0 and "C03" in res.output


@pytest.mark.parametrize(("args", "message"), [
    (["relate", "--by", "occupation"], "unknown breakdown"),
    (["relate", "--year", "1990"], "no data for this level and year"),
    (["shift-share", "2020", "2015"], "start year must come before"),
    (["shift-share", "2010", "2020"], "no data for this year"),
    (["show", "related", "C99"], "unknown cluster or industry"),
])
def test_relate_bad_input(runner, mapped_atlas, args, message):
    invoke(runner, "relate", "--atlas", mapped_atlas)
    before = atlas_fingerprint(mapped_atlas)
    res = invoke(runner, *args, "--atlas", mapped_atlas)
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.stderr.split())
    assert atlas_fingerprint(mapped_atlas) == before


def test_relate_needs_a_map_first(tmp_path, sample_files, sample):
    path = tmp_path / "a.duckdb"
    with Atlas(path, create=True) as atlas:
        atlas.import_file("observations", sample_files["observations"])
        with pytest.raises(Exception, match="no cluster results yet"):
            atlas.relate()
        assert atlas.relate(by="industry").items == sample.definitions.num_rows


def test_hotspots_stored_and_consistent(runner, tmp_path, sample_files):
    import numpy as np
    import scipy.sparse as sp

    from clusteratlas.relate import local_moran, rca

    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    for kind in ("regions", "definitions", "observations"):
        invoke(runner, "import", kind, sample_files[kind], "--atlas", atlas)
    invoke(runner, "map", "--atlas", atlas)
    res = invoke(runner, "hotspots", "--atlas", atlas)
    assert res.exit_code == 2 and "no region neighbours" in res.stderr
    assert invoke(runner, "import", "weights", sample_files["weights"], "--atlas", atlas).exit_code == 0
    res = invoke(runner, "hotspots", "--atlas", atlas, "--permutations", "99")
    assert res.exit_code == 0, res.output
    # the stored LISA equals a direct computation on the same LQ matrix and row-standardised grid
    rows = query_atlas(atlas, "SELECT region, item, local_i FROM hotspots ORDER BY region, item")
    emp = query_atlas(atlas, "SELECT region, cluster, employment FROM results_clusters WHERE year = 2020 "
                        "ORDER BY region, cluster")
    regions = sorted({r[0] for r in emp})
    items = sorted({r[1] for r in emp})
    values = np.array([r[2] for r in emp]).reshape(len(regions), len(items))
    links = query_atlas(atlas, "SELECT region, neighbor FROM region_neighbors")
    pos = {r: i for i, r in enumerate(regions)}
    w = sp.csr_matrix((np.ones(len(links)), ([pos[a] for a, _ in links], [pos[b] for _, b in links])),
                      shape=(len(regions), len(regions)))
    w = sp.diags(1 / np.asarray(w.sum(axis=1)).ravel()) @ w
    direct = local_moran(rca(values), w, permutations=9)
    assert np.array([r[2] for r in rows]) == pytest.approx(direct.Is.ravel(), abs=1e-9)
    n = query_atlas(atlas, "SELECT count(*) FROM hotspots")[0][0]
    invoke(runner, "hotspots", "--atlas", atlas, "--permutations", "99")
    assert query_atlas(atlas, "SELECT count(*) FROM hotspots")[0][0] == n  # replaced on rerun
    res = invoke(runner, "hotspots", "--atlas", atlas, "--value", "wages")
    assert res.exit_code == 2 and "unknown value" in res.stderr


def test_weights_import_rejects_self_links(runner, tmp_path, mapped_atlas):
    (tmp_path / "w.csv").write_text("region,neighbor\nS1C1,S1C2\nS1C2,S1C2\n")
    before = atlas_fingerprint(mapped_atlas)
    res = invoke(runner, "import", "weights", tmp_path / "w.csv", "--atlas", mapped_atlas)
    assert res.exit_code == 2 and "line 3" in res.stderr and "own neighbour" in res.stderr
    assert atlas_fingerprint(mapped_atlas) == before


@pytest.mark.parametrize("transform", ["shares", "loglq"])
def test_define_recovers_the_planted_clusters(runner, tmp_path, mapped_atlas, sample, transform):
    """Each planted cluster (a boost in one county of 36) is found; never two planted clusters in one.

    Every planted cluster is one derived cluster of its own, under DPS's share correlation and under the default
    log(1 + LQ) (which damps a single-county boost: with the first sample's twelve made-up industries per cluster it
    split C02 in two; C02 now holds the benchmark's four biopharmaceutical codes and is found whole).
    """
    import csv

    from clusteratlas.sample import PLANTED

    out = tmp_path / "derived.csv"
    res = invoke(runner, "define", "--atlas", mapped_atlas, "--out", out, "--k-min", "3", "--k-max", "20",
                 "--colocation-transform", transform)
    assert res.exit_code == 0, res.output
    derived = {r["industry"]: r["cluster"] for r in csv.DictReader(out.open())}
    original = dict(zip(sample.definitions["industry"].to_pylist(), sample.definitions["cluster"].to_pylist(),
                        strict=True))
    found = {p.cluster: {derived[i] for i, c in original.items() if c == p.cluster} for p in PLANTED}
    whole = [p for p, f in found.items() if len(f) == 1]
    assert len(whole) == len(PLANTED), found
    labels = [label for f in found.values() for label in f]
    assert len(set(labels)) == len(labels), found  # no derived cluster holds two planted clusters
    assert invoke(runner, "import", "definitions", out, "--atlas", mapped_atlas).exit_code == 0


def test_define_with_input_output_links(runner, tmp_path, mapped_atlas):
    io = tmp_path / "io.csv"
    io.write_text("from_industry,to_industry,value\n336111,336112,5\n336112,336120,2\n")
    out = tmp_path / "d.csv"
    res = invoke(runner, "define", "--atlas", mapped_atlas, "--out", out, "--k", "8", "--io", io)
    assert res.exit_code == 0, res.output
    assert "input_output" in res.output
    io.write_text("from_industry,to_industry,value\n336111,336112,-5\n")
    res = invoke(runner, "define", "--atlas", mapped_atlas, "--out", tmp_path / "e.csv", "--k", "8", "--io", io)
    assert res.exit_code == 2 and "line 2" in res.stderr and not (tmp_path / "e.csv").exists()


def test_relate_since_marks_entries_and_exits(runner, mapped_atlas):
    res = invoke(runner, "relate", "--atlas", mapped_atlas, "--since", "2015")
    assert res.exit_code == 0, res.output
    assert "Since 2015:" in res.output
    # cross-check with the map: entered = LQ >= 1 now and < 1 in 2015
    mismatch = query_atlas(mapped_atlas, """
        SELECT count(*) FROM relate_cells c
        JOIN results_clusters a ON a.region = c.region AND a.cluster = c.item AND a.year = 2020
        JOIN results_clusters b ON b.region = c.region AND b.cluster = c.item AND b.year = 2015
        WHERE c.entered <> (a.lq >= 1 AND b.lq < 1) OR c.exited <> (a.lq < 1 AND b.lq >= 1)""")[0][0]
    assert mismatch == 0
    assert invoke(runner, "relate", "--atlas", mapped_atlas, "--since", "2020").exit_code == 2


def test_indicators_and_rates(runner, tmp_path, mapped_atlas):
    (tmp_path / "patents.csv").write_text("region,year,value,unit\nS1C1,2020,500,NR\nS2C3,2020,80,NR\n"
                                          "S9C9,2020,5,NR\n")
    res = invoke(runner, "import", "indicators", tmp_path / "patents.csv", "--atlas", mapped_atlas)
    assert res.exit_code == 0, res.output
    res = invoke(runner, "indicators", "patents", "--atlas", mapped_atlas, "--out", tmp_path / "rates.csv")
    assert res.exit_code == 0, res.output
    rates = query_atlas(mapped_atlas, "SELECT i.region, i.value / r.employment * 1000 FROM indicators i "
                                      "JOIN results_regions r USING (region, year) ORDER BY 1")
    import csv

    written = {r["region"]: float(r["rate"]) for r in csv.DictReader((tmp_path / "rates.csv").open())}
    assert set(written) == {"S1C1", "S2C3"}  # S9C9 has no employment: left out, not divided by zero
    for region, rate in rates:
        assert written[region] == pytest.approx(rate)
    before = atlas_fingerprint(mapped_atlas)
    res = invoke(runner, "import", "indicators", tmp_path / "patents.csv", "--atlas", mapped_atlas)
    assert res.exit_code == 2 and "already in the atlas" in res.stderr
    (tmp_path / "bad.csv").write_text("region,year,value\nS1C1,2020,lots\n")
    res = invoke(runner, "import", "indicators", tmp_path / "bad.csv", "--atlas", mapped_atlas)
    assert res.exit_code == 2 and "line 2" in res.stderr and "'lots'" in res.stderr
    res = invoke(runner, "indicators", "gdp", "--atlas", mapped_atlas)
    assert res.exit_code == 2 and "unknown indicator" in res.stderr
    assert atlas_fingerprint(mapped_atlas) == before


def test_undefined_statistics_are_stored_as_null_with_a_reason(tmp_path):
    """A constant series (industry B: the same share of every region, so LQ 1 everywhere) and a region
    without neighbours (R5) get NULL statistics and a reason, never a number or a significance flag."""
    a = [10, 20, 30, 40, 50]
    c = [50, 10, 42, 5, 31]
    b = [(x + y) // 3 for x, y in zip(a, c, strict=True)]  # a quarter of every region's employment
    lines = ["region,industry,year,employment"] + [
        f"R{r + 1},{ind},2020,{v[r]}" for r in range(5) for ind, v in (("A", a), ("B", b), ("C", c))]
    (tmp_path / "obs.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "w.csv").write_text("region,neighbor\nR1,R2\nR2,R1\nR2,R3\nR3,R2\nR3,R4\nR4,R3\n")
    path = tmp_path / "a.duckdb"
    with Atlas(path, create=True) as atlas:
        atlas.import_file("observations", tmp_path / "obs.csv")
        atlas.import_file("weights", tmp_path / "w.csv")
        summary = atlas.hotspots(by="industry", permutations=99)
        atlas.relate(by="industry")
    assert summary.constant_items == 1 and summary.unlinked_regions == 1
    glob = dict((r[0], r[1:]) for r in query_atlas(path, "SELECT item, moran_i, p_sim, reason FROM hotspots_global"))
    assert glob["B"] == (None, None, "no variation")
    assert glob["A"][0] is not None and glob["A"][1] is not None and glob["A"][2] is None
    cells = {(r[0], r[1]): r[2:] for r in query_atlas(
        path, "SELECT region, item, local_i, p_sim, quadrant, significant, gi_z, gi_p_sim, reason FROM hotspots")}
    assert all(cells[(f"R{k}", "B")] == (None, None, None, False, None, None, "no variation") for k in range(1, 6))
    assert cells[("R5", "A")] == (None, None, None, False, None, None, "no neighbours")
    assert all(v is not None for v in cells[("R1", "A")][:3]) and cells[("R1", "A")][-1] is None
    items = dict(query_atlas(path, "SELECT item, reason FROM relate_items WHERE ellison_glaeser IS NULL"))
    assert items == {i: "fewer than two establishments: γ undefined" for i in "ABC"}


def test_store_adds_new_columns_to_tables_of_an_older_atlas():
    import duckdb
    import pyarrow as pa

    from clusteratlas.store.analyses import _store

    con = duckdb.connect()
    _store(con, {"hotspots_global": pa.table({"item": ["A"], "moran_i": [0.5]})}, keys={"year": 2019})
    _store(con, {"hotspots_global": pa.table({"item": ["B"], "moran_i": pa.array([None], pa.float64()),
                                              "reason": ["no variation"]})}, keys={"year": 2020})
    rows = con.execute("SELECT item, moran_i, reason, year FROM hotspots_global ORDER BY item").fetchall()
    assert rows == [("A", 0.5, None, 2019), ("B", None, "no variation", 2020)]


def test_hotspots_command_says_which_series_and_regions_have_no_statistic(tmp_path, runner):
    a, c = [10, 20, 30, 40, 50], [50, 10, 42, 5, 31]
    b = [(x + y) // 3 for x, y in zip(a, c, strict=True)]  # LQ 1 in every region: no variation
    lines = ["region,industry,year,employment"] + [
        f"R{r + 1},{ind},2020,{v[r]}" for r in range(5) for ind, v in (("A", a), ("B", b), ("C", c))]
    (tmp_path / "obs.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "w.csv").write_text("region,neighbor\nR1,R2\nR2,R1\nR2,R3\nR3,R2\nR3,R4\nR4,R3\n")
    path = tmp_path / "a.duckdb"
    assert invoke(runner, "init", "--atlas", path).exit_code == 0
    for kind, file in (("observations", "obs.csv"), ("weights", "w.csv")):
        assert invoke(runner, "import", kind, tmp_path / file, "--atlas", path).exit_code == 0
    res = invoke(runner, "hotspots", "--by", "industry", "--permutations", "99", "--atlas", path)
    assert res.exit_code == 0, res.output
    assert "regions without neighbours (no statistic): 1" in res.stdout
    assert "industries without variation (no statistic, no p-value): 1" in res.stdout
