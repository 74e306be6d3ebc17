"""Japan out of the box (issue 15): the census reader, the shipped JSIC benchmark, and the breaks found on
the 2014 Economic Census extract in ../shared/data/jp."""

from __future__ import annotations

import csv

import pytest

from clusteratlas import Atlas
from clusteratlas.reference import jp_benchmark
from clusteratlas.sources.jp_census import read_census
from tests.conftest import SHARED_DATA, invoke, shared_file

pytestmark = pytest.mark.realdata
EXTRACT = "jp/sfukui_ReagionalIOTables/ExplanatoryVariablesBase.csv"
#: The 17 division columns Firm_1..17 of the extract (A+B merged, no S) by JSIC 2-digit range.
#: (Divisions A+B, F, K, L, M, N, O, P, R differ by 1-92 % in the file itself: its 3-digit columns include
#: establishments outside the division totals' scope, so they are not checked.)
DIVISIONS = {2: (5, 5), 3: (6, 8), 4: (9, 32), 6: (37, 41), 8: (50, 61), 9: (62, 67), 16: (86, 87)}


@pytest.fixture(scope="module")
def census():
    return read_census(shared_file(EXTRACT), year=2014)


@pytest.fixture(scope="module")
def jp_atlas(tmp_path_factory):
    from clusteratlas.sources.jp_census import import_census

    path = tmp_path_factory.mktemp("jp") / "jp.duckdb"
    with Atlas(path, create=True) as atlas:
        import_census(atlas, shared_file(EXTRACT), name="census2014", year=2014)
        atlas.import_table("definitions", jp_benchmark.definitions(13), name="jp-benchmark-jsic13")
        atlas.map("jp-benchmark-jsic13", levels=["meti_bureau"])
    return path


def _raw():
    with open(shared_file(EXTRACT), encoding="utf-8") as fh:
        return {r["AreaID"]: r for r in csv.DictReader(fh)}


def test_national_row_is_reference_totals_and_cities_their_own_level(census):
    regions = dict(zip(census.regions["region"].to_pylist(), census.regions["level"].to_pylist(), strict=True))
    assert "00000" not in regions and "00000" not in set(census.observations["region"].to_pylist())
    assert sum(v == "prefecture" for v in regions.values()) == 42
    assert {r for r, v in regions.items() if v == "municipality"} == {
        "01100", "11100", "14100", "14130", "21219", "33100", "40130"}
    parents = dict(zip(census.regions["region"].to_pylist(), census.regions["parent"].to_pylist(), strict=True))
    assert parents["14130"] == "14000" and parents["01100"] == "01000"
    raw = _raw()["00000"]
    totals = dict(zip(census.reference_totals["industry"].to_pylist(),
                      census.reference_totals["employment"].to_pylist(), strict=True))
    assert totals["391"] == float(raw["SEmp_391"])


def test_letter_columns_are_children_never_added(census):
    raw = _raw()["00000"]
    totals = dict(zip(census.reference_totals["industry"].to_pylist(),
                      census.reference_totals["employment"].to_pylist(), strict=True))
    assert "39A" not in totals and "58B" not in totals  # details are not observations
    children = census.children.to_pylist()
    parent = {c["industry"]: c["parent"] for c in children}
    assert parent["39A"] == parent["39B"] == parent["39C"] == "392"
    assert parent["58A"] == parent["58B"] == "589"
    # the stored national total is the sum of the additive columns only: no double counting
    digit_sum = sum(float(v) for k, v in raw.items() if k.startswith("SEmp_") and k[5:].isdigit())
    assert sum(totals.values()) == pytest.approx(digit_sum + float(raw["SEmp_12A"]))
    letters = sum(float(v) for k, v in raw.items() if k.startswith("SEmp_") and not k[5:].isdigit())
    assert letters > 9e6  # what used to be added on top


def test_three_digit_sums_match_the_division_totals(census):
    """SFirm 3-digit groups add up to the Firm_k division columns, within the table's own rounding (0.5 %)."""
    raw = _raw()["00000"]
    codes = set(census.reference_totals["industry"].to_pylist())
    for k, (lo, hi) in DIVISIONS.items():
        cols = [c for c in codes if lo <= int(c[:2]) <= hi and f"SFirm_{c}" in raw]
        got = sum(float(raw[f"SFirm_{c}"]) for c in cols)
        assert got == pytest.approx(float(raw[f"Firm_{k}"]), rel=0.005), k


def test_secret_cells_are_withheld(tmp_path):
    table = tmp_path / "census.csv"
    table.write_text("AreaID,SEmp_391,SEmp_392,SEmp_39A,SEmp_39B\n00000,100,30,20,10\n13000,X,30,…,***\n"
                     "28100,-,5,3,2\n", encoding="utf-8")
    got = read_census(table, year=2021)
    rows = got.observations.to_pylist()
    tokyo = next(r for r in rows if r["region"] == "13000" and r["industry"] == "391")
    assert tokyo["employment"] is None and tokyo["flag"] == "suppressed"
    assert {r["industry"] for r in rows} == {"391", "392"}
    assert any("withheld" in n for n in got.notes)


def test_benchmark_shipped_is_what_the_public_files_give():
    built = jp_benchmark.build(SHARED_DATA if (SHARED_DATA / "jp").exists() else shared_file("jp"))
    shipped = jp_benchmark.benchmark(13).to_pylist()
    assert [r["industry"] for r in shipped] == [r["industry"] for r in built["jsic13"]]
    assert [r["cluster"] for r in shipped] == [r["cluster"] for r in built["jsic13"]]
    assert len(set(r["cluster"] for r in shipped)) >= 60
    assert all(r["cluster_name_ja"] for r in shipped)
    rev14 = jp_benchmark.benchmark(14).to_pylist()
    assert {r["match"].split(":")[0] for r in rev14} >= {"same code, same name", "renumbered"}
    lost = jp_benchmark.lost(13)
    assert lost.num_rows > 0 and set(lost["step"].to_pylist()) >= {"JSIC Rev. 13 classes no cluster reaches"}


def test_benchmark_maps_the_census_and_finds_the_known_concentrations(jp_atlas):
    with Atlas(jp_atlas) as atlas:
        con = atlas.con
        mapped, unmapped = con.execute(
            "SELECT (SELECT sum(employment) FROM results_clusters WHERE level = 'prefecture'), "
            "(SELECT sum(employment) FROM observations o JOIN regions r USING (region) "
            " WHERE r.level = 'prefecture')").fetchall()[0]
        assert mapped / unmapped >= 0.95
        lq = {(r, c): (q, s) for r, c, q, s in con.execute(
            "SELECT region, cluster, lq, strong FROM results_clusters").fetchall()}
        # Kyushu (the METI bureau's prefectures): JSIC 281 electronic devices, and the cluster it joins
        kyushu = con.execute("""
            WITH sub AS (SELECT '281' AS industry),
                 k AS (SELECT o.* FROM observations o JOIN region_links r USING (region) WHERE r.parent = 'meti_kyushu')
            SELECT (SELECT sum(employment) FROM k WHERE industry IN (SELECT industry FROM sub))
                   / (SELECT sum(employment) FROM k)
                   / ((SELECT sum(employment) FROM reference_totals WHERE industry IN (SELECT industry FROM sub))
                      / (SELECT sum(employment) FROM reference_totals))""").fetchall()[0][0]
    assert lq[("23000", "Automotive")][0] > 3 and lq[("23000", "Automotive")][1]  # Aichi
    assert lq[("22000", "Recreational and Small Electric Goods")][0] > 3  # Shizuoka, musical instruments
    assert lq[("13000", "Business Services")][0] > 1.5  # Tokyo, information services
    assert lq[("16000", "Biopharmaceuticals")][0] > 3  # Toyama
    assert lq[("15000", "Downstream Metal Products")][0] > 1.5  # Niigata
    assert kyushu > 1.5  # Kyushu electronic devices
    cluster_of = dict(zip(*(jp_benchmark.definitions(13)[c].to_pylist() for c in ("industry", "cluster")), strict=True))
    assert cluster_of["281"] == "Information Technology and Analytical Instruments"


def test_cli_imports_census_and_loads_benchmark(tmp_path, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", shared_file(EXTRACT), "--format", "jp-census", "--year", "2014",
                 "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert "reference totals" in res.output and "392 = 39A + 39B + 39C" in res.output
    res = invoke(runner, "reference", "jp-benchmark", "--jsic", "14", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert "renumbered" in res.output and "lost" in res.output
