"""Region systems (BEA economic areas, NUTS, Japanese municipalities), NUTS recoding, neighbours from
geometry, and the e-Stat CSV reader."""

from __future__ import annotations

import csv
import gzip
import json

import pytest

from clusteratlas import Atlas
from clusteratlas.errors import InputError
from clusteratlas.reference.geometry import contiguity
from clusteratlas.reference.japan import municipalities
from clusteratlas.sources.estat import estat_csv
from tests.conftest import atlas_fingerprint, invoke, query_atlas, shared_file

pytestmark = pytest.mark.realdata

#: NUTS 2013 → NUTS 2016 for France's regions (the 2016 version recoded them after the 2016 regional reform;
#: boundaries unchanged). Transcribed from Eurostat's NUTS 2013-2016 change table.
FRANCE_2013_2016 = {
    "FR21": "FRF2", "FR22": "FRE2", "FR23": "FRD2", "FR24": "FRB0", "FR25": "FRD1", "FR26": "FRC1",
    "FR30": "FRE1", "FR41": "FRF3", "FR42": "FRF1", "FR43": "FRC2", "FR51": "FRG0", "FR52": "FRH0",
    "FR53": "FRI3", "FR61": "FRI1", "FR62": "FRJ2", "FR63": "FRI2", "FR71": "FRK2", "FR72": "FRK1",
    "FR81": "FRJ1", "FR82": "FRL0", "FR83": "FRM0", "FRA1": "FRY1", "FRA2": "FRY2", "FRA3": "FRY3",
    "FRA4": "FRY4", "FRA5": "FRY5",
}


def test_bea_economic_areas_roll_up_counties(tmp_path):
    xls = shared_file("us/BEA_Economic_Areas_and_Counties.xls")
    crosswalk = shared_file("us/county_cbsa_state_crosswalk.csv")
    with open(crosswalk) as fh:
        rows = list(csv.DictReader(fh))
    emp_col = next(c for c in rows[0] if "emp" in c.lower())
    obs = tmp_path / "obs.csv"
    with open(obs, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["region", "industry", "year", "employment"])
        for r in rows:
            if r[emp_col] not in ("", "NA"):
                w.writerow([r["stco_code"].zfill(5), "total", 2016, r[emp_col]])
    defs = tmp_path / "defs.csv"
    defs.write_text("industry,cluster\ntotal,all\n")
    atlas = tmp_path / "a.duckdb"
    with Atlas(atlas, create=True) as a:
        report = a.import_file("regions", xls, file_format="bea-ea")
        assert report.rows == 3147 + 179
        a.import_file("observations", obs, name="counties")
        a.import_file("definitions", defs, name="d")
        a.map(levels=["economic_area"])
    n_ea, = query_atlas(atlas, "SELECT count(*) FROM regions WHERE level = 'economic_area'")[0]
    assert n_ea == 179
    # Independent sum: county employment grouped by the EA column of the workbook, in Python.
    import xlrd

    sheet = xlrd.open_workbook(str(xls)).sheet_by_name("EA county definition")
    ea_of = {str(sheet.cell_value(i, 0)).zfill(5): str(sheet.cell_value(i, 2)).zfill(3) for i in range(1, sheet.nrows)}
    expected: dict[str, float] = {}
    for r in rows:
        county = r["stco_code"].zfill(5)
        if county in ea_of and r[emp_col] not in ("", "NA"):
            expected[ea_of[county]] = expected.get(ea_of[county], 0) + float(r[emp_col])
    got = dict(query_atlas(atlas, "SELECT region, employment FROM results_clusters WHERE level = 'economic_area'"))
    assert got.keys() == expected.keys()
    assert all(got[k] == pytest.approx(v) for k, v in expected.items())


def test_japanese_municipalities_2020_and_1980():
    path = shared_file("jp/kondo_municipality-converter/municipality_converter_jp.csv")
    table = municipalities(path, year=2020)
    rows = {r["region"]: r for r in table.to_pylist()}
    assert len(rows) == 1741  # 1,718 municipalities + Tokyo's 23 special wards (2020)
    assert rows["01100"] == {"region": "01100", "name": "Sapporo-shi, Hokkaido", "name_ja": "札幌市",
                             "level": "municipality", "parent": "01000", "hierarchy": "prefecture"}
    assert {r["parent"] for r in rows.values()} == {f"{i:02d}000" for i in range(1, 48)}
    assert municipalities(path, year=1980).num_rows == 3278  # 3,255 + 23 wards
    with pytest.raises(InputError, match="census years only"):
        municipalities(path, year=2021)


def test_municipalities_roll_up_to_prefectures_and_bureaus(tmp_path, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    assert invoke(runner, "reference", "jp-prefectures", "--atlas", atlas).exit_code == 0
    res = invoke(runner, "import", "regions", shared_file(
        "jp/kondo_municipality-converter/municipality_converter_en.csv"), "--format", "jp-municipalities",
        "--year", "2020", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    ja, = query_atlas(atlas, "SELECT name_ja FROM regions WHERE region = '13101'")[0]
    assert ja == "千代田区"  # Japanese names come from the _jp file beside the _en one
    n, = query_atlas(atlas, "SELECT count(*) FROM region_links WHERE hierarchy = 'prefecture'")[0]
    assert n == 1741


def test_nuts_regions_and_recode_2013_to_2016(tmp_path, runner):
    nuts2016 = shared_file("geo/NUTS_RG_01M_2016_4326_LEVL_2.geojson.gz")
    sbs = shared_file("eu/eurostat_sbs_r_nuts06_r2_2015_persons_employed.csv")
    conc = tmp_path / "nuts_2013_2016.csv"
    conc.write_text("Code 2013,Code 2016\n" + "".join(f"{a},{b}\n" for a, b in FRANCE_2013_2016.items()))
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    # one NUTS level alone implies its parents by the codes (FRF2 → FRF → FR): they are added, and said so
    # (issue 19 item 12; it was refused before, "exists nowhere")
    res = invoke(runner, "import", "regions", nuts2016, "--format", "nuts", "--atlas", atlas)
    assert res.exit_code == 0 and "ancestor region(s) the codes imply" in " ".join(res.output.split())
    for level in (0, 1):  # the levels above, then the 2016 NUTS 2 regions under them
        res = invoke(runner, "import", "regions", shared_file(f"geo/NUTS_RG_03M_2021_4326_LEVL_{level}.geojson.gz"),
                     "--format", "nuts", "--atlas", atlas)
        assert res.exit_code == 0, res.output
    res = invoke(runner, "import", "regions", nuts2016, "--format", "nuts", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert query_atlas(atlas, "SELECT count(*) FROM regions WHERE level = 'nuts2'")[0][0] == 332
    assert query_atlas(atlas, "SELECT parent FROM region_links WHERE region = 'FRF2'")[0][0] == "FRF"
    for name, extra in (("as2013", []), ("as2016", ["--recode", conc])):
        invoke(runner, "init", "--atlas", tmp_path / f"{name}.duckdb")
        res = invoke(runner, "import", "observations", sbs, "--format", "eurostat", "--name", name,
                     "--atlas", tmp_path / f"{name}.duckdb", *extra)
        assert res.exit_code == 0, res.output
    note = " ".join(res.output.split())
    # NUTS 2 regions with figures (FRZZ: extra-regio; FR91-FR94: NUTS 2010 codes the table keeps, all empty)
    sql = ("SELECT region, sum(employment) FROM observations WHERE region LIKE 'FR__' "
           "AND region <> 'FRZZ' GROUP BY 1 HAVING count(employment) > 0")
    before = dict(query_atlas(tmp_path / "as2013.duckdb", sql))
    after = dict(query_atlas(tmp_path / "as2016.duckdb", sql))
    with gzip.open(nuts2016) as fh:
        fr2016 = {f["properties"]["NUTS_ID"] for f in json.load(fh)["features"]
                  if f["properties"]["CNTR_CODE"] == "FR"}
    assert set(after) <= fr2016 and not set(before) <= fr2016  # the 2016 geometry knows every recoded code
    assert sum(after.values()) == pytest.approx(sum(before.values()))
    assert after["FRF2"] == pytest.approx(before["FR21"])
    assert f"{len(FRANCE_2013_2016)} region code(s) converted" in note  # all 26 are in the table

    # issue 9, item 8: a NUTS code that does not exist is reported after import, and --strict refuses it
    odd = tmp_path / "odd.csv"
    odd.write_text("region,industry,year,employment\nFR10,C,2015,100\nXX99,C,2015,42\n")
    before = atlas_fingerprint(atlas)
    res = invoke(runner, "import", "observations", odd, "--strict", "--atlas", atlas)
    assert res.exit_code == 2 and "line 3" in res.stderr and "'XX99'" in res.stderr
    assert atlas_fingerprint(atlas) == before
    res = invoke(runner, "import", "observations", odd, "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert "1 region code(s) in this file are in no imported or built-in region system, 42 jobs: XX99 (42 jobs)" \
        in " ".join(res.output.split())


def test_recode_split_and_merge_hand_worked(tmp_path):
    obs = tmp_path / "obs.csv"
    obs.write_text("region,industry,year,employment,flag\nA,x,2020,100,\nB,x,2020,50,\nC,x,2020,,suppressed\n"
                   "D,x,2020,10,\n")
    conc = tmp_path / "conc.csv"
    # A splits 70/30 into A1, A2; B and C merge into BC; D is not listed and keeps its code.
    conc.write_text("old_code,new_code,weight\nA,A1,0.7\nA,A2,0.3\nB,BC,1\nC,BC,1\n")
    from clusteratlas.reference.benchmark import read_concordance

    with Atlas(tmp_path / "a.duckdb", create=True) as a:
        a.import_file("observations", obs, options={"recode": read_concordance(conc)})
        rows = {r[0]: r[1:] for r in a.con.execute("SELECT region, employment, flag FROM observations").fetchall()}
    assert rows == {"A1": (70.0, "estimated"), "A2": (30.0, "estimated"), "BC": (None, "suppressed"),
                    "D": (10.0, "")}
    bad = tmp_path / "bad.csv"
    bad.write_text("old_code,new_code\nA,A1\nA,A2\n")
    before = atlas_fingerprint(tmp_path / "a.duckdb")
    with Atlas(tmp_path / "a.duckdb") as a, pytest.raises(InputError, match="weights add up to 2"):
        a.import_file("observations", obs, name="again", options={"recode": read_concordance(bad)})
    assert atlas_fingerprint(tmp_path / "a.duckdb") == before


def test_neighbours_from_topojson_and_geojson(tmp_path, runner):
    states = contiguity(shared_file("geo/states-10m.json"), layer="states")
    alabama = {r["neighbor"] for r in states.to_pylist() if r["region"] == "01"}
    assert alabama == {"12", "13", "28", "47"}  # Florida, Georgia, Mississippi, Tennessee
    pairs = {(r["region"], r["neighbor"]) for r in states.to_pylist()}
    assert all((b, a) in pairs for a, b in pairs)
    assert not any(r["region"] == "15" for r in states.to_pylist())  # Hawaii: an island state
    nuts = contiguity(shared_file("geo/NUTS_RG_03M_2021_4326_LEVL_2.geojson.gz"))
    paris = {r["neighbor"] for r in nuts.to_pylist() if r["region"] == "FR10"}
    assert paris == {"FRB0", "FRC1", "FRD2", "FRE2", "FRF2"}  # Île-de-France's five neighbours
    with pytest.raises(InputError, match="choose the TopoJSON layer"):
        contiguity(shared_file("geo/cmp_counties_eas_msas.topojson.json"))
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    counties = shared_file("geo/counties-10m.json")
    weights = ("import", "weights", counties, "--format", "topojson", "--layer", "counties", "--atlas", atlas)
    res = invoke(runner, *weights)  # an empty atlas holds none of these counties: refused
    assert res.exit_code == 2 and "--drop-unknown" in res.stderr
    assert invoke(runner, "import", "regions", shared_file("us/county_cbsa_state_crosswalk.csv"), "--format",
                  "us-regions", "--atlas", atlas).exit_code == 0
    before = atlas_fingerprint(atlas)
    res = invoke(runner, *weights)  # 80 counties the crosswalk lacks (Puerto Rico, …): refused
    assert res.exit_code == 2 and "80 such code(s) in 370 row(s)" in " ".join(res.stderr.split())
    assert atlas_fingerprint(atlas) == before
    res = invoke(runner, *weights, "--drop-unknown")
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "left out" in text and "72001" in text  # the rows left out are listed
    n, = query_atlas(atlas, "SELECT count(DISTINCT region) FROM region_neighbors")[0]
    assert n > 3000
    assert not query_atlas(atlas, "SELECT * FROM region_neighbors WHERE region NOT IN (SELECT region FROM regions) "
                                  "OR neighbor NOT IN (SELECT region FROM regions)")


#: The metadata sections above the table in the e-Stat API 3.0 CSV (getSimpleStatsData), as specified.
ESTAT_CSV_HEADER = ['"RESULT"', '"STATUS","0"', '"ERROR_MSG","正常に終了しました。"',
                    '"DATE","2024-01-01T00:00:00.000+09:00"', '"PARAMETER"', '"LANG","J"',
                    '"STATS_DATA_ID","0003000000"', '"DATA_FORMAT","C"', '"STATISTICAL_DATA"',
                    '"TABLE_INF","0003000000"', '"STAT_NAME","00200553","経済センサス‐活動調査"', '"VALUE"']


def _estat_csv(path, rows, header=None, encoding="cp932"):
    head = header or '"tab_code","表章項目","cat01_code","産業分類","area_code","地域","time_code","時間軸(年次)",' \
                     '"unit","value","annotation"'
    lines = [*ESTAT_CSV_HEADER, head] + [
        ",".join(f'"{c}"' for c in r) for r in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def test_estat_csv_reader_specification_fixture(tmp_path, runner):
    """Built from the published e-Stat API 3.0 CSV layout (no real e-Stat CSV download is available here)."""
    rows = [("110", "従業者数", "E", "製造業", "01000", "北海道", "2016000000", "2016年", "人", "172,480", ""),
            ("110", "従業者数", "E", "製造業", "02000", "青森県", "2016000000", "2016年", "人", "X", ""),
            ("110", "従業者数", "G", "情報通信業", "02000", "青森県", "2016000000", "2016年", "人", "-", ""),
            ("110", "従業者数", "G", "情報通信業", "01000", "北海道", "2016000000", "2016年", "人", "28612", "")]
    path = _estat_csv(tmp_path / "e.csv", rows)
    table, notes = estat_csv(path)
    got = {(r["region"], r["industry"]): (r["employment"], r["flag"], r["year"]) for r in table.to_pylist()}
    assert got[("01000", "E")] == ("172480", "", "2016")
    assert got[("02000", "E")] == (None, "suppressed", "2016")
    assert got[("02000", "G")] == (None, "suppressed", "2016")
    assert "2 withheld" in notes[0]
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", path, "--format", "estat-csv", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert query_atlas(atlas, "SELECT sum(employment) FROM observations")[0][0] == 172480 + 28612


@pytest.mark.parametrize(("case", "message"), [
    ("truncated", "line 15: the row has 5 cells, the header 11"),
    ("header", "no e-Stat table header found"),
    ("encoding", "cannot decode the file"),
    ("class", "no such classification in the answer"),
])
def test_estat_csv_bad_input(tmp_path, runner, case, message):
    good = ("110", "従業者数", "E", "製造業", "01000", "北海道", "2016000000", "2016年", "人", "10", "")
    rows = [good, good[:5]] if case == "truncated" else [good]
    header = '"tab_code","表章項目","cat01_code","産業分類","area_code","地域","time_code","時間軸","unit","数値"' \
        if case == "header" else None
    path = _estat_csv(tmp_path / "e.csv", rows, header=header)
    if case == "encoding":
        path.write_bytes(path.read_bytes() + b"\x81\x20")  # a lead byte without its trail: neither UTF-8 nor CP932
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    before = atlas_fingerprint(atlas)
    extra = ["--filter", "industry=cat02"] if case == "class" else []
    res = invoke(runner, "import", "observations", path, "--format", "estat-csv", "--atlas", atlas, *extra)
    assert res.exit_code == 2 and message in " ".join(res.output.split()), res.output
    assert atlas_fingerprint(atlas) == before


def test_neighbours_from_a_census_style_shapefile_zip_equal_libpysal(tmp_path, server, runner):
    """Queen contiguity of the 48 states from a zipped shapefile, against libpysal's own Queen weights."""
    import zipfile
    from pathlib import Path

    import libpysal

    shp = Path(libpysal.examples.get_path("us48.shp"))
    root, base = server
    (root / "GENZ2019" / "shp").mkdir(parents=True)
    archive = root / "GENZ2019" / "shp" / "cb_2019_us_state_500k.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for ext in (".shp", ".shx", ".dbf"):
            z.write(shp.with_suffix(ext), f"cb_2019_us_state_500k{ext}")
    ours = contiguity(archive, id_property="STATE_FIPS")
    queen = libpysal.weights.Queen.from_shapefile(str(shp), idVariable="STATE_FIPS")
    expected = {(str(a), str(b)) for a, ns in queen.neighbors.items() for b in ns}
    assert {(r["region"], r["neighbor"]) for r in ours.to_pylist()} == expected
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "fetch", "census-geo", "--year", "2019", "--level", "state", "--base-url", base)
    assert res.exit_code == 0, res.output
    from clusteratlas.sources.download import _target, source_url

    fetched = _target(source_url("census-geo", base=base, year=2019, level="state"), None)
    assert invoke(runner, "import", "regions", shared_file("us/county_cbsa_state_crosswalk.csv"), "--format",
                  "us-regions", "--atlas", atlas).exit_code == 0  # the states the links name
    res = invoke(runner, "import", "weights", fetched, "--format", "shapefile", "--id-property", "STATE_FIPS",
                 "--atlas", atlas)
    assert res.exit_code == 0, res.output
    assert query_atlas(atlas, "SELECT count(*) FROM region_neighbors")[0][0] == len(expected)
    bad = invoke(runner, "import", "weights", fetched, "--format", "shapefile", "--id-property", "NOPE",
                 "--atlas", atlas)
    assert bad.exit_code == 2 and "choose the id field" in bad.output


def test_prefecture_neighbours_from_japanmap(tmp_path, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "reference", "jp-prefecture-neighbours", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    tokyo = {r[0] for r in query_atlas(atlas, "SELECT neighbor FROM region_neighbors WHERE region = '13000'")}
    assert tokyo == {"11000", "12000", "14000", "19000"}  # Saitama, Chiba, Kanagawa, Yamanashi
    assert not query_atlas(atlas, "SELECT * FROM region_neighbors WHERE region = '47000'")  # Okinawa
