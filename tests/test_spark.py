"""Spark runs the same map as DuckDB and gives identical results; results come back into an atlas.

Parity means every column and every row, floats to 1e-9 relative. One
Spark session serves the module (starting one costs seconds). Where Java is
absent the tests skip with that reason outside CI and fail in CI.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import narwhals as nw
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from clusteratlas import MapParams, generate_sample, map_clusters
from clusteratlas.api import map_files
from clusteratlas.metrics import Engine, impute_suppressed
from tests.conftest import cbp2019_inputs, invoke, query_atlas

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_KEYS = ["level", "region", "cluster", "subcluster", "year"]
REGION_KEYS = ["level", "region", "year"]


def _need_java() -> None:
    if shutil.which("java") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but no java on PATH: the Spark tests need Java 17")
        pytest.skip("no java on PATH: Spark needs Java 17 (outside CI only)")


@pytest.fixture(scope="module")
def spark():
    _need_java()
    pytest.importorskip("pyspark", reason='install the extra: pip install "clusteratlas[spark]"')
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from clusteratlas.engines.spark import session

    s = session(memory="1g")
    yield s
    s.stop()


def _same(left: pl.DataFrame, right: pl.DataFrame, keys: list[str]) -> None:
    """Every row and column equal, floats to 1e-9 relative (dtypes may differ: int32 vs int64)."""
    assert left.height > 0
    assert sorted(left.columns) == sorted(right.columns)
    keys = [k for k in keys if k in left.columns]
    assert_frame_equal(left.sort(keys, nulls_last=True),
                       right.select(left.columns).sort(keys, nulls_last=True),
                       check_dtypes=False, rel_tol=1e-9, abs_tol=0.0)


def _both_engines(spark, tmp: Path, obs: pl.DataFrame, defs: pl.DataFrame, params: MapParams,
                  membership: pl.DataFrame | None = None):
    """map_clusters on DuckDB and on Spark from the same rows: (duckdb, spark) × (clusters, regions)."""
    con = duckdb.connect()
    names = itertools.count()

    def duck(frame):
        return nw.from_native(con.from_arrow(frame.to_arrow()))

    def sp(frame):
        # From Parquet as a user's run reads it (a DataFrame made from local rows ships them with every task).
        path = tmp / f"{next(names)}.parquet"
        frame.write_parquet(path)
        return nw.from_native(spark.read.parquet(str(path)))

    out = []
    for wrap, engine in ((duck, Engine(con)), (sp, Engine())):
        result = map_clusters(impute_suppressed(wrap(obs)).drop("size_class"), wrap(defs), params=params,
                              membership=None if membership is None else wrap(membership),
                              reference_regions=None if membership is None else wrap(obs.select("region")),
                              engine=engine)
        out.append((result.clusters.collect(backend="polars").to_native(),
                    result.regions.collect(backend="polars").to_native()))
    spark.catalog.clearCache()
    return out


@pytest.mark.parametrize(("seed", "params"), [
    (7, MapParams()), (7, MapParams(by_subcluster=True, base_year=2017)),
    (7, MapParams(specialisation_lq=1.5, size_top=0.2, strong_quantile=0.6)),
    (7, MapParams(peer_levels={"custom": "region"})),
    (2024, MapParams()),
], ids=["sample-defaults", "sample-subclusters", "sample-custom-thresholds", "sample-custom-level-peers",
        "held-out-planted"])
def test_spark_and_duckdb_agree(spark, params, seed, tmp_path):
    sample = generate_sample(seed) if seed == 7 else generate_sample(seed, counties_per_state=9)
    obs = pl.from_arrow(sample.observations)
    defs = pl.from_arrow(sample.definitions)
    custom = pl.from_arrow(sample.custom_regions).select("region", "member").with_columns(level=pl.lit("custom"))
    (d_clusters, d_regions), (s_clusters, s_regions) = _both_engines(spark, tmp_path, obs, defs, params, custom)
    assert d_clusters["level"].n_unique() == 2  # the custom level is rolled up and rated too
    assert d_clusters["strong"].sum() > 0 and d_clusters["stars"].max() == 3  # ties and thresholds are exercised
    _same(d_clusters, s_clusters, CLUSTER_KEYS)
    _same(d_regions, s_regions, REGION_KEYS)


def test_peer_quantiles_are_exact_not_approximate(spark, tmp_path):
    # 10,001 peers: percentile_approx (accuracy 10,000) would miss the interpolated P25/P50/P75/P90.
    # (Cluster totals differ, so no LQ is mathematically equal to a threshold: there, float sums taken in
    # another order, by another engine or another DuckDB thread count, may fall either side.)
    n = 10_001
    values = [float((i * 7919) % 104_729) + i / 3 for i in range(n)]
    obs = pl.DataFrame({"region": [f"R{i}" for i in range(n)] * 2, "industry": ["1"] * n + ["2"] * n,
                        "year": [2020] * (2 * n), "employment": values + [v * 1.37 + 1 for v in values[::-1]]}
                       ).with_columns(flag=pl.lit(""), size_class=pl.lit(None, pl.String))
    defs = pl.DataFrame({"industry": ["1", "2"], "cluster": ["A", "B"], "type": ["traded", "traded"]})
    (d_clusters, d_regions), (s_clusters, s_regions) = _both_engines(spark, tmp_path, obs, defs, MapParams())
    assert 0 < d_clusters["strong"].sum() < n
    _same(d_clusters, s_clusters, CLUSTER_KEYS)
    _same(d_regions, s_regions, REGION_KEYS)


def _spark_results(folder: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    return (pl.read_parquet(folder / "clusters" / "*.parquet"), pl.read_parquet(folder / "regions" / "*.parquet"))


def _stateless_parity(duck_out: Path, duck_regions: Path, spark_folder: Path, *, subcluster: bool = False) -> None:
    clusters, regions = _spark_results(spark_folder)
    assert clusters["level"].unique().to_list() == ["region"]
    _same(pl.read_parquet(duck_out), clusters.drop("level", *([] if subcluster else ["subcluster"])),
          ["region", "cluster", "subcluster", "year"])
    _same(pl.read_parquet(duck_regions), regions.drop("level"), ["region", "year"])


def test_map_engine_spark_matches_the_duckdb_command_and_imports_into_an_atlas(spark, sample_files, tmp_path,
                                                                               runner):
    obs, defs = sample_files["observations"], sample_files["definitions"]
    res = invoke(runner, "map", "--data", obs, "--clusters", defs, "--out", tmp_path / "duck.parquet",
                 "--regions-out", tmp_path / "duck_regions.parquet")
    assert res.exit_code == 0, res.output
    res = invoke(runner, "map", "--engine", "spark", "--data", obs, "--clusters", defs, "--out", tmp_path / "res")
    assert res.exit_code == 0, res.output
    assert "import results" in res.output
    _stateless_parity(tmp_path / "duck.parquet", tmp_path / "duck_regions.parquet", tmp_path / "res")

    atlas = tmp_path / "atlas.duckdb"
    for args in (("init",), ("import", "regions", sample_files["regions"]),
                 ("import", "definitions", defs, "--name", "sample"),
                 ("import", "results", tmp_path / "res", "--name", "sample")):
        res = invoke(runner, *args, "--atlas", atlas)
        assert res.exit_code == 0, res.output
    stored = pl.DataFrame(query_atlas(atlas, "SELECT * EXCLUDE (reference_economy) FROM results_clusters"),
                          schema=list(_spark_results(tmp_path / "res")[0].columns), orient="row",
                          infer_schema_length=None)  # types from every row: stored order is level, year, region
    _same(_spark_results(tmp_path / "res")[0], stored, CLUSTER_KEYS)
    res = invoke(runner, "show", "region", "S2C3", "--atlas", atlas)
    assert res.exit_code == 0 and "East County 3" in res.output and "★★★" in res.output
    res = invoke(runner, "show", "cluster", "C01", "--atlas", atlas)
    assert res.exit_code == 0 and "Automotive" in res.output
    assert query_atlas(atlas, "SELECT kind, rows FROM imports WHERE kind = 'results'") == [("results", stored.height)]
    # the imported run's common answers are stored with it, as a map in the atlas stores them, and equal the live
    # queries (a server started cold on this atlas answers them without computing)
    from tests.test_stored_answers import _check_all_equal_live

    kinds = {r[0] for r in query_atlas(atlas, "SELECT DISTINCT kind FROM stored_answers")}
    assert kinds == {"region", "cluster", "ranking", "map"}
    assert _check_all_equal_live(atlas, every=5) > 0


def test_import_results_refuses_an_unfinished_folder_and_keeps_the_atlas(spark, sample_files, tmp_path, runner,
                                                                          mapped_atlas):
    from tests.conftest import atlas_fingerprint

    res = invoke(runner, "map", "--engine", "spark", "--data", sample_files["observations"], "--clusters",
                 sample_files["definitions"], "--out", tmp_path / "res")
    assert res.exit_code == 0, res.output
    shutil.rmtree(tmp_path / "res" / "run")  # as if the job died before its last write
    before = atlas_fingerprint(mapped_atlas)
    res = invoke(runner, "import", "results", tmp_path / "res", "--atlas", mapped_atlas)
    assert res.exit_code == 2 and "not a complete results folder" in res.output
    assert atlas_fingerprint(mapped_atlas) == before


def test_bad_input_fails_cleanly_and_writes_nothing(spark, sample_files, tmp_path, runner):
    bad = tmp_path / "obs.csv"
    lines = Path(sample_files["observations"]).read_text().splitlines()
    header = lines[0].replace('"', "").split(",")
    row = lines[5].split(",")
    row[header.index("employment")] = "-12"
    bad.write_text("\n".join([lines[0], *lines[1:5], ",".join(row), *lines[6:]]) + "\n")
    res = invoke(runner, "map", "--engine", "spark", "--data", bad, "--clusters", sample_files["definitions"],
                 "--out", tmp_path / "res")
    assert res.exit_code == 2
    assert "negative value" in res.output and "employment" in res.output and "-12" in res.output
    assert not (tmp_path / "res").exists()
    # an output path that is not a results folder is never deleted
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "precious.txt").write_text("x")
    res = invoke(runner, "map", "--engine", "spark", "--data", sample_files["observations"], "--clusters",
                 sample_files["definitions"], "--out", keep)
    assert res.exit_code == 2 and "not a clusteratlas results folder" in res.output
    assert (keep / "precious.txt").exists()


@pytest.mark.parametrize(("column", "row", "unit"), [
    ("employment", "A,11,2020,2e10,1", "persons"), ("establishments", "A,11,2020,1,2e10", "establishments")])
def test_a_cell_over_its_limit_is_named_with_the_limit_and_unit_as_import_says(spark, tmp_path, runner, column,
                                                                               row, unit):
    """Issue 19 item 14 on Spark: the limit of the column, in its unit, worded as the DuckDB reader's error."""
    (tmp_path / "obs.csv").write_text(f"region,industry,year,employment,establishments\n{row}\n")
    (tmp_path / "defs.csv").write_text("industry,cluster\n11,Farming\n")
    res = invoke(runner, "map", "--engine", "spark", "--data", tmp_path / "obs.csv", "--clusters",
                 tmp_path / "defs.csv", "--out", tmp_path / "res")
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and f"column '{column}'" in text and "implausibly large value" in text, text
    assert f"at most 10,000,000,000 {unit} in one cell" in text, text
    assert not (tmp_path / "res").exists()


def test_a_cbp_file_gives_the_same_region_totals_on_spark_as_in_the_atlas_and_map_data(spark, tmp_path, runner):
    """Issue 19 item 7 through the one map job: a CBP file's total rows are the region totals whether the atlas
    maps it (from region_totals), 'map --data --format cbp' does or 'map --engine spark --format cbp' does."""
    from tests.test_cbp_totals import TOTALS, map_three_ways

    found = map_three_ways(tmp_path, runner, spark=True)
    expected = {(r, y): e for y, by_region in TOTALS.items() for r, e in by_region.items()}
    assert {how: got["regions"] for how, got in found.items()} == dict.fromkeys(found, expected)
    for key, (share, lq) in found["atlas"]["cells"].items():
        assert found["spark"]["cells"][key] == (pytest.approx(share, rel=1e-12), pytest.approx(lq, rel=1e-12))
    assert found["spark"]["cells"].keys() == found["atlas"]["cells"].keys()


@pytest.mark.realdata
def test_cbp_2019_metro_reproduction_is_identical_on_spark(spark, tmp_path):
    cbp2019_inputs(tmp_path)
    from clusteratlas.engines.spark import map_with_spark

    for params, name in ((MapParams(), "clusters"), (MapParams(by_subcluster=True), "subclusters")):
        map_files(tmp_path / "obs.parquet", tmp_path / "crosswalk.csv", tmp_path / f"{name}.parquet",
                  regions_out=tmp_path / f"{name}_regions.parquet", params=params)
        map_with_spark(str(tmp_path / "obs.parquet"), str(tmp_path / "crosswalk.csv"), str(tmp_path / name),
                       params=params, spark=spark)
        _stateless_parity(tmp_path / f"{name}.parquet", tmp_path / f"{name}_regions.parquet", tmp_path / name,
                          subcluster=params.by_subcluster)


@pytest.mark.slow
def test_six_million_rows_are_identical_on_spark(spark, tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_map import generate

    data = tmp_path / "six_million.parquet"
    generate(data, regions=1_000, industries=300, years=20)  # 6,000,000 rows
    assert duckdb.sql(f"SELECT count(*) FROM '{data}'").fetchall() == [(6_000_000,)]
    defs = data.with_suffix(".defs.csv")
    map_files(data, defs, tmp_path / "duck.parquet", regions_out=tmp_path / "duck_regions.parquet",
              memory_limit="2GB")
    from clusteratlas.engines.spark import map_with_spark

    map_with_spark(str(data), str(defs), str(tmp_path / "res"), spark=spark)
    _stateless_parity(tmp_path / "duck.parquet", tmp_path / "duck_regions.parquet", tmp_path / "res")


# --------------------------------------------------------------- standalone cluster
@pytest.fixture
def standalone_cluster(tmp_path):
    """A Spark standalone master and two workers (1 core, 1 GB each) on 127.0.0.1, stopped by pid afterwards."""
    _need_java()
    pytest.importorskip("pyspark", reason='install the extra: pip install "clusteratlas[spark]"')
    from clusteratlas.engines.standalone import standalone_cluster

    with standalone_cluster(tmp_path / "cluster") as cluster:
        yield cluster
    assert all(not Path(f"/proc/{pid}").exists() for pid in cluster.pids)


def test_spark_submit_on_a_standalone_cluster_gives_the_duckdb_results(standalone_cluster, sample_files, tmp_path):
    cluster = standalone_cluster
    obs, defs = sample_files["observations"], sample_files["definitions"]
    map_files(obs, defs, tmp_path / "duck.parquet", regions_out=tmp_path / "duck_regions.parquet")
    env = {**cluster.env, "PYTHONPATH": str(ROOT / "src"), "PYSPARK_PYTHON": sys.executable,
           "PYSPARK_DRIVER_PYTHON": sys.executable}
    entry = subprocess.run([sys.executable, "-m", "clusteratlas.engines.submit"], capture_output=True, text=True,
                           check=True, env=env).stdout.strip()
    run = subprocess.run(
        [str(cluster.home / "bin" / "spark-submit"), "--master", cluster.master, "--deploy-mode", "client",
         "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.enabled=false",
         "--driver-memory", "512m", "--executor-memory", "512m", "--total-executor-cores", "2",
         "--conf", "spark.sql.shuffle.partitions=8",
         entry, "map", "--engine", "spark", "--data", str(obs), "--clusters", str(defs), "--out",
         str(tmp_path / "res")], env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "Wrote 4,320 region × cluster rows" in run.stdout.replace("\n", " ")
    assert [a["name"] for a in cluster.state()["completedapps"]] == ["clusteratlas"]  # the run was the cluster's
    apps = list((tmp_path / "cluster" / "work").glob("app-*"))
    assert apps and len({p.name for a in apps for p in a.iterdir()}) == 2  # executors ran on both workers
    _stateless_parity(tmp_path / "duck.parquet", tmp_path / "duck_regions.parquet", tmp_path / "res")
