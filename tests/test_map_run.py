"""Issue 19, the map run as one object: its spec stored and read back, replayed, and one map job on every engine.

Items 1-3 of the issue, each reproduced as it was found: provenance guessed the
reference economy (1), an upload through the API re-mapped against another
reference economy (2), and ``map --year`` with no data or a plain re-map
silently dropped results (3). Then the round trip: a run's spec is stored,
read back and replayed to identical results (DuckDB, and Spark), and the input
rules are the same in the atlas, in ``map --data`` and on Spark.
"""

from __future__ import annotations

import json
import os
import shutil

import duckdb
import polars as pl
import pytest
from fastapi.testclient import TestClient

from clusteratlas import Atlas, InputError, MapParams
from clusteratlas.api import build_demo_atlas, file_spec, map_files, run_files
from clusteratlas.metrics.run import MapRun, MapSpec
from clusteratlas.reference.size_classes import SIZE_CLASS_MIDPOINTS
from clusteratlas.server import Settings, create_app
from clusteratlas.server.auth import create_token
from clusteratlas.store.runs import load_runs
from tests.conftest import atlas_fingerprint, invoke, query_atlas

API = "/api/v1"
CUSTOM = b"region,member,name,name_ja\nNEWREG,S1C1,New region,\nNEWREG,S2C2,New region,\n"
RESULTS = "SELECT * EXCLUDE (reference_economy) FROM results_clusters ORDER BY level, region, cluster, year"


def _words(text: str) -> str:
    return " ".join(text.split())


def _frame(path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def _same(left: pl.DataFrame, right: pl.DataFrame) -> None:
    """Every row and column equal, floats to 1e-12 relative (DuckDB sums in parallel, in any order)."""
    from polars.testing import assert_frame_equal

    assert left.height > 0
    assert_frame_equal(left, right, check_dtypes=False, rel_tol=1e-12, abs_tol=0.0)


@pytest.fixture
def demo(tmp_path):
    """The demo atlas (counties observed; states and a custom region added), as 'clusteratlas demo' builds it."""
    path = tmp_path / "demo.duckdb"
    build_demo_atlas(path, sample_dir=tmp_path / "sample")
    return path


# ----------------------------------------------------------------------------------------- item 1
def test_provenance_names_the_reference_economy_the_map_used(demo, runner):
    """After 'map --reference region:S1' the API, the pages and the CLI all name region S1 (provenance read the
    imported totals' absence and said 'the sum of all observed regions')."""
    res = invoke(runner, "map", "--atlas", demo, "--reference", "region:S1")
    assert res.exit_code == 0, res.output
    with TestClient(create_app(Settings(atlas=str(demo)))) as c:
        prov = c.get(f"{API}/provenance").json()["data"]
        page = c.get("/regions/S2C3").text
    assert "region S1 (6 county) (--reference=region:S1)" in _words(page)  # the page footer
    run = prov["map_run"]
    assert run["spec"]["reference"] == "region:S1" and run["reference_label"].startswith("region S1 (6 county)")
    cells = query_atlas(demo, "SELECT employment, size_class FROM observations WHERE year = 2020 AND region IN "
                              "(SELECT region FROM region_links WHERE parent = 'S1')")
    employment = sum(e if e is not None else SIZE_CLASS_MIDPOINTS[c] for e, c in cells)  # withheld: midpoints
    assert run["reference_employment"] == pytest.approx(employment)
    shown = f"{run['reference_label']} (--reference=region:S1), {employment:,.0f} jobs"
    assert shown in _words(invoke(runner, "show", "region", "S2C3", "--atlas", demo).output)  # the CLI, the same


# ----------------------------------------------------------------------------------------- item 2
def test_an_upload_replays_the_stored_spec_and_leaves_every_lq_alone(demo):
    """An editor's custom regions re-map with the stored spec (definition, levels + custom, parameters, reference
    economy): the reference economy and every LQ but the new region's stay as they were (the upload re-mapped
    against 'observations': the demo's reference economy went from 2.39 M to 9.53 M jobs)."""
    with Atlas(demo) as atlas:
        atlas.map(levels=["state", "custom"], reference="region:S1", params=MapParams(specialisation_lq=1.5))
        token = create_token(atlas.con, "editor")[1]
    old = _frame(demo, RESULTS)
    reference = query_atlas(demo, "SELECT DISTINCT reference_economy FROM results_regions")
    with TestClient(create_app(Settings(atlas=str(demo)))) as c:
        r = c.post(f"{API}/custom-regions", headers={"Authorization": f"Bearer {token}"},
                   files={"file": ("custom.csv", CUSTOM, "text/csv")})
        assert r.status_code == 201, r.text
        answer = r.json()["result"]["map"]
        assert c.get(f"{API}/regions/NEWREG").status_code == 200
    new = _frame(demo, RESULTS)
    assert new.filter(pl.col("region") == "NEWREG").height > 0
    kept = new.filter(pl.col("region") != "NEWREG")
    # every LQ as before; the observed and state levels untouched in every column (the custom level's stars may
    # move: the new region joins the custom level's peers)
    lq = ["level", "region", "cluster", "year", "employment", "lq", "lq_within_type"]
    _same(old.select(lq), kept.select(lq))
    _same(old.filter(pl.col("level") != "custom"), kept.filter(pl.col("level") != "custom"))
    assert query_atlas(demo, "SELECT DISTINCT reference_economy FROM results_regions") == reference == [
        ("region:S1",)]
    with Atlas(demo) as atlas:
        after, before, first = load_runs(atlas.con)  # newest first: the upload's, the map's, the demo's
    assert answer == after.to_dict() and first.reference == "observations"
    assert after.spec == before.spec  # custom was a level already: the same spec, replayed
    assert after.spec.params.specialisation_lq == 1.5 and after.spec.levels == ("state", "custom")
    assert after.reference_employment == before.reference_employment and after.reference_label == before.reference_label


def test_an_upload_that_cannot_be_mapped_changes_nothing(tmp_path, sample_files):
    """A run recorded before specs were stored cannot be replayed: the upload is refused, nothing imported."""
    path = tmp_path / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "custom-regions", "definitions", "observations"):
            atlas.import_file(kind, sample_files[kind], name="sample")
        atlas.map(levels=["state"])
        atlas.con.execute("UPDATE map_runs SET spec = NULL, outcome = NULL")  # as schema 2 left it
        token = create_token(atlas.con, "editor")[1]
    before = atlas_fingerprint(path)
    with TestClient(create_app(Settings(atlas=str(path)))) as c:
        r = c.post(f"{API}/custom-regions", headers={"Authorization": f"Bearer {token}"},
                   files={"file": ("custom.csv", CUSTOM, "text/csv")})
    assert r.status_code == 422 and "cannot be replayed" in r.json()["detail"], r.text
    assert atlas_fingerprint(path) == before


def test_an_upload_whose_remap_fails_after_its_import_changes_nothing(tmp_path, sample_files, monkeypatch):
    """The import and the re-map are two steps of one write: the served atlas's write goes to a copy that is
    swapped in only when both succeed, so a re-map failing after the rows were imported leaves the file as it
    was (no custom regions without their results)."""
    import clusteratlas.server.writes as writes

    path = tmp_path / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "definitions", "observations"):
            atlas.import_file(kind, sample_files[kind], name="sample")
        atlas.map(levels=["state"])
        token = create_token(atlas.con, "editor")[1]
    before = atlas_fingerprint(path)

    imported: list[int] = []

    def failing(atlas, **_):
        imported.append(atlas.con.execute("SELECT count(*) FROM custom_members").fetchall()[0][0])
        raise RuntimeError("the re-map failed")

    monkeypatch.setattr(writes, "_remap", failing)
    with TestClient(create_app(Settings(atlas=str(path))), raise_server_exceptions=False) as c:
        r = c.post(f"{API}/custom-regions", headers={"Authorization": f"Bearer {token}"},
                   files={"file": ("custom.csv", CUSTOM, "text/csv")})
    assert r.status_code == 500 and r.json()["status"] == 500, r.text
    assert imported and imported[0] > 0  # the re-map was reached with the upload's rows in the atlas
    assert atlas_fingerprint(path) == before


# ----------------------------------------------------------------------------------------- item 3
def test_a_year_without_observations_is_an_error_and_changes_nothing(mapped_atlas, runner):
    before = atlas_fingerprint(mapped_atlas)
    res = invoke(runner, "map", "--atlas", mapped_atlas, "--year", "1999")
    assert res.exit_code == 2
    text = _words(res.stderr)
    assert "no observations for this year" in text and "1999" in text and "2015–2020" in text, text
    assert atlas_fingerprint(mapped_atlas) == before
    with Atlas(mapped_atlas) as atlas, pytest.raises(InputError, match="no observations in these years"):
        atlas.map(years=(1990, 1999))  # the Python API and a range alike
    assert atlas_fingerprint(mapped_atlas) == before


def test_map_year_maps_that_year_in_atlas_mode(mapped_atlas, runner):
    res = invoke(runner, "map", "--atlas", mapped_atlas, "--year", "2019")
    assert res.exit_code == 0, res.output
    assert query_atlas(mapped_atlas, "SELECT DISTINCT year FROM results_clusters") == [(2019,)]
    assert "years 2019" in _words(res.output)


def test_a_remap_keeps_the_levels_of_the_previous_run_and_says_so(mapped_atlas, runner):
    res = invoke(runner, "map", "--atlas", mapped_atlas)  # no --level: state and custom stay
    assert res.exit_code == 0, res.output
    text = _words(res.output)
    assert "Replaced the earlier results of: county, custom, state." in text
    assert "Kept from the previous run: state, custom" in text
    assert invoke(runner, "show", "region", "S1", "--atlas", mapped_atlas).exit_code == 0
    levels = sorted(r[0] for r in query_atlas(mapped_atlas, "SELECT DISTINCT level FROM results_clusters"))
    assert levels == ["county", "custom", "state"]
    # dropping a level is asked for, and said
    res = invoke(runner, "map", "--atlas", mapped_atlas, "--drop-level", "custom")
    assert res.exit_code == 0, res.output
    assert "Dropped the earlier results of: custom." in _words(res.output)
    assert sorted(r[0] for r in query_atlas(mapped_atlas, "SELECT DISTINCT level FROM results_clusters")) == [
        "county", "state"]
    res = invoke(runner, "map", "--atlas", mapped_atlas, "--drop-level", "custom")  # nothing of that name to drop
    assert res.exit_code == 2 and "no level of the previous map run to drop" in _words(res.stderr)


# ---------------------------------------------------------------------------------- the round trip
def test_a_run_is_stored_read_back_and_replayed_to_identical_results(mapped_atlas):
    params = MapParams(specialisation_lq=1.5, size_top=0.2, base_year=2016, peer_levels={"custom": "state"})
    with Atlas(mapped_atlas) as atlas:
        made = atlas.map(levels=["state"], params=params, years=(2016, 2019), reference="level:county",
                         datasets=["sample"])
        stored = atlas.last_run()
        assert stored == made  # every field, read back from map_runs
        assert MapSpec.from_dict(json.loads(json.dumps(made.spec.to_dict()))) == made.spec
        assert MapRun.from_dict(json.loads(json.dumps(made.to_dict()))) == made
        assert made.spec.levels == ("state", "custom") and made.levels_kept == ("custom",)
        assert made.regions == {"county": 36, "state": 6, "custom": 1} and made.years == (2016, 2017, 2018, 2019)
        first = atlas.con.sql(RESULTS).pl()
        atlas.map(drop_levels=["state", "custom"])  # something else in between
        again = atlas.run(stored.spec)  # the spec as read back, replayed
        assert again.spec == stored.spec and again.regions == made.regions
        _same(first, atlas.con.sql(RESULTS).pl())
        replayed = atlas.remap()  # and the latest, replayed by remap()
        assert replayed.spec == stored.spec
        _same(first, atlas.con.sql(RESULTS).pl())


def test_runs_of_older_versions_stay_readable_marked_legacy(mapped_atlas, runner):
    con = duckdb.connect(str(mapped_atlas))
    con.execute("UPDATE map_runs SET spec = NULL, outcome = NULL, run_id = NULL")  # as schema 2 left the row
    con.close()
    with Atlas(mapped_atlas) as atlas:
        old = atlas.last_run()
        assert old.legacy and old.definition == "sample" and old.reference == "observations"
        assert old.spec.params == MapParams() and old.cluster_rows > 0
        with pytest.raises(InputError, match="cannot be replayed"):
            atlas.remap()
        # a new map still keeps the levels whose results the legacy run left
        run = atlas.map()
        assert set(run.levels_kept) == {"custom", "state"} and not run.legacy
    with TestClient(create_app(Settings(atlas=str(mapped_atlas)))) as c:
        runs = c.get(f"{API}/map-runs").json()["data"]
    assert [r["legacy"] for r in runs] == [False, True]
    assert json.loads(runs[0]["spec"])["levels"] == ["custom", "state"]


def test_the_api_shows_a_file_run_without_server_folders(tmp_path, sample_files):
    """A stateless run imported into an atlas: provenance names its files, not where the server keeps them."""
    from clusteratlas.queries.provenance import public_run

    report = map_files(sample_files["observations"], sample_files["definitions"], tmp_path / "out.parquet")
    shown = public_run(report.run)["spec"]["files"]
    assert shown["data"] == "observations.csv" and shown["definitions"] == "definitions.csv"
    assert report.run.spec.files.data == str(sample_files["observations"])  # the run itself keeps the path


# -------------------------------------------------------------------------- one job, the same rules
def test_exact_repeats_of_a_definition_row_count_once_in_every_mode(tmp_path):
    """'map --data' counted an industry twice when its definition row was repeated (the atlas stored it once)."""
    obs = tmp_path / "obs.csv"
    obs.write_text("region,industry,year,employment\nA,1,2020,10\nA,2,2020,5\nB,1,2020,3\nB,2,2020,7\n")
    defs = tmp_path / "defs.csv"
    defs.write_text("industry,cluster,type\n1,X,traded\n1,X,traded\n2,Y,traded\n")
    map_files(obs, defs, tmp_path / "out.csv")
    got = {(r["region"], r["cluster"]): r["employment"]
           for r in pl.read_csv(tmp_path / "out.csv").to_dicts()}
    assert got == {("A", "X"): 10.0, ("A", "Y"): 5.0, ("B", "X"): 3.0, ("B", "Y"): 7.0}


def test_reference_totals_are_needed_for_the_years_mapped_only(tmp_path, sample_files):
    """With --year, totals for that year suffice (the stateless map asked for every observed year)."""
    ref = tmp_path / "ref.csv"
    ref.write_text("industry,year,employment\n" + "".join(f"{i},2020,1000000\n" for i in range(311000, 311010)))
    report = map_files(sample_files["observations"], sample_files["definitions"], tmp_path / "out.csv", year=2020,
                       reference_totals=ref)
    assert report.run.years == (2020,) and report.run.spec.reference == "totals"
    assert report.run.reference_employment == pytest.approx(10_000_000)
    with pytest.raises(InputError, match="reference totals have no rows for some observed years") as err:
        map_files(sample_files["observations"], sample_files["definitions"], tmp_path / "out2.csv", year=2019,
                  reference_totals=ref)
    assert "2019" in str(err.value) and not (tmp_path / "out2.csv").exists()


def test_the_same_rule_says_the_same_in_the_atlas_and_for_files(mapped_atlas, sample_files, tmp_path, runner):
    atlas_res = invoke(runner, "map", "--atlas", mapped_atlas, "--year", "1999")
    file_res = invoke(runner, "map", "--data", sample_files["observations"], "--clusters",
                      sample_files["definitions"], "--out", tmp_path / "o.csv", "--year", "1999")
    assert atlas_res.exit_code == file_res.exit_code == 2
    for res in (atlas_res, file_res):
        assert "no observations for this year (found 1999); expected a year with observations: 2015–2020" in \
            _words(res.stderr), res.stderr


def test_a_file_spec_replays_to_the_same_file(tmp_path, sample_files):
    report = map_files(sample_files["observations"], sample_files["definitions"], tmp_path / "a.parquet", year=2020,
                       params=MapParams(strong_quantile=0.7))
    spec = MapSpec.from_dict(json.loads(json.dumps(report.run.spec.to_dict())))
    assert spec == file_spec(sample_files["observations"], sample_files["definitions"], year=2020,
                             params=MapParams(strong_quantile=0.7))
    again = run_files(spec, tmp_path / "b.parquet")
    assert again.run.spec == report.run.spec and again.rows == report.rows
    _same(pl.read_parquet(tmp_path / "a.parquet"), pl.read_parquet(tmp_path / "b.parquet"))


# ------------------------------------------------------------------------------------------- Spark
@pytest.fixture(scope="module")
def spark():
    if shutil.which("java") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but no java on PATH: the Spark tests need Java 17")
        pytest.skip("no java on PATH: Spark needs Java 17 (outside CI only)")
    pytest.importorskip("pyspark", reason='install the extra: pip install "clusteratlas[spark]"')
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from clusteratlas.engines.spark import session

    s = session(memory="1g")
    yield s
    s.stop()


def test_a_spark_run_is_read_back_and_replayed_and_equals_duckdb(spark, tmp_path):
    """One small input, one spec: Spark stores its run in the results folder, the run read back replays to the
    same results, and DuckDB's run of the same spec gives them too (repeated definition rows counted once)."""
    from clusteratlas.engines.spark import run_spark
    from clusteratlas.store.results import read_run

    obs = tmp_path / "obs.csv"
    obs.write_text("region,industry,year,employment\n" + "".join(
        f"R{r},{i},{y},{(r * 7 + i * 3 + y) % 50 + 1}\n" for r in range(6) for i in range(1, 5) for y in (2019, 2020)))
    defs = tmp_path / "defs.csv"
    defs.write_text("industry,cluster,type\n1,X,traded\n1,X,traded\n2,X,traded\n3,Y,traded\n4,Z,local\n")
    spec = file_spec(obs, defs, year=2020, params=MapParams(size_top=0.2))
    first = run_spark(spec, str(tmp_path / "one"), spark=spark)
    stored = read_run(tmp_path / "one")
    assert stored == first.run and stored.spec == spec and stored.years == (2020,)
    again = run_spark(stored.spec, str(tmp_path / "two"), spark=spark)
    duck = run_files(spec, tmp_path / "duck.parquet")
    keys = ["region", "cluster", "year"]
    one = pl.read_parquet(tmp_path / "one" / "clusters" / "*.parquet").drop("level", "subcluster").sort(keys)
    _same(one, pl.read_parquet(tmp_path / "two" / "clusters" / "*.parquet").drop("level", "subcluster").sort(keys))
    _same(pl.read_parquet(tmp_path / "duck.parquet").sort(keys), one.select(pl.read_parquet(
        tmp_path / "duck.parquet").columns))
    assert again.run.regions == duck.run.regions == {"region": 6}
    assert one.filter((pl.col("region") == "R0") & (pl.col("cluster") == "X"))["employment"].to_list() == [
        float(sum((0 * 7 + i * 3 + 2020) % 50 + 1 for i in (1, 2)))]


def test_a_results_folder_of_the_previous_format_still_imports_its_run_marked_legacy(mapped_atlas, tmp_path,
                                                                                   sample_files):
    """A folder written by 'map --engine spark' before runs were stored whole (format 1: parameters and the
    reference economy in words) imports as before; its run is read back as what it recorded, marked legacy."""
    from clusteratlas.metrics import CLUSTER_COLUMNS, REGION_COLUMNS
    from clusteratlas.store.results import import_results

    folder = tmp_path / "res"
    con = duckdb.connect(str(mapped_atlas), read_only=True)
    for part, table, cols in (("clusters", "results_clusters", CLUSTER_COLUMNS),
                              ("regions", "results_regions", REGION_COLUMNS),
                              ("unmapped", "results_unmapped", ("industry", "employment", "rows"))):
        (folder / part).mkdir(parents=True)
        where = "" if part == "unmapped" else " WHERE level = 'county'"
        con.execute(f"COPY (SELECT {', '.join(cols)} FROM {table}{where}) TO '{folder / part / 'part-0.parquet'}' "
                    "(FORMAT parquet)")
    rows = con.execute("SELECT count(*) FROM results_clusters WHERE level = 'county'").fetchall()[0][0]
    con.close()
    manifest = {"format": 1, "engine": "spark 3.5.1", "data": "obs.parquet", "definition": "defs/sample.csv",
                "reference": "observations: every region of the file", "parameters": {"specialisation_lq": 1.5},
                "clusters": rows, "unmapped_employment": 0.0}
    (folder / "run").mkdir()
    duckdb.connect().execute(f"COPY (SELECT '{json.dumps(manifest)}' AS manifest) TO "
                             f"'{folder / 'run' / 'part-0.parquet'}' (FORMAT parquet)")
    with Atlas(tmp_path / "imported.duckdb", create=True) as atlas:
        atlas.import_file("definitions", sample_files["definitions"], name="sample")
        import_results(atlas, folder, name="sample")
        run = atlas.last_run()
    assert run.legacy and run.definition == "sample" and run.reference == "observations"
    assert run.spec.params == MapParams(specialisation_lq=1.5) and run.cluster_rows == rows
    assert run.reference_label == "every region of the file" and run.engine == "spark 3.5.1"
