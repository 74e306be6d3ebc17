"""Readers of official formats (issue 3, first part): CBP and Eurostat, on the real files and on
format fixtures written from the published layouts."""

from __future__ import annotations

import duckdb
import pytest

from clusteratlas import Atlas, map_files
from clusteratlas.errors import InputError
from clusteratlas.sources.cbp import naics_vintage
from tests.conftest import atlas_fingerprint, invoke, query_atlas, shared_file


# ------------------------------------------------------------------- CBP
def test_cbp_state_file_2011(tmp_path):
    cbp = shared_file("us/cbp_state_naics_2000_2011.csv.gz")
    # the shared file holds 2000-2011; keep 2011 (the reader takes the year column as it is)
    one_year = tmp_path / "cbp2011.csv"
    duckdb.connect().execute(f"COPY (SELECT * FROM read_csv('{cbp}', all_varchar = true) WHERE year = '2011') "
                             f"TO '{one_year}' (HEADER)")
    path = tmp_path / "a.duckdb"
    with Atlas(path, create=True) as atlas:
        total = atlas.import_file("observations", one_year, name="total", file_format="cbp", options={"digits": 0})
        assert total.rows == 51
        six = atlas.import_file("observations", one_year, name="six", file_format="cbp", options={"digits": 6})
        assert any("NAICS 2007" in n for n in six.notes)
        assert any("withheld cell(s) kept with their size class" in n for n in six.notes)
    rows = query_atlas(path, "SELECT sum(employment) FROM observations WHERE dataset = 'total'")
    assert rows[0][0] == 113_425_965  # the published 2011 US total
    withheld = query_atlas(path, "SELECT count(*), count(DISTINCT size_class), count(employment) FROM observations "
                                 "WHERE dataset = 'six' AND flag = 'suppressed'")[0]
    assert withheld[0] > 5000 and withheld[1] >= 8 and withheld[2] == 0  # withheld: no number, a size class


def test_cbp_complete_file_layout(tmp_path, runner):
    """The Census complete state file layout (cbpYYst.txt): padded NAICS, lfo, empflag, emp_nf."""
    text = ("fipstate,naics,lfo,empflag,emp_nf,emp,qp1_nf,qp1,ap_nf,ap,est\n"
            "01,------,-,,G,1500000,G,1,G,60000000,90000\n"
            "01,31----,-,,G,250000,G,1,G,9000000,4000\n"
            "01,336111,-,,H,12000,G,1,G,800000,5\n"
            "01,336111,C,,H,11000,G,1,G,700000,3\n"
            "01,336112,-,E,D,0,D,0,D,0,2\n"
            "01,336211,-,,J,900,G,1,G,40000,12\n"
            "02,336111,-,,G,50,G,1,G,2000,1\n")
    (tmp_path / "cbp19st.txt").write_text(text)
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", tmp_path / "cbp19st.txt", "--atlas", atlas, "--format", "cbp",
                 "--year", "2019")
    assert res.exit_code == 0, res.output
    rows = query_atlas(atlas, "SELECT region, industry, year, employment, flag, size_class, payroll FROM observations "
                              "ORDER BY region, industry")
    # lfo C dropped, only '-' kept; payroll published in US$ 1,000, stored in US$ (the atlas's one unit for money)
    assert rows == [("01", "336111", 2019, 12000.0, "", None, 800_000_000.0),
                    ("01", "336112", 2019, None, "suppressed", "E", None),
                    ("01", "336211", 2019, 900.0, "estimated", None, 40_000_000.0),
                    ("02", "336111", 2019, 50.0, "", None, 2_000_000.0)]
    res = invoke(runner, "import", "observations", tmp_path / "cbp19st.txt", "--atlas", atlas, "--format", "cbp",
                 "--name", "again")
    assert res.exit_code == 2 and "--year" in res.stderr


def test_naics_vintages():
    assert [naics_vintage(y) for y in (2000, 2003, 2011, 2012, 2019, 2023)] == [1997, 2002, 2007, 2012, 2017, 2022]
    with pytest.raises(InputError):
        naics_vintage(1990)


# -------------------------------------------------------------- Eurostat
def test_eurostat_sbs_2015(tmp_path):
    sbs = shared_file("eu/eurostat_sbs_r_nuts06_r2_2015_persons_employed.csv")
    path = tmp_path / "a.duckdb"
    with Atlas(path, create=True) as atlas:
        report = atlas.import_file("observations", sbs, file_format="eurostat")
    corrupted = [n for n in report.notes if "not numbers" in n]
    assert corrupted and "'12:00 AM'" in corrupted[0]  # Iceland's Excel-mangled cells, reported
    n_nuts2 = query_atlas(path, "SELECT count(DISTINCT region) FROM observations WHERE length(region) = 4")[0][0]
    assert n_nuts2 == 327  # MANIFEST: 327 regions at NUTS-2
    # Iceland's readable cells are kept as numbers; only the mangled ones are withheld
    assert query_atlas(path, "SELECT employment, flag FROM observations WHERE region = 'IS' AND industry = 'B'") \
        == [(141.0, "")]
    confidential = query_atlas(path, "SELECT count(*), count(employment) FROM observations WHERE flag = 'suppressed'")
    assert confidential[0][0] > 5000 and confidential[0][1] == 0  # flagged, never zeroed
    assert query_atlas(path, "SELECT employment FROM observations WHERE region = 'AT' AND industry = 'B'") == \
        [(7089.0,)]
    bad_cell = query_atlas(path, "SELECT employment, flag FROM observations WHERE region = 'IS' AND industry = 'B05'")
    assert bad_cell == [(None, "suppressed")]


def test_eurostat_sbs_stars_at_nuts2(tmp_path):
    """ECO-style stars at the 2-digit level on the real SBS table (NUTS-2 regions only)."""
    sbs = shared_file("eu/eurostat_sbs_r_nuts06_r2_2015_persons_employed.csv")
    nuts2 = tmp_path / "sbs_nuts2.csv"
    duckdb.connect().execute(f"COPY (SELECT * FROM read_csv('{sbs}', delim = ';', all_varchar = true) "
                             f"WHERE length(geo) = 4 AND length(nace_r2) = 3) TO '{nuts2}' (HEADER, DELIMITER ';')")
    defs = tmp_path / "defs.csv"
    codes = duckdb.connect().execute(f"SELECT DISTINCT nace_r2 FROM read_csv('{nuts2}', delim = ';') ORDER BY 1"
                                     ).fetchall()
    defs.write_text("industry,cluster\n" + "".join(f"{c},{c}\n" for (c,) in codes))
    out = tmp_path / "out.csv"
    report = map_files(nuts2, defs, out, file_format="eurostat")
    assert report.rows > 5000
    rows = duckdb.connect().execute(f"SELECT count(DISTINCT region), max(stars), count(*) FILTER (WHERE stars = 3) "
                                    f"FROM read_csv('{out}')").fetchall()[0]
    assert rows[0] >= 300 and rows[1] == 3 and rows[2] > 0


def test_eurostat_lfs_tsv_needs_a_filter(tmp_path, runner):
    lfs = shared_file("eu/eurostat_lfst_r_lfe2en2_2008_2015.tsv")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    before = atlas_fingerprint(atlas)
    res = invoke(runner, "import", "observations", lfs, "--atlas", atlas, "--format", "eurostat")
    assert res.exit_code == 2 and "dimension 'age' has several values" in " ".join(res.stderr.split())
    assert atlas_fingerprint(atlas) == before
    res = invoke(runner, "import", "observations", lfs, "--atlas", atlas, "--format", "eurostat",
                 "--filter", "age=Y15-64")
    assert res.exit_code == 0, res.output
    # thousands (THS) become persons; 'u' (low reliability) becomes an estimate; ':' is withheld
    at = query_atlas(atlas, "SELECT employment, flag FROM observations WHERE region = 'AT' AND industry = 'A' "
                            "AND year = 2015")
    assert at[0][0] > 1000 and at[0][0] == round(at[0][0])
    flags = dict(query_atlas(atlas, "SELECT flag, count(*) FROM observations GROUP BY flag"))
    assert flags.get("estimated", 0) > 0 and flags.get("suppressed", 0) > 0


def test_eurostat_sdmx_csv(tmp_path, runner):
    (tmp_path / "sdmx.csv").write_text(
        "DATAFLOW,LAST UPDATE,freq,nace_r2,geo,TIME_PERIOD,OBS_VALUE,OBS_FLAG\n"
        "ESTAT:X(1.0),01/01/24,A,C10,DE11,2021,1500,\n"
        "ESTAT:X(1.0),01/01/24,A,C10,DE12,2021,,c\n"
        "ESTAT:X(1.0),01/01/24,A,C11,DE11,2021,300,e\n")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", tmp_path / "sdmx.csv", "--atlas", atlas, "--format", "eurostat")
    assert res.exit_code == 0, res.output
    assert query_atlas(atlas, "SELECT region, industry, employment, flag FROM observations ORDER BY ALL") == [
        ("DE11", "C10", 1500.0, ""), ("DE11", "C11", 300.0, "estimated"), ("DE12", "C10", None, "suppressed")]
    (tmp_path / "bad.csv").write_text("nace_r2,geo,2015\nC10,DE11,12 q\n")
    res = invoke(runner, "import", "observations", tmp_path / "bad.csv", "--atlas", atlas, "--format", "eurostat",
                 "--name", "bad")
    assert res.exit_code == 2 and "unknown Eurostat flag" in res.stderr


# ------------------------------------------------------------------ Japan
def test_estat_json_sample(tmp_path, runner):
    sample = shared_file("jp/estat_api_sample/getStatsData_0000020201_trimmed.json")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    assert invoke(runner, "import", "observations", sample, "--atlas", atlas, "--format", "estat").exit_code == 0
    assert query_atlas(atlas, "SELECT region, industry, year, employment FROM observations ORDER BY region") == [
        ("01100", "A2101", 2020, 1973395.0), ("01101", "A2101", 2020, 248680.0)]
    assert invoke(runner, "import", "regions", sample, "--atlas", atlas, "--format", "estat").exit_code == 0
    assert query_atlas(atlas, "SELECT region, name_ja FROM regions ORDER BY region") == [
        ("01100", "北海道 札幌市"), ("01101", "北海道 札幌市 中央区")]
    assert query_atlas(atlas, "SELECT parent FROM region_links WHERE region = '01101'") == [("01100",)]


def test_estat_json_withheld_cells_and_bad_answers(tmp_path, runner):
    import json

    answer = {"GET_STATS_DATA": {"RESULT": {"STATUS": 0}, "STATISTICAL_DATA": {
        "CLASS_INF": {"CLASS_OBJ": {"@id": "area", "CLASS": {"@code": "13000", "@name": "東京都"}}},
        "DATA_INF": {"VALUE": [
            {"@cat01": "E", "@area": "13000", "@time": "2016000000", "$": "1,200"},
            {"@cat01": "F", "@area": "13000", "@time": "2016000000", "$": "X"},
            {"@cat01": "G", "@area": "13000", "@time": "2016000000", "$": "-"}]}}}}
    (tmp_path / "a.json").write_text(json.dumps(answer, ensure_ascii=False), encoding="utf-8")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", tmp_path / "a.json", "--atlas", atlas, "--format", "estat")
    assert res.exit_code == 0 and "2 withheld cell(s)" in " ".join(res.output.split())
    assert query_atlas(atlas, "SELECT industry, employment, flag FROM observations ORDER BY industry") == [
        ("E", 1200.0, ""), ("F", None, "suppressed"), ("G", None, "suppressed")]
    answer["GET_STATS_DATA"]["RESULT"] = {"STATUS": 100, "ERROR_MSG": "appId is invalid"}
    (tmp_path / "b.json").write_text(json.dumps(answer), encoding="utf-8")
    before = atlas_fingerprint(atlas)
    res = invoke(runner, "import", "observations", tmp_path / "b.json", "--atlas", atlas, "--format", "estat",
                 "--name", "b")
    assert res.exit_code == 2 and "appId is invalid" in res.stderr
    (tmp_path / "c.json").write_text("{not json", encoding="utf-8")
    res = invoke(runner, "import", "observations", tmp_path / "c.json", "--atlas", atlas, "--format", "estat",
                 "--name", "c")
    assert res.exit_code == 2 and "cannot read as e-Stat JSON" in res.stderr
    assert atlas_fingerprint(atlas) == before


@pytest.fixture(scope="module")
def japan_2014(tmp_path_factory):
    table = shared_file("jp/sfukui_ReagionalIOTables/ExplanatoryVariablesBase.csv")
    areas = shared_file("jp/sfukui_ReagionalIOTables/AreaID.csv")
    folder = tmp_path_factory.mktemp("jp")
    regions = folder / "regions.csv"
    duckdb.connect().execute(f"""COPY (SELECT AreaID AS region, AreaName AS name,
        CASE WHEN AreaID = '00000' THEN 'country' WHEN AreaID LIKE '%000' THEN 'prefecture' ELSE 'city' END
        AS level FROM read_csv('{areas}', all_varchar = true)) TO '{regions}' (HEADER)""")
    path = folder / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        atlas.import_file("regions", regions)
        divisions = atlas.import_file("observations", table, name="divisions", file_format="wide",
                                      options={"establishments_prefix": "Firm_", "year": 2014})
        groups = atlas.import_file("observations", table, name="groups", file_format="wide",
                                   options={"prefix": "SEmp_", "establishments_prefix": "SFirm_",
                                            "totals_prefix": "Firm_", "year": 2014}, dry_run=True)
    return path, table, divisions, groups


def test_japan_2014_extract_total_and_flaws(japan_2014):
    path, _, _, groups = japan_2014
    total = query_atlas(path, "SELECT sum(establishments) FROM observations WHERE region = '00000'")[0][0]
    assert total == 5_541_634  # the published 2014 count of private establishments
    notes = " ".join(groups.notes)
    assert "Semp_982" in notes and "different letter case" in notes  # the misspelt column
    assert "SFirm_350 holds values that are not counts" in notes  # the true/false column
    assert "24% more than the 17 total columns" in notes  # 3-digit columns overlap the totals


def test_japan_prefecture_lqs_and_stars(japan_2014, tmp_path):
    _, table, _, _ = japan_2014
    codes = [c[len("SEmp_"):] for c in duckdb.connect().execute(
        f"SELECT * FROM read_csv('{table}', all_varchar = true) LIMIT 0").fetchdf().columns if c.startswith("SEmp_")]
    defs = tmp_path / "defs.csv"  # each JSIC 3-digit group in its 2-digit major group
    defs.write_text("industry,cluster\n" + "".join(f"{c},{c[:2]}\n" for c in codes))
    path = tmp_path / "a.duckdb"
    regions = tmp_path / "regions.csv"
    duckdb.connect().execute(f"""COPY (SELECT AreaID AS region, CASE WHEN AreaID = '00000' THEN 'country'
        WHEN AreaID LIKE '%000' THEN 'prefecture' ELSE 'city' END AS level
        FROM read_csv('{shared_file("jp/sfukui_ReagionalIOTables/AreaID.csv")}', all_varchar = true))
        TO '{regions}' (HEADER)""")
    with Atlas(path, create=True) as atlas:
        atlas.import_file("regions", regions)
        atlas.import_file("observations", table, name="groups", file_format="wide",
                          options={"prefix": "SEmp_", "year": 2014})
        atlas.import_file("definitions", defs)
        atlas.map()
    rows = query_atlas(path, "SELECT count(DISTINCT region), max(stars), count(*) FILTER (WHERE stars = 3), "
                             "max(peers) FROM results_clusters WHERE level = 'prefecture'")[0]
    # 42 prefectures: 47 less the five the MANIFEST lists as missing (its "43" is off by one)
    assert rows[0] == 42 and rows[1] == 3 and rows[2] > 0 and rows[3] <= 42  # peers: prefectures only


def test_japan_reference_systems(tmp_path, runner, japan_2014):
    jsic = shared_file("jp/kobesoft_jsic-data/jsic-en.json")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "reference", "jp-prefectures", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert query_atlas(atlas, "SELECT count(*) FROM regions WHERE level = 'prefecture'") == [(47,)]
    assert query_atlas(atlas, "SELECT name, name_ja FROM regions WHERE region = '27000'") == [("Osaka", "大阪府")]
    bureaus = dict(query_atlas(atlas, "SELECT parent, count(*) FROM region_links WHERE hierarchy = 'meti_bureau' "
                                      "GROUP BY parent"))
    assert sum(bureaus.values()) == 47 and bureaus["meti_kanto"] == 11 and bureaus["meti_okinawa"] == 1
    res = invoke(runner, "import", "industries", jsic, "--atlas", atlas, "--format", "jsic")
    assert res.exit_code == 0, res.output
    levels = dict(query_atlas(atlas, "SELECT length(industry), count(*) FROM industries GROUP BY 1"))
    assert levels == {1: 20, 2: 99, 3: 536, 4: 1473}  # divisions, major groups, groups, industries (Rev. 14)
    assert query_atlas(atlas, "SELECT name, name_ja FROM industries WHERE industry = 'E'") == [
        ("MANUFACTURING", "製造業")]
    # the 2014 extract's prefecture codes join the built-in names
    path, _, _, _ = japan_2014
    codes = {r[0] for r in query_atlas(path, "SELECT DISTINCT region FROM observations WHERE region LIKE '%000' "
                                             "AND region <> '00000'")}
    named = {r[0] for r in query_atlas(atlas, "SELECT region FROM regions WHERE level = 'prefecture'")}
    assert codes <= named and len(codes) == 42


def test_us_region_system_aggregates_counties_both_ways(tmp_path):
    """Counties sit in a state and a CBSA at once; both roll-ups reproduce the file's own totals."""
    crosswalk = shared_file("us/county_cbsa_state_crosswalk.csv")
    obs, defs = tmp_path / "obs.csv", tmp_path / "defs.csv"
    duckdb.connect().execute(f"""COPY (SELECT lpad(stco_code::VARCHAR, 5, '0') AS region, 'all' AS industry,
        2016 AS year, co_emp AS employment FROM read_csv('{crosswalk}', types = {{'stco_code': 'VARCHAR'}})
        WHERE co_emp IS NOT NULL) TO '{obs}' (HEADER)""")  # three counties have no figure in the file
    defs.write_text("industry,cluster\nall,economy\n")
    path = tmp_path / "a.duckdb"
    with Atlas(path, create=True) as atlas:
        report = atlas.import_file("regions", crosswalk, file_format="us-regions")
        assert "3,143 county, 384 metro_area, 543 micro_area, 51 state" in report.notes[0]
        atlas.import_file("observations", obs)
        atlas.import_file("definitions", defs)
        atlas.map(levels=["state", "metro_area", "micro_area"])
    expected = duckdb.connect().execute(f"""
        SELECT lpad(st_code::VARCHAR, 2, '0'), any_value(st_emp) FROM read_csv('{crosswalk}') GROUP BY 1
        UNION ALL SELECT cbsa_code::VARCHAR, any_value(cbsa_emp) FROM read_csv('{crosswalk}',
        types = {{'cbsa_code': 'VARCHAR'}}) WHERE cbsa_code IS NOT NULL GROUP BY 1""").fetchall()
    got = dict(query_atlas(path, "SELECT region, employment FROM results_regions WHERE level <> 'county'"))
    assert len(got) == 51 + 927
    assert all(abs(got[code] - value) < 0.5 for code, value in expected)
    levels = query_atlas(path, "SELECT count(DISTINCT hierarchy) FROM region_links WHERE region = '06085'")
    assert levels == [(2,)]  # Santa Clara County: in California and in the San Jose metro area


def test_patents_per_head_on_real_county_data(tmp_path):
    patents = shared_file("patents/brookings_uspto_co_uspto.csv")
    crosswalk = shared_file("us/county_cbsa_state_crosswalk.csv")
    population = tmp_path / "population.csv"  # the crosswalk's county population, taken as the 2015 figure
    duckdb.connect().execute(f"""COPY (SELECT lpad(stco_code::VARCHAR, 5, '0') AS region, 2015 AS year,
        co_pop AS value FROM read_csv('{crosswalk}', types = {{'stco_code': 'VARCHAR'}}) WHERE co_pop IS NOT NULL)
        TO '{population}' (HEADER)""")
    path = tmp_path / "a.duckdb"
    with Atlas(path, create=True) as atlas:
        atlas.import_file("indicators", patents, name="patents", mapping={"region": "stco_code",
                                                                          "value": "patents_issued"})
        atlas.import_file("indicators", population, name="population")
        rates = atlas.indicator_rates("patents", per="population", year=2015).to_pylist()
    top = {r["region"]: r for r in rates}
    santa_clara = top["06085"]
    direct = duckdb.connect().execute(f"""SELECT p.patents_issued / c.co_pop * 1000 FROM read_csv('{patents}',
        types = {{'stco_code': 'VARCHAR'}}) p JOIN read_csv('{crosswalk}', types = {{'stco_code': 'VARCHAR'}}) c
        ON lpad(p.stco_code, 5, '0') = lpad(c.stco_code, 5, '0') WHERE p.year = 2015
        AND p.stco_code IN ('06085', '6085')""").fetchall()[0][0]
    assert santa_clara["rate"] == pytest.approx(direct)
    big = [r for r in rates if r["base"] > 1_000_000]
    assert big[0]["region"] == "06085"  # among counties over a million people, Santa Clara leads


def test_eurostat_indicator_tables(tmp_path, runner):
    """EPO patent applications per million (tgs00040), population (tgs00096) and GDP (tgs00003) by NUTS 2."""
    long = shared_file("patents/eurostat_ballatore_eu_all_geo_data_long.csv.gz")
    for code in ("tgs00096", "tgs00003"):
        duckdb.connect().execute(f"""COPY (SELECT geo, time, unit, "values" FROM read_csv('{long}', quote='"')
            WHERE input_var_code = '{code}') TO '{tmp_path / code}.csv' (HEADER)""")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    for name, path in (("epo_patents", shared_file("patents/eurostat_tgs00040_epo_patents_per_million_nuts2_2001_"
                                                   "2012.csv")),
                       ("population", tmp_path / "tgs00096.csv"), ("gdp", tmp_path / "tgs00003.csv")):
        res = invoke(runner, "import", "indicators", path, "--format", "eurostat", "--name", name, "--atlas", atlas)
        assert res.exit_code == 0, res.output
    value, unit = query_atlas(atlas, "SELECT value, unit FROM indicators WHERE indicator = 'epo_patents' "
                                     "AND region = 'AT12' AND year = 2001")[0]
    assert (value, unit) == (pytest.approx(113.342), "P_MHAB")  # as in the file
    with Atlas(atlas) as a:
        rates = {r["region"]: r for r in a.indicator_rates("gdp", per="population", scale=1e6, year=2015)
                 .to_pylist()}
    direct = duckdb.connect().execute(f"""SELECT g."values" / p."values" * 1e6 FROM read_csv('{tmp_path}/tgs00003.csv')
        g JOIN read_csv('{tmp_path}/tgs00096.csv') p USING (geo, time) WHERE geo = 'DE21' AND time = 2015""") \
        .fetchall()[0][0]
    assert rates["DE21"]["rate"] == pytest.approx(direct)  # GDP per head of Oberbayern, EUR
    assert 40_000 < rates["DE21"]["rate"] < 80_000


def test_cbp_census_api_json(tmp_path, runner):
    """The Census API's JSON shape (an array of rows, header first) read by --format cbp."""
    import json

    cbp = shared_file("us/cbp2019_cbsa_naics2017_emp_est.csv.gz")
    rows = duckdb.connect().execute(f"""SELECT naics_code, emp::VARCHAR, est::VARCHAR, cbsa_code
        FROM read_csv('{cbp}', types={{'cbsa_code': 'VARCHAR', 'naics_code': 'VARCHAR'}})
        WHERE cbsa_code IN ('19820', '41940')""").fetchall()
    header = ["NAICS2017", "EMP", "ESTAB", "metropolitan statistical area/micropolitan statistical area"]
    path = tmp_path / "cbp_api.json"
    path.write_text(json.dumps([header, *map(list, rows)]))
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", path, "--format", "cbp", "--year", "2019", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    got = dict(query_atlas(atlas, "SELECT region, sum(employment) FROM observations GROUP BY 1"))
    direct = dict(duckdb.connect().execute(f"""SELECT cbsa_code, sum(emp) FROM read_csv('{cbp}',
        types={{'cbsa_code': 'VARCHAR'}}) WHERE cbsa_code IN ('19820', '41940') AND naics_level = 6
        GROUP BY 1""").fetchall())
    assert got == pytest.approx(direct)
    path.write_text(json.dumps([header, ["1133//", "5"]]))
    bad = invoke(runner, "import", "observations", path, "--format", "cbp", "--year", "2019", "--atlas", atlas,
                 "--name", "bad")
    assert bad.exit_code == 2 and "line 2: row has 2 values, the header 4" in " ".join(bad.output.split())


QCEW_HEADER = ("area_fips,own_code,industry_code,agglvl_code,size_code,year,qtr,disclosure_code,annual_avg_estabs,"
               "annual_avg_emplvl,total_annual_wages,taxable_annual_wages,annual_contributions,"
               "annual_avg_wkly_wage,avg_annual_pay")


def test_qcew_annual_file_specification_fixture(tmp_path, runner):
    """BLS QCEW annual-averages CSV, written from the published layout (no real file is in ../shared/data)."""
    rows = [
        '"36061","0","10","70","0","2017","A","","120000","2400000","300000000000","0","0","2400","125000"',
        '"36061","5","10","71","0","2017","A","","110000","2000000","260000000000","0","0","2500","130000"',
        '"36061","5","31-33","74","0","2017","A","","2000","20000","1200000000","0","0","1154","60000"',
        '"36061","5","541511","78","0","2017","A","","3000","40000","6000000000","0","0","2885","150000"',
        '"36061","5","541512","78","0","2017","A","N","0","0","0","0","0","0","0"',
        '"36061","3","541511","78","0","2017","A","","2","50","5000000","0","0","1923","100000"',
        '"36047","5","541511","78","0","2017","A","","900","5000","500000000","0","0","1923","100000"',
    ]
    path = tmp_path / "2017.annual.singlefile.csv"
    path.write_text(QCEW_HEADER + "\n" + "\n".join(rows) + "\n")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", path, "--format", "qcew", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    got = query_atlas(atlas, "SELECT region, industry, employment, payroll, flag FROM observations ORDER BY 1, 2")
    # private (own_code 5) six-digit rows only; the undisclosed cell withheld, never 0
    assert got == [("36047", "541511", 5000.0, 500_000_000.0, ""),
                   ("36061", "541511", 40000.0, 6_000_000_000.0, ""),
                   ("36061", "541512", None, None, "suppressed")]
    two = invoke(runner, "import", "observations", path, "--format", "qcew", "--digits", "2", "--name", "sectors",
                 "--filter", "own_code=0", "--atlas", tmp_path / "b.duckdb")
    assert two.exit_code == 2  # no atlas there yet: the message says so
    invoke(runner, "init", "--atlas", tmp_path / "b.duckdb")
    two = invoke(runner, "import", "observations", path, "--format", "qcew", "--digits", "2", "--filter",
                 "own_code=5", "--atlas", tmp_path / "b.duckdb")
    assert two.exit_code == 0, two.output
    assert query_atlas(tmp_path / "b.duckdb", "SELECT industry FROM observations") == [("31-33",)]
    bad = tmp_path / "bad.csv"
    bad.write_text(QCEW_HEADER.replace("annual_avg_emplvl", "emplvl") + "\n" + rows[0] + "\n")
    res = invoke(runner, "import", "observations", bad, "--format", "qcew", "--atlas", atlas, "--name", "bad")
    assert res.exit_code == 2 and "no 'annual_avg_emplvl' column" in res.output
