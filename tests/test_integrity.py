"""What comes in is checked against what the atlas holds (issue 9, items 4, 8, 19, 20, 22).

Every refused import leaves the atlas exactly as it was (fingerprint).
"""

from __future__ import annotations

import duckdb
import numpy as np
import pytest

from clusteratlas import Atlas
from tests.conftest import atlas_fingerprint, invoke, query_atlas


@pytest.fixture
def sample_atlas(tmp_path, sample_files):
    """The sample economy with regions, custom regions, definitions, observations and its 120 neighbour links."""
    path = tmp_path / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "custom-regions", "definitions", "observations", "weights"):
            atlas.import_file(kind, sample_files[kind], name="sample")
    return path


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _refused(runner, atlas, *args):
    """Run an import that must fail with exit 2 and leave the atlas unchanged; return its message."""
    before = atlas_fingerprint(atlas)
    res = invoke(runner, "import", *args, "--atlas", atlas)
    assert res.exit_code == 2, res.output
    assert atlas_fingerprint(atlas) == before
    return " ".join(res.stderr.split())


# ------------------------------------------------------------------ item 8: unknown codes
def test_unknown_observation_codes_are_reported_and_strict_refuses(tmp_path, runner, sample_atlas):
    data = _write(tmp_path, "more.csv", "region,industry,year,employment\nS1C1,999999,2020,5\n"
                                        "XX99,311000,2020,1234\nYY98,311000,2020,10\nYY98,311010,2020,7\n")
    message = _refused(runner, sample_atlas, "observations", data, "--name", "more", "--strict")
    assert "line 3" in message and "'XX99'" in message
    assert "2 region code(s) in this file are in no imported or built-in region system" in message
    res = invoke(runner, "import", "observations", data, "--name", "more", "--atlas", sample_atlas)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "2 region code(s) in this file are in no imported or built-in region system, 1,251 jobs" in text
    assert "XX99 (1,234 jobs), YY98 (17 jobs)" in text
    # the map says so too, with the latest year's employment
    res = invoke(runner, "map", "--atlas", sample_atlas)
    assert res.exit_code == 0, res.output
    assert "XX99 (1,234 jobs)" in " ".join(res.output.split())


def test_indicators_for_unknown_regions_are_reported_and_strict_refuses(tmp_path, runner, sample_atlas):
    data = _write(tmp_path, "patents.csv", "region,year,value\nS1C1,2020,3\nATLANTIS,2020,9\n")
    message = _refused(runner, sample_atlas, "indicators", data, "--strict")
    assert "line 3" in message and "'ATLANTIS'" in message
    res = invoke(runner, "import", "indicators", data, "--atlas", sample_atlas)
    assert res.exit_code == 0 and "1 region code(s) in this file" in " ".join(res.output.split())
    assert "ATLANTIS" in res.output


def test_reference_totals_for_years_without_observations(tmp_path, runner, sample_atlas):
    """Item 22: reference totals for a year with no observations were stored silently."""
    data = _write(tmp_path, "ref.csv", "industry,year,employment\n311000,2020,5000\n311000,1990,4000\n")
    message = _refused(runner, sample_atlas, "reference-totals", data, "--strict")
    assert "1 year(s) without observations in the atlas: 1990" in message
    res = invoke(runner, "import", "reference-totals", data, "--atlas", sample_atlas)
    assert res.exit_code == 0 and "1990" in res.output
    # and a map against totals that lack an observed year says which
    res = invoke(runner, "map", "--atlas", sample_atlas)
    assert res.exit_code == 2
    assert "reference totals have no rows for some observed years" in " ".join(res.stderr.split())


# ------------------------------------------------------------------ item 19: weights
def test_weights_with_an_unknown_region_replace_nothing(tmp_path, runner, sample_atlas):
    links = query_atlas(sample_atlas, "SELECT count(*) FROM region_neighbors")[0][0]
    assert links == 120
    data = _write(tmp_path, "w.csv", "region,neighbor,weight\nS1C1,S2C1,1\nS1C1,ATLANTIS,1\n")
    message = _refused(runner, sample_atlas, "weights", data)
    assert "line 3" in message and "column 'neighbor'" in message and "'ATLANTIS'" in message
    assert "--drop-unknown" in message
    res = invoke(runner, "import", "weights", data, "--drop-unknown", "--atlas", sample_atlas)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "Imported 1 weights rows" in text and "left out 1 weights row(s)" in text and "ATLANTIS" in text
    assert query_atlas(sample_atlas, "SELECT count(*) FROM region_neighbors")[0][0] == 120  # merged, kept


def test_weights_merge_unless_replace(tmp_path, runner, sample_atlas):
    data = _write(tmp_path, "w.csv", "region,neighbor,weight\nS1C1,S2C1,2\nS1C1,S3C1,1\n")
    res = invoke(runner, "import", "weights", data, "--atlas", sample_atlas)
    assert res.exit_code == 0, res.output
    rows = dict(((a, b), w) for a, b, w in query_atlas(sample_atlas, "SELECT * FROM region_neighbors"))
    assert len(rows) == 121 and rows[("S1C1", "S2C1")] == 2.0 and rows[("S1C2", "S1C1")] == 1.0
    res = invoke(runner, "import", "weights", data, "--replace", "--atlas", sample_atlas)
    assert res.exit_code == 0 and "replacing 121 rows" in res.output
    assert query_atlas(sample_atlas, "SELECT count(*) FROM region_neighbors")[0][0] == 2


# ------------------------------------------------------------------ item 20: hierarchies
@pytest.mark.parametrize(("kind", "content", "expected"), [
    ("regions", "region,level,parent\nA1,state,B1\nB1,state,A1\n", ["A1 → B1 → A1", "line 2"]),
    # the nation made a child of its own state: a cycle through stored links
    ("regions", "region,level,parent,hierarchy\nNATION,country,S1,default\n", ["NATION → S1 → NATION", "line 2"]),
    # the same through another hierarchy
    ("regions", "region,level,parent,hierarchy\nNATION,country,S1C1,other\n", ["NATION → S1C1 → S1 → NATION"]),
    ("regions", "region,level,parent\nZ1,county,NOWHERE\n", ["line 2", "parent of region Z1 exists nowhere",
                                                             "'NOWHERE'"]),
    ("custom-regions", "region,member\nCA,CB\nCB,CA\n", ["custom region part of itself", "CB → CA → CB", "line 2"]),
    # a custom region containing the stored CORRIDOR, which CORRIDOR would then contain
    ("custom-regions", "region,member\nLOOP,CORRIDOR\nCORRIDOR,LOOP\n", ["part of itself"]),
    ("industries", "industry,parent\n31,31\n", ["31 → 31"]),
    ("industries", "industry,parent\n31,311\n311,31\n", ["31 → 311 → 31"]),
    ("industries", "industry,parent\n3111,999\n", ["parent of industry 3111 exists nowhere"]),
], ids=["regions-each-others-parent", "nation-in-its-state", "cycle-across-hierarchies", "dangling-parent",
        "custom-each-other", "custom-through-stored", "industry-own-parent", "industry-cycle",
        "industry-dangling-parent"])
def test_hierarchy_cycles_and_dangling_parents_are_refused(tmp_path, runner, sample_atlas, kind, content, expected):
    message = _refused(runner, sample_atlas, kind, _write(tmp_path, "bad.csv", content))
    for part in expected:
        assert part in message, (part, message)


def test_industry_cycle_through_stored_industries(tmp_path, runner, sample_atlas):
    assert invoke(runner, "import", "industries", _write(tmp_path, "i.csv", "industry,parent\n31,\n311,31\n"),
                  "--atlas", sample_atlas).exit_code == 0
    message = _refused(runner, sample_atlas, "industries", _write(tmp_path, "j.csv", "industry,parent\n31,311\n"))
    assert "31 → 311 → 31" in message


def test_find_cycle():
    from clusteratlas.store.integrity import find_cycle

    assert find_cycle([("a", "b"), ("b", "c")]) is None
    cycle = find_cycle([("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")])
    assert cycle[0] == cycle[-1] and set(cycle) == {"a", "b", "c"}


# ------------------------------------------------------------------ item 4: the reference economy
def _lq_within_type(con, regions: list[str], year: int = 2020) -> dict:
    """(e_rc / e_r,type) / (E_c / E_type) with E over ``regions``, per county × cluster, in plain SQL/numpy."""
    rows = con.execute("""SELECT o.region, d.cluster, d.type, sum(coalesce(o.employment, 0)) FROM observations o
        JOIN definitions d USING (industry) WHERE o.year = ? AND o.flag <> 'suppressed' GROUP BY ALL""",
                       [year]).fetchall()
    e = {(r, c): (t, v) for r, c, t, v in rows}
    region_type = {}
    for (r, _), (t, v) in e.items():
        region_type[(r, t)] = region_type.get((r, t), 0) + v
    ref_c, ref_t = {}, {}
    for (r, c), (t, v) in e.items():
        if r in regions:
            ref_c[c] = ref_c.get(c, 0) + v
            ref_t[t] = ref_t.get(t, 0) + v
    return {(r, c): (v / region_type[(r, t)]) / (ref_c[c] / ref_t[t]) for (r, c), (t, v) in e.items()
            if v > 0 and ref_c.get(c)}


def test_reference_economy_is_one_region_when_asked(tmp_path, sample_files):
    """--reference region:S1: every LQ (counties of every state, and the states) against state S1's counties."""
    path = tmp_path / "a.duckdb"
    obs = tmp_path / "obs.csv"  # the sample without withheld cells, so an independent sum is exact
    duckdb.connect().execute(f"COPY (SELECT * FROM read_csv('{sample_files['observations']}') "
                             f"WHERE flag IS DISTINCT FROM 'suppressed') TO '{obs}' (HEADER)")
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "definitions"):
            atlas.import_file(kind, sample_files[kind], name="sample")
        atlas.import_file("observations", obs, name="sample")
        default = atlas.map(levels=["state"])
        assert default.reference == "observations"
        summary = atlas.map(levels=["state"], reference="region:S1")
        assert summary.reference == "region:S1" and "region S1" in summary.reference_label
        s1 = [r[0] for r in atlas.con.execute("SELECT region FROM regions r JOIN region_links l USING (region) "
                                               "WHERE l.parent = 'S1'").fetchall()]
        expected = _lq_within_type(atlas.con, s1)
        got = dict(((r, c), v) for r, c, v in atlas.con.execute(
            "SELECT region, cluster, lq_within_type FROM results_clusters WHERE level = 'county' AND year = 2020 "
            "AND employment > 0").fetchall())
        assert summary.reference_employment == pytest.approx(atlas.con.execute(
            "SELECT sum(employment) FROM observations WHERE year = 2020 AND region IN (SELECT region FROM "
            "region_links WHERE parent = 'S1')").fetchall()[0][0])
        assert atlas.con.execute("SELECT DISTINCT reference_economy FROM results_regions").fetchall() == [
            ("region:S1",)]
    assert got.keys() == expected.keys()
    assert np.allclose([got[k] for k in expected], [expected[k] for k in expected])


def test_reference_economy_the_same_with_or_without_rolled_up_levels(mapped_atlas):
    """Adding levels to a map never changes the LQs of another level (one reference economy per run)."""
    sql = ("SELECT region, cluster, year, lq, lq_within_type FROM results_clusters WHERE level = 'county' "
           "ORDER BY ALL")
    with_levels = query_atlas(mapped_atlas, sql)
    with Atlas(mapped_atlas) as atlas:
        summary = atlas.map(drop_levels=["state", "custom"])
        assert summary.reference == "observations" and "(36 county)" in summary.reference_label
        assert list(summary.regions) == ["county"]
    assert query_atlas(mapped_atlas, sql) == with_levels


def test_bad_reference_is_refused(runner, mapped_atlas):
    for spec, part in (("level:planet", "holds no observed region"), ("nation", "unknown reference economy"),
                       ("totals", "no reference totals")):
        res = invoke(runner, "map", "--atlas", mapped_atlas, "--reference", spec)
        assert res.exit_code == 2 and part in " ".join(res.stderr.split()), res.output


def test_an_older_atlas_gains_the_new_map_runs_columns(tmp_path, sample_files, runner):
    path = tmp_path / "old.duckdb"
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "definitions", "observations"):
            atlas.import_file(kind, sample_files[kind], name="sample")
    con = duckdb.connect(str(path))  # as clusteratlas 0.x left it: map_runs without the reference columns
    con.execute("DROP TABLE map_runs")
    con.execute("CREATE TABLE map_runs (run_at TIMESTAMP, definition VARCHAR, parameters VARCHAR, "
                "clusters BIGINT, unmapped_employment DOUBLE)")
    con.execute("INSERT INTO map_runs VALUES (now() - INTERVAL 1 DAY, 'sample', '{}', 1, 0)")
    con.close()
    with Atlas(path) as atlas:
        old = atlas.last_run()  # read back as what it is: a legacy run, its reference economy not recorded
        assert old.legacy and old.reference is None and "per level" in old.reference_label
        atlas.map()
        assert atlas.last_run().reference == "observations" and not atlas.last_run().legacy
    assert query_atlas(path, "SELECT count(*), count(reference) FROM map_runs") == [(2, 1)]


def test_stateless_map_states_its_reference_economy(tmp_path, runner, sample_files):
    out = tmp_path / "out.csv"
    args = ("map", "--data", sample_files["observations"], "--clusters", sample_files["definitions"], "--out", out)
    res = invoke(runner, *args)
    assert res.exit_code == 0 and "LQ reference economy: every region of the file" in " ".join(res.output.split())
    ref = _write(tmp_path, "ref.csv", "industry,year,employment\n" + "".join(
        f"311000,{y},1000000\n" for y in range(2015, 2021)))
    res = invoke(runner, *args, "--reference-totals", ref)
    assert res.exit_code == 0 and f"LQ reference economy: reference totals from {ref}" in \
        " ".join(res.output.split())
