"""The atlas: imports (all or nothing), aggregation to parent and custom regions, reports, exports."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from clusteratlas import Atlas, i18n
from tests.conftest import atlas_fingerprint, invoke, query_atlas


def test_cli_round_trip(tmp_path, runner, sample_files):
    atlas = tmp_path / "a.duckdb"
    assert invoke(runner, "init", "--atlas", atlas).exit_code == 0
    for kind in ("regions", "custom-regions", "definitions", "observations"):
        res = invoke(runner, "import", kind, sample_files[kind], "--atlas", atlas)
        assert res.exit_code == 0, res.output
    res = invoke(runner, "map", "--atlas", atlas, "--level", "state", "--level", "custom")
    assert res.exit_code == 0, res.output
    assert "100.0% of employment mapped" in " ".join(res.output.split())
    res = invoke(runner, "show", "region", "S1C1", "--atlas", atlas)
    assert res.exit_code == 0
    assert "North County 1" in res.output and "北第1郡" not in res.output and "★★★" in res.output
    res = invoke(runner, "--lang", "ja", "show", "region", "S1C1", "--atlas", atlas)  # Japanese names on request
    i18n.set_language("en")
    assert res.exit_code == 0
    assert "北第1郡" in res.output and "自動車" in res.output and "★★★" in res.output
    res = invoke(runner, "show", "cluster", "C02", "--atlas", atlas, "--top", "3")
    assert res.exit_code == 0 and "S2C3" in res.output
    for suffix in ("csv", "parquet", "xlsx"):
        out = tmp_path / f"clusters.{suffix}"
        res = invoke(runner, "export", "clusters", out, "--atlas", atlas)
        assert res.exit_code == 0, res.output
        assert out.stat().st_size > 0
    n = query_atlas(atlas, "SELECT count(*) FROM results_clusters")[0][0]
    assert pl.read_parquet(tmp_path / "clusters.parquet").height == n
    book = openpyxl.load_workbook(tmp_path / "clusters.xlsx", read_only=True)
    assert book.worksheets[0].max_row == n + 1
    with open(tmp_path / "clusters.csv") as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == n


def test_dry_run_stores_nothing(tmp_path, runner, sample_files):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    before = atlas_fingerprint(atlas)
    res = invoke(runner, "import", "observations", sample_files["observations"], "--atlas", atlas, "--dry-run")
    assert res.exit_code == 0 and "dry run" in res.output
    assert atlas_fingerprint(atlas) == before


def test_interrupted_import_rolls_back(tmp_path, sample_files, monkeypatch):
    path = tmp_path / "a.duckdb"
    with Atlas(path, create=True) as atlas:
        atlas.import_file("observations", sample_files["observations"], name="first")
    before = atlas_fingerprint(path)

    original = Atlas._insert

    def insert_then_fail(self, kind, view, name, **kwargs):
        original(self, kind, view, name, **kwargs)  # rows are written inside the transaction...
        raise KeyboardInterrupt  # ...then the import is interrupted

    monkeypatch.setattr(Atlas, "_insert", insert_then_fail)
    with Atlas(path) as atlas, pytest.raises(KeyboardInterrupt):
        atlas.import_file("observations", sample_files["observations"], name="first", replace=True)
    assert atlas_fingerprint(path) == before


def test_replace_dataset(tmp_path, sample_files):
    path = tmp_path / "a.duckdb"
    with Atlas(path, create=True) as atlas:
        atlas.import_file("observations", sample_files["observations"], name="d")
        report = atlas.import_file("observations", sample_files["observations"], name="d", replace=True)
        assert report.replaced == report.rows
        assert atlas._count("SELECT count(*) FROM observations") == report.rows


def _clean_and_flagged(tmp_path, sample_files) -> tuple[Path, Path]:
    """The sample's observations without their withheld cells (no flag anywhere), and 50 of them ten years
    later, each flagged as estimated."""
    import duckdb

    clean, flagged = tmp_path / "clean.csv", tmp_path / "flagged.csv"
    source = sample_files["observations"]
    duckdb.execute(f"COPY (SELECT * FROM read_csv('{source}') WHERE flag IS NULL) TO '{clean}' (HEADER)")
    duckdb.execute(f"""COPY (SELECT region, industry, year + 10 AS year, employment, establishments, payroll,
        'estimated' AS flag, NULL AS size_class FROM read_csv('{source}') WHERE flag IS NULL LIMIT 50)
        TO '{flagged}' (HEADER)""")
    return clean, flagged


def _observations(path: Path, dataset: str) -> list[tuple]:
    return query_atlas(path, f"SELECT * EXCLUDE (dataset) FROM observations WHERE dataset = '{dataset}' ORDER BY ALL")


def test_each_dataset_is_stored_with_the_columns_it_uses(tmp_path, sample_files):
    """A dataset with no flag, size class or source flag is stored without those columns; the view
    ``observations`` shows every dataset with all its columns, as imported, and a replaced dataset keeps its
    number and moves to the table its new rows need."""
    clean, flagged = _clean_and_flagged(tmp_path, sample_files)
    path = tmp_path / "a.duckdb"
    with Atlas(path, create=True) as atlas:
        atlas.import_file("observations", clean, name="clean")
        atlas.import_file("observations", flagged, name="flagged")
    ids = dict(query_atlas(path, "SELECT name, id FROM datasets"))
    assert sorted(ids) == ["clean", "flagged"] and len(set(ids.values())) == 2
    assert query_atlas(path, "SELECT DISTINCT dataset_id FROM observations_unflagged") == [(ids["clean"],)]
    assert query_atlas(path, "SELECT DISTINCT dataset_id FROM observations_flagged") == [(ids["flagged"],)]
    expected = query_atlas(path, f"""SELECT region::VARCHAR, industry::VARCHAR, year, employment::DOUBLE,
        establishments::DOUBLE, payroll::DOUBLE, coalesce(flag, ''), size_class, NULL FROM read_csv('{clean}')
        ORDER BY ALL""")
    assert len(expected) > 100 and _observations(path, "clean") == [tuple(r) for r in expected]
    marked = _observations(path, "flagged")
    assert len(marked) == 50 and {r[6] for r in marked} == {"estimated"}

    unmarked = tmp_path / "unmarked.csv"  # the same 50 cells, now reported as published
    query_atlas(path, f"COPY (SELECT * REPLACE (NULL AS flag) FROM read_csv('{flagged}')) TO '{unmarked}' (HEADER)")
    with Atlas(path) as atlas:
        report = atlas.import_file("observations", unmarked, name="flagged", replace=True)
    assert report.replaced == 50
    assert dict(query_atlas(path, "SELECT name, id FROM datasets")) == ids
    assert query_atlas(path, "SELECT count(*) FROM observations_flagged") == [(0,)]
    assert _observations(path, "flagged") == [(*r[:6], "", *r[7:]) for r in marked]


def test_a_map_of_an_unknown_dataset_names_the_known_ones(tmp_path, sample_files):
    from clusteratlas.errors import InputError

    clean, flagged = _clean_and_flagged(tmp_path, sample_files)
    with Atlas(tmp_path / "a.duckdb", create=True) as atlas:
        atlas.import_file("definitions", sample_files["definitions"], name="sample")
        atlas.import_file("observations", clean, name="clean")
        atlas.import_file("observations", flagged, name="flagged")
        with pytest.raises(InputError) as caught:
            atlas.map(datasets=("clean", "cbp2019"))
    assert caught.value.value == "cbp2019" and caught.value.expected == "clean, flagged"


def test_an_atlas_of_schema_3_is_brought_up_without_changing_a_row(tmp_path, sample_files):
    """Before schema 4 the observations were one table with each row's dataset name: the first opening
    splits them into the new tables, and every reader sees the same rows and maps to the same results."""
    import duckdb

    clean, flagged = _clean_and_flagged(tmp_path, sample_files)
    path = tmp_path / "old.duckdb"
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "definitions"):
            atlas.import_file(kind, sample_files[kind], name="sample")
        atlas.import_file("observations", clean, name="clean")
        atlas.import_file("observations", flagged, name="flagged")
        atlas.map(levels=["county", "state"])
    before = {t: query_atlas(path, f"SELECT * FROM {t} ORDER BY ALL")
              for t in ("observations", "results_clusters", "results_regions")}
    con = duckdb.connect(str(path))  # the schema-3 layout, as an earlier version wrote it
    con.execute("CREATE TABLE observations_3 AS SELECT * FROM observations")
    con.execute("DROP VIEW observations")
    for table in ("observations_unflagged", "observations_flagged", "datasets"):
        con.execute(f"DROP TABLE {table}")
    con.execute("ALTER TABLE observations_3 RENAME TO observations")
    con.execute("UPDATE observations SET flag = NULL WHERE dataset = 'clean'")  # as some older readers stored it
    con.execute("UPDATE atlas_meta SET value = '3' WHERE key = 'schema_version'")
    con.close()
    before["observations"] = query_atlas(path, "SELECT * FROM observations ORDER BY ALL")
    assert {r[7] for r in before["observations"] if r[0] == "clean"} == {None}

    with Atlas(path, read_only=True) as atlas:  # a reader first: the atlas is brought up by a write
        assert atlas.con.execute("SELECT * FROM observations ORDER BY ALL").fetchall() == before["observations"]
    kinds = dict(query_atlas(path, "SELECT table_name, table_type FROM information_schema.tables "
                                   "WHERE table_name LIKE 'observations%'"))
    assert kinds == {"observations": "VIEW", "observations_unflagged": "BASE TABLE",
                     "observations_flagged": "BASE TABLE"}
    ids = dict(query_atlas(path, "SELECT name, id FROM datasets"))
    # a null flag is kept as it was: its dataset is stored with its flags
    assert sorted(query_atlas(path, "SELECT DISTINCT dataset_id FROM observations_flagged")) == sorted(
        [(ids["flagged"],), (ids["clean"],)])
    assert query_atlas(path, "SELECT value FROM atlas_meta WHERE key = 'schema_version'") == [("4",)]
    with Atlas(path) as atlas:
        atlas.map(levels=["county", "state"])
    after = {t: query_atlas(path, f"SELECT * FROM {t} ORDER BY ALL") for t in before}
    assert after == before


def test_parent_and_custom_regions_count_each_job_once(mapped_atlas):
    rows = dict(query_atlas(mapped_atlas, """
        SELECT region, employment FROM results_regions WHERE year = 2020 AND region IN ('S1', 'CORRIDOR')"""))
    counties = dict(query_atlas(mapped_atlas, """
        SELECT region, employment FROM results_regions WHERE year = 2020 AND level = 'county'"""))
    s1 = sum(v for k, v in counties.items() if k.startswith("S1C"))
    assert rows["S1"] == pytest.approx(s1)
    # CORRIDOR lists S1 and S1C1 (inside S1) and S2C1: S1C1 must not count twice.
    assert rows["CORRIDOR"] == pytest.approx(s1 + counties["S2C1"])
    # every level sums to the same national total
    totals = dict(query_atlas(mapped_atlas, "SELECT level, sum(employment) FROM results_regions WHERE year = 2020 "
                                       "AND level IN ('county', 'state') GROUP BY level"))
    assert totals["county"] == pytest.approx(totals["state"])


def test_suppressed_cells_are_imputed_and_flagged(mapped_atlas):
    n_withheld = query_atlas(mapped_atlas, "SELECT count(*) FROM observations WHERE employment IS NULL")[0][0]
    assert n_withheld > 0
    flagged = query_atlas(mapped_atlas, "SELECT count(*) FROM results_clusters WHERE estimated AND level = 'county'")
    assert flagged[0][0] > 0
    # a cluster row with no withheld cell is not flagged
    clean = query_atlas(mapped_atlas, """
        SELECT count(*) FROM results_clusters c WHERE level = 'county' AND estimated AND NOT EXISTS (
          SELECT 1 FROM observations o JOIN definitions d USING (industry)
          WHERE o.region = c.region AND o.year = c.year AND d.cluster = c.cluster AND o.flag = 'suppressed')""")
    assert clean[0][0] == 0


@pytest.mark.parametrize(("flag", "employment", "size_class", "estimated", "cluster_jobs"), [
    ("", "30", "", 0.0, 130.0),             # nothing flagged or withheld: the map reads neither column
    ("estimated", "30", "", 30.0, 130.0),   # flagged only: the flag is read, nothing imputed
    ("", "", "A", 10.0, 110.0),             # withheld with a size class: imputed at its midpoint (10)
])
def test_flags_and_size_classes_count_whether_or_not_the_map_reads_them(tmp_path, flag, employment, size_class,
                                                                         estimated, cluster_jobs):
    """A map leaves out the flag and size-class columns when no cell needs them: the figures are hand-worked."""
    (tmp_path / "defs.csv").write_text("industry,cluster,type\ni1,C1,traded\ni2,C1,traded\ni3,C2,traded\n")
    (tmp_path / "obs.csv").write_text(
        "region,industry,year,employment,flag,size_class\n"
        "R1,i1,2020,100,,\n"
        f"R1,i2,2020,{employment},{flag},{size_class}\n"
        "R1,i3,2020,70,,\n"
        "R2,i1,2020,50,,\nR2,i3,2020,50,,\n")
    with Atlas(tmp_path / "a.duckdb", create=True) as atlas:
        atlas.import_file("definitions", tmp_path / "defs.csv", name="d")
        atlas.import_file("observations", tmp_path / "obs.csv", name="o")
        atlas.map("d")
    row = query_atlas(tmp_path / "a.duckdb", """SELECT employment, estimated, estimated_share
        FROM results_clusters WHERE region = 'R1' AND cluster = 'C1'""")[0]
    assert row == (cluster_jobs, estimated > 0, pytest.approx(estimated / cluster_jobs))


@pytest.mark.parametrize("datasets", [("clean",), None])
def test_leaving_out_flag_and_size_class_changes_no_result(tmp_path, sample_files, monkeypatch, datasets):
    """The same maps with both columns always read give the same result tables: the sample without its
    withheld cells, beside a dataset with a flagged cell; mapped alone (neither column needed: a flagged cell
    of a dataset left out does not count) and with both datasets (flag needed)."""
    clean, flagged = _clean_and_flagged(tmp_path, sample_files)
    read: dict[str, str] = {}
    results: dict[str, dict[str, list]] = {}
    for mode in ("chosen", "every column"):
        if mode == "every column":
            monkeypatch.setattr(Atlas, "_notes_needed", lambda self, where: (True, True))
        path = tmp_path / f"{mode}.duckdb"
        with Atlas(path, create=True) as atlas:
            for kind in ("regions", "definitions"):
                atlas.import_file(kind, sample_files[kind], name="sample")
            atlas.import_file("observations", clean, name="clean")
            atlas.import_file("observations", flagged, name="flagged")
            read[mode] = atlas._map_source(datasets or ())
            atlas.map(levels=["county", "state"], datasets=datasets)
        results[mode] = {t: query_atlas(path, f"SELECT * FROM {t} ORDER BY ALL")
                         for t in ("results_clusters", "results_regions")}
    assert ("AS flag" in read["chosen"]) == (datasets is None) and "size_class" not in read["chosen"]
    assert "size_class" in read["every column"]
    assert results["chosen"]["results_clusters"] and results["chosen"] == results["every column"]
    estimated = query_atlas(tmp_path / "chosen.duckdb", "SELECT count(*) FROM results_clusters WHERE estimated > 0")
    assert (estimated[0][0] > 0) == (datasets is None)  # the flagged cells counted only where mapped


def test_cp932_excel_and_parquet_imports(tmp_path, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    (tmp_path / "jp.csv").write_bytes("地域,産業,年,従業者数\n01000,E,2014,100\n13000,E,2014,300\n"
                                      .encode("cp932"))
    res = invoke(runner, "import", "observations", tmp_path / "jp.csv", "--atlas", atlas, "--map", "region=地域",
                 "--map", "industry=産業", "--map", "year=年", "--map", "employment=従業者数")
    assert res.exit_code == 0, res.output
    (tmp_path / "regions.csv").write_text("region,name,name_ja,level\n01000,Hokkaido,北海道,prefecture\n",
                                          encoding="utf-8")
    assert invoke(runner, "import", "regions", tmp_path / "regions.csv", "--atlas", atlas).exit_code == 0
    assert query_atlas(atlas, "SELECT name_ja FROM regions") == [("北海道",)]
    pl.DataFrame({"region": ["27000"], "industry": ["E"], "year": [2014], "employment": [50.0]}).write_excel(
        tmp_path / "more.xlsx")
    assert invoke(runner, "import", "observations", tmp_path / "more.xlsx", "--atlas", atlas).exit_code == 0
    pl.DataFrame({"region": ["40000"], "industry": ["E"], "year": [2014], "employment": [7.0]}).write_parquet(
        tmp_path / "p.parquet")
    assert invoke(runner, "import", "observations", tmp_path / "p.parquet", "--atlas", atlas).exit_code == 0
    assert query_atlas(atlas, "SELECT sum(employment), count(DISTINCT dataset) FROM observations") == [(457.0, 3)]


def test_show_unknown_region_suggests(runner, mapped_atlas):
    res = invoke(runner, "show", "region", "S1C9", "--atlas", mapped_atlas)
    assert res.exit_code == 2
    assert "unknown region" in res.stderr and "S1C1" in res.stderr


def test_custom_regions_rated_against_another_level(tmp_path, runner, sample_files):
    import numpy as np

    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    for kind in ("regions", "custom-regions", "definitions", "observations"):
        invoke(runner, "import", kind, sample_files[kind], "--atlas", atlas)
    res = invoke(runner, "map", "--atlas", atlas, "--level", "state", "--level", "custom",
                 "--peers", "custom=state")
    assert res.exit_code == 0, res.output
    columns = "cluster, employment, establishments, lq_within_type"
    states = query_atlas(atlas, f"SELECT {columns} FROM results_clusters "
                           "WHERE level = 'state' AND year = 2020 AND type = 'traded' AND employment > 0")
    corridor = query_atlas(atlas, f"SELECT {columns}, strong, size, peers FROM results_clusters "
                             "WHERE region = 'CORRIDOR' AND year = 2020 AND type = 'traded'")
    for cluster, emp, est, lqt, strong, size, peers in corridor:
        pool = np.array([row[1:] for row in states if row[0] == cluster])  # employment, establishments, lqt
        assert peers == len(pool)
        assert size == bool(emp >= np.quantile(pool[:, 0], 0.9))
        expected = bool(emp > np.quantile(pool[:, 0], 0.25) and est > np.quantile(pool[:, 1], 0.25)
                        and lqt >= np.quantile(pool[:, 2], 0.75) and lqt >= 1)
        assert strong == expected, cluster
    assert any(r[4] for r in corridor)  # the corridor's planted automotive cluster is strong among states
    res = invoke(runner, "map", "--atlas", atlas, "--peers", "custom")
    assert res.exit_code == 2 and "LEVEL=PEER_LEVEL" in res.stderr
