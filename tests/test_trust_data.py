"""Issue 19, the data and method items: every figure equal to its definition on the data users really have.

Items 6 (complexity of a disconnected network), 9 (peer conventions), 12 (NUTS one level at a time),
13 (designated cities), 14 (per-column limits), 15 (analyses of an atlas without observations) and
16 (hot-spot power); items 7 (CBP region totals), 10 (CORDIS roles and money) and 11 (directed ties)
have their own modules (test_cbp_totals.py, test_network_money.py, test_directed_ties.py).
"""

from __future__ import annotations

import pytest

from tests.conftest import invoke


# ------------------------------------------------------------------ item 15: no observations
@pytest.mark.parametrize("args", [
    ["relate", "--by", "industry"], ["relate", "--by", "industry", "--year", "2020"],
    ["hotspots", "--by", "industry"], ["shift-share", "2019", "2020", "--by", "industry"],
    ["define", "--out", "d.csv"]])
def test_analyses_after_a_failed_import_say_there_are_no_observations(tmp_path, runner, args):
    atlas = tmp_path / "a.duckdb"
    bad = tmp_path / "obs.csv"
    bad.write_text("region,industry,year,employment\nA,11,2020,ten\n", encoding="utf-8")
    invoke(runner, "init", "--atlas", atlas)
    assert invoke(runner, "import", "observations", bad, "--atlas", atlas).exit_code == 2
    res = invoke(runner, *[str(tmp_path / a) if a == "d.csv" else a for a in args], "--atlas", atlas)
    assert res.exit_code == 2, res.output
    assert "no observations" in res.output and "several region levels" not in res.output, res.output


def test_an_analysis_of_a_year_without_observations_names_the_years_there_are(mapped_atlas, runner):
    res = invoke(runner, "relate", "--by", "industry", "--year", "1990", "--atlas", mapped_atlas)
    assert res.exit_code == 2
    assert "no observations for this year" in res.output and "several region levels" not in res.output


# ------------------------------------------------------------------ item 14: limits per column and unit
def _observations(tmp_path, rows: str):
    path = tmp_path / "obs.csv"
    path.write_text("region,industry,year,employment,establishments,payroll\n" + rows, encoding="utf-8")
    return path


def test_a_national_payroll_and_a_large_employment_count_are_accepted(tmp_path, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    # US private payroll 2019 ($7.4 trillion, in dollars); a yen payroll (2.3e14); 3 billion persons
    obs = _observations(tmp_path, "US,00,2019,132989428,7959103,7428553593000\n"
                                  "JP,00,2019,3000000000,1,230000000000000\n")
    res = invoke(runner, "import", "observations", obs, "--atlas", atlas)
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(("column", "row", "unit"), [
    ("employment", "A,11,2020,2e10,1,1", "persons"), ("establishments", "A,11,2020,1,2e10,1", "establishments")])
def test_the_limit_error_names_the_column_its_limit_and_unit(tmp_path, runner, column, row, unit):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", _observations(tmp_path, row + "\n"), "--atlas", atlas)
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert f"column '{column}'" in text and "implausibly large" in text and "'2e10'" in text, text
    assert f"at most 10,000,000,000 {unit} in one cell" in text, text


def test_trade_values_in_dollars_pass_with_their_unit_declared(tmp_path, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    exports = _observations(tmp_path, "US,8802,2019,131000000000,,\nFR,8802,2019,62000000000,,\n")
    refused = invoke(runner, "import", "observations", exports, "--atlas", atlas)
    assert refused.exit_code == 2 and "persons" in refused.output
    res = invoke(runner, "import", "observations", exports, "--unit", "USD", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert "values in USD" in " ".join(res.output.split())


# ------------------------------------------------------------------ item 13: the designated cities
@pytest.mark.realdata
@pytest.mark.parametrize("dry_run", [False, True])
def test_the_designated_cities_of_a_census_table_are_in_the_region_system(tmp_path, runner, dry_run):
    from tests.conftest import query_atlas, shared_file

    census = shared_file("jp/sfukui_ReagionalIOTables/ExplanatoryVariablesBase.csv")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    invoke(runner, "reference", "jp-prefectures", "--atlas", atlas)
    res = invoke(runner, "import", "observations", census, "--format", "jp-census", "--year", "2014",
                 "--atlas", atlas, *(["--dry-run"] if dry_run else []))
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "in no imported or built-in region system" not in text, text
    assert "7 municipalities (level 'municipality', parent their prefecture)" in text
    if dry_run:
        return
    cities = query_atlas(atlas, "SELECT r.region, r.level, l.parent FROM regions r JOIN region_links l USING "
                                "(region) WHERE l.hierarchy = 'prefecture' ORDER BY 1")
    # Sapporo, Saitama, Yokohama, Kawasaki, Okayama, Fukuoka (designated cities) and Gujo, each under its prefecture
    assert cities == [(c, "municipality", c[:2] + "000") for c in
                      ("01100", "11100", "14100", "14130", "21219", "33100", "40130")]
    # and their LQs are there after a map, with nothing outside a region system
    invoke(runner, "reference", "jp-benchmark", "--atlas", atlas)
    assert invoke(runner, "map", "--definition", "jp-benchmark-jsic13", "--atlas", atlas).exit_code == 0
    assert query_atlas(atlas, "SELECT outside_regions FROM map_runs") == [(0,)]
    assert query_atlas(atlas, "SELECT count(DISTINCT region) FROM results_regions WHERE level = 'municipality'"
                       ) == [(7,)]


# ------------------------------------------------------------------ item 12: NUTS files one level at a time
def _nuts_file(path, features):
    import json

    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"NUTS_ID": code, "LEVL_CODE": len(code) - 2, "NAME_LATN": name},
         "geometry": None} for code, name in features]}), encoding="utf-8")
    return path


def test_a_level_2_nuts_file_imports_alone_with_its_implied_ancestors(tmp_path, runner):
    from tests.conftest import query_atlas

    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    level2 = _nuts_file(tmp_path / "NUTS_RG_01M_2016_4326_LEVL_2.geojson",
                        [("FRF1", "Alsace"), ("FRF2", "Champagne-Ardenne"), ("DE11", "Stuttgart")])
    res = invoke(runner, "import", "regions", level2, "--format", "nuts", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "4 ancestor region(s) the codes imply but the file lacks (nuts0, nuts1: DE, FR, DE1, FRF)" in text, text
    regions = query_atlas(atlas, "SELECT region, name, level FROM regions ORDER BY level, region")
    assert regions == [("DE", None, "nuts0"), ("FR", None, "nuts0"), ("DE1", None, "nuts1"), ("FRF", None, "nuts1"),
                       ("DE11", "Stuttgart", "nuts2"), ("FRF1", "Alsace", "nuts2"),
                       ("FRF2", "Champagne-Ardenne", "nuts2")]
    links = query_atlas(atlas, "SELECT region, parent FROM region_links WHERE hierarchy = 'nuts' ORDER BY 1")
    assert links == [("DE1", "DE"), ("DE11", "DE1"), ("FRF", "FR"), ("FRF1", "FRF"), ("FRF2", "FRF")]
    # the level above names them later; the level below, imported again, keeps those names
    level1 = _nuts_file(tmp_path / "level1.geojson", [("FRF", "Grand Est"), ("DE1", "Baden-Württemberg")])
    assert invoke(runner, "import", "regions", level1, "--format", "nuts", "--atlas", atlas).exit_code == 0
    assert invoke(runner, "import", "regions", level2, "--format", "nuts", "--atlas", atlas).exit_code == 0
    assert query_atlas(atlas, "SELECT region, name FROM regions WHERE level = 'nuts1' ORDER BY 1") == [
        ("DE1", "Baden-Württemberg"), ("FRF", "Grand Est")]


@pytest.mark.realdata
def test_the_gisco_level_2_file_users_download_imports_alone(tmp_path, runner):
    from tests.conftest import query_atlas, shared_file

    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "regions", shared_file("geo/NUTS_RG_01M_2016_4326_LEVL_2.geojson.gz"),
                 "--format", "nuts", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert query_atlas(atlas, "SELECT level, count(*) FROM regions GROUP BY 1 ORDER BY 1") == [
        ("nuts0", 37), ("nuts1", 125), ("nuts2", 332)]
    # every level-2 region reaches its country through the code's own nesting
    assert query_atlas(atlas, "SELECT count(*) FROM region_links a JOIN region_links b ON b.region = a.parent "
                              "WHERE a.region IN (SELECT region FROM regions WHERE level = 'nuts2') "
                              "AND b.parent = left(a.region, 2)") == [(332,)]
