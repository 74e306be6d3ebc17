"""Input hygiene at the file and reader level (issue 9, items 7, 10, 12, 21, 23, 24, 25, 26).

Every broken file gives exit code 2 and one message naming the file, the
line (and column) and what was expected; the atlas is left as it was, with
no staging view or table behind, whether the import succeeded or not.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clusteratlas import Atlas
from clusteratlas.sources import codes
from tests.conftest import atlas_fingerprint, invoke, query_atlas, shared_file

HEADER = "region,industry,year,employment\n"


@pytest.fixture
def atlas(tmp_path):
    path = tmp_path / "atlas.duckdb"
    with Atlas(path, create=True) as a:
        (tmp_path / "first.csv").write_text(HEADER + "S1C1,a1,2020,5\nS1C2,a1,2020,6\n")
        a.import_file("observations", tmp_path / "first.csv", name="first")
    return path


def rejected(runner, atlas: Path, *args, expected: list[str]) -> str:
    """Run an import that must fail cleanly; check the message parts and that the atlas did not change."""
    before = atlas_fingerprint(atlas)
    res = invoke(runner, "import", *args, "--atlas", atlas)
    message = " ".join(res.stderr.split())
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for part in expected:
        assert part in message, (part, message)
    assert atlas_fingerprint(atlas) == before
    return message


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


# ---------------------------------------------------------------- item 7: duplicate column names
def test_duplicate_csv_header_names_both_positions(tmp_path, runner, atlas):
    data = write(tmp_path / "o.csv", "region,industry,year,employment,employment\nS1C3,a1,2020,5,6\n")
    rejected(runner, atlas, "observations", data, "--name", "dup",
             expected=["o.csv, line 1", "column 'employment' twice: columns 4 and 5"])
    # letter case is ignored when columns are matched, so it is ignored here too
    data = write(tmp_path / "c.csv", "Region,industry,year,employment,REGION\nS1C3,a1,2020,5,S1C4\n")
    rejected(runner, atlas, "observations", data, "--name", "dup",
             expected=["line 1", "column 'REGION' twice: columns 1 and 5"])


def test_duplicate_header_names_in_excel_parquet_and_json(tmp_path, runner, atlas):
    import openpyxl

    book = openpyxl.Workbook()
    for row in (["region", "industry", "year", "employment", "industry"], ["S1C3", "a1", 2020, 5, "a2"]):
        book.active.append(row)
    book.save(tmp_path / "o.xlsx")
    rejected(runner, atlas, "observations", tmp_path / "o.xlsx", "--name", "x",
             expected=["o.xlsx, line 1", "column 'industry' twice: columns 2 and 5"])

    table = pa.Table.from_arrays([pa.array(["S1C3"]), pa.array(["a1"]), pa.array([2020]), pa.array([5.0]),
                                  pa.array([6.0])], names=["region", "industry", "year", "employment", "employment"])
    pq.write_table(table, tmp_path / "o.parquet")
    rejected(runner, atlas, "observations", tmp_path / "o.parquet", "--name", "x",
             expected=["o.parquet", "column 'employment' twice: columns 4 and 5"])

    write(tmp_path / "cbp.json", json.dumps([["NAICS2017", "EMP", "EMP", "ESTAB", "cbsa", "YEAR"],
                                             ["113310", "5", "6", "1", "10180", "2019"]]))
    rejected(runner, atlas, "observations", tmp_path / "cbp.json", "--format", "cbp", "--name", "x",
             expected=["cbp.json, line 1", "column 'EMP' twice: columns 2 and 3"])


# ------------------------------------------------------------ items 10 and 26: nothing left behind
def _catalog(path: Path) -> tuple[list, list]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        views = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()
        tables = con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
    finally:
        con.close()
    return views, tables


def test_imports_leave_no_view_or_table_in_the_atlas(tmp_path, runner):
    import openpyxl

    fresh = tmp_path / "fresh.duckdb"
    Atlas(fresh, create=True).close()
    schema = _catalog(fresh)
    path = tmp_path / "atlas.duckdb"
    Atlas(path, create=True).close()

    good = [("S1C1", "a1", "2020", "5"), ("S1C2", "a1", "2020", "6")]
    bad = [("S1C3", "a1", "2020", "x")]
    for n, rows in enumerate((good, bad)):
        table = pa.table({k: [r[i] for r in rows] for i, k in enumerate(("region", "industry", "year",
                                                                         "employment"))})
        pq.write_table(table, tmp_path / f"p{n}.parquet")
        write(tmp_path / f"c{n}.csv", HEADER + "".join(",".join(r) + "\n" for r in rows))
        book = openpyxl.Workbook()
        book.active.append(["region", "industry", "year", "employment"])
        for r in rows:
            book.active.append(list(r))
        book.save(tmp_path / f"x{n}.xlsx")
    for n, suffix in enumerate(("parquet", "csv", "xlsx")):
        ok = invoke(runner, "import", "observations", tmp_path / f"{suffix[0]}0.{suffix}", "--atlas", path,
                    "--name", "ok", "--replace")
        assert ok.exit_code == 0, ok.output
        assert _catalog(path) == schema, f"a successful {suffix} import left something behind"
        failed = invoke(runner, "import", "observations", tmp_path / f"{suffix[0]}1.{suffix}", "--atlas", path,
                        "--name", f"bad{n}")
        assert failed.exit_code == 2, failed.output
        assert _catalog(path) == schema, f"a rejected {suffix} import left something behind"
    # the imported data does not depend on the files: they can move
    for f in tmp_path.glob("[pcx]0.*"):
        f.rename(f.with_suffix(f.suffix + ".moved"))
    assert query_atlas(path, "SELECT count(*) FROM observations")[0][0] == 2


# ----------------------------------------------------------------- item 12: cut-off files
def test_real_cbp_file_cut_at_90_percent(tmp_path, runner, atlas):
    data = gzip.decompress(shared_file("us/cbp_state_naics_2000_2011.csv.gz").read_bytes())
    cut = int(len(data) * 0.9)
    assert data[cut - 1:cut + 1].count(b"\n") == 0  # mid-line
    write(tmp_path / "cbp_cut.csv", data[:cut])
    line = data[:cut].count(b"\n") + 1
    rejected(runner, atlas, "observations", tmp_path / "cbp_cut.csv", "--format", "cbp", "--name", "cbp",
             expected=["cbp_cut.csv", f"line {line:,}".replace(",", ""), "ends in the middle of a line",
                       "of the header's 10 fields", "expected 10 fields on every line"])
    # the same cut in the compressed file
    packed = shared_file("us/cbp_state_naics_2000_2011.csv.gz").read_bytes()
    write(tmp_path / "cbp_cut.csv.gz", packed[:int(len(packed) * 0.9)])
    rejected(runner, atlas, "observations", tmp_path / "cbp_cut.csv.gz", "--format", "cbp", "--name", "cbp",
             expected=["cbp_cut.csv.gz, line", "damaged or cut off", "a complete gzip file"])


def test_small_cut_file_names_the_line(tmp_path, runner, atlas):
    data = gzip.decompress(shared_file("us/cbp_state_naics_2000_2011.csv.gz").read_bytes())
    head = data[:data.index(b"\n", 200) + 9]  # a few whole lines and the start of the next
    write(tmp_path / "small.csv", head)
    line = head.count(b"\n") + 1
    rejected(runner, atlas, "observations", tmp_path / "small.csv", "--format", "cbp", "--name", "cbp",
             expected=[f"small.csv, line {line}", "ends in the middle of a line", "expected 10 fields"])


def test_short_line_inside_a_small_file(tmp_path, runner, atlas):
    # DuckDB's sniffer finds no consistent delimiter in such a file and reads it as one column
    write(tmp_path / "o.csv", HEADER + "S1C3,a1,2020,5\nS1C4,a1\nS1C5,a1,2020,5\n")
    rejected(runner, atlas, "observations", tmp_path / "o.csv", "--name", "o",
             expected=["o.csv, line 3", "the line has 2 fields, the header 4", "'S1C4,a1'"])


# ---------------------------------------------------------- item 21: one rule for codes
CODE_CASES = [
    ("rtl-mark", "observations", HEADER + "\u200fS1C1,a1,2020,5\n", "region", "U+200F RIGHT-TO-LEFT MARK",
     "'\\u200fS1C1'"),
    ("escape", "observations", HEADER + "S1C3,a\x1b1,2020,5\n", "industry", "U+001B, a control character",
     "'a\\x1b1'"),
    ("bell", "observations", HEADER + "S1C3\x07,a1,2020,5\n", "region", "U+0007", "'S1C3\\x07'"),
    ("long-region", "observations", HEADER + "R" * 10_000 + ",a1,2020,5\n", "region",
     "the code is 10,000 characters long", "RRRR…"),
    ("long-cluster", "definitions", "industry,cluster\na1," + "K" * 10_000 + "\n", "cluster",
     "the code is 10,000 characters long", "at most 128 characters"),
    ("region-parent", "regions", "region,parent\nS1C9,S\u200b1\n", "parent", "U+200B ZERO WIDTH SPACE", ""),
    ("region-hierarchy", "regions", "region,parent,hierarchy\nS1C9,S1,st\u2028ate\n", "hierarchy",
     "U+2028 LINE SEPARATOR", ""),
    ("industry-list", "industries", "industry,name\n\ue0001,private use\n", "industry",
     "a private-use character", ""),
    ("custom-member", "custom-regions", "region,member\nX1,S1C1\u200e\n", "member", "U+200E LEFT-TO-RIGHT MARK", ""),
    ("weights", "weights", "region,neighbor\nS1C1,S1\u2029C2\n", "neighbor", "U+2029 PARAGRAPH SEPARATOR", ""),
    ("indicators", "indicators", "region,year,value,indicator\nS1C1,2020,1,pat\u00adents\n", "indicator",
     "U+00AD SOFT HYPHEN", ""),
]


@pytest.mark.parametrize(("kind", "content", "column", "problem", "shown"), [c[1:] for c in CODE_CASES],
                         ids=[c[0] for c in CODE_CASES])
def test_codes_with_invisible_characters_or_too_long_are_refused(tmp_path, runner, atlas, kind, content,
                                                                 column, problem, shown):
    data = write(tmp_path / "in.csv", content)
    message = rejected(runner, atlas, kind, data, "--name", "second",
                       expected=["in.csv, line 2", f"column '{column}'", problem, "Cc, Cf, Cs, Co, Zl, Zp",
                                 "NFKC", shown])
    assert len(message) < 1000  # a 10,000-character value is shown cut


def test_codes_are_normalised_nfkc_and_trimmed(tmp_path, atlas):
    # full-width ＳＩＣ１ with an ideographic space is S1C1 after NFKC and trimming: the same cell as in 'first'
    data = write(tmp_path / "wide.csv", HEADER + "\u3000\uff33\uff11\uff23\uff11 ,a1,2020,7\n")
    with Atlas(atlas) as a, pytest.raises(Exception, match="already in dataset 'first'"):
        a.import_file("observations", data, name="second")
    data = write(tmp_path / "new.csv", HEADER + "\uff33\uff11\uff23\uff19,\u3000a2 ,2020,7\n")
    with Atlas(atlas) as a:
        a.import_file("observations", data, name="second")
    assert query_atlas(atlas, "SELECT region, industry FROM observations WHERE dataset = 'second'") == [
        ("S1C9", "a2")]


def test_recode_concordance_codes_follow_the_rule(tmp_path, runner, atlas):
    data = write(tmp_path / "o.csv", HEADER + "S1C8,a1,2020,5\n")
    conc = write(tmp_path / "conc.csv", "source_code,target_code\nS1C8,S1C1\u200f\n")
    rejected(runner, atlas, "observations", data, "--name", "r", "--recode", conc,
             expected=["--recode concordance, line 2", "column 'target'", "U+200F", "'S1C1\\u200f'"])


def test_every_real_code_fits_the_rule():
    """The length chosen fits the real codes and names used as codes in the shared data."""
    import csv

    found: list[tuple[str, int]] = []
    with open(shared_file("clusters/naics_to_cluster_subcluster_noco_redi.csv"), encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            found += [(row["NAICS"], codes.CODE_MAX_LENGTH), (row["Cluster"], codes.NAME_CODE_MAX_LENGTH),
                      (row["SubclusterName"], codes.NAME_CODE_MAX_LENGTH)]
    with open(shared_file("us/county_cbsa_state_crosswalk.csv"), encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            found += [(row["stco_code"], codes.CODE_MAX_LENGTH), (row["cbsa_code"], codes.CODE_MAX_LENGTH)]
    nuts = json.loads(gzip.decompress(shared_file("geo/NUTS_RG_03M_2021_4326_LEVL_3.geojson.gz").read_bytes()))
    found += [(f["properties"]["NUTS_ID"], codes.CODE_MAX_LENGTH) for f in nuts["features"]]
    jsic = json.loads(shared_file("jp/kobesoft_jsic-data/jsic-en.json").read_text(encoding="utf-8"))
    found += [(m["code"], codes.CODE_MAX_LENGTH) for m in jsic["major_categories"]]
    assert len(found) > 5000
    problems = [(c, codes.code_problem(codes.normalise_code(c), n)) for c, n in found]
    assert [p for p in problems if p[1]] == []


# ------------------------------------------------- items 23 and 24: quotes, line endings, NUL
def test_unclosed_quote_names_the_line_where_the_field_started(tmp_path, runner, atlas):
    data = write(tmp_path / "q.csv", HEADER + 'S1C3,a1,2020,5\n"S1C4,a2,2020,6\nS1C5,a1,2020,7\nS1C6,a1,2020,8\n')
    rejected(runner, atlas, "observations", data, "--name", "q",
             expected=["q.csv, line 3", "quoted field starts on this line and is never closed", "'\"S1C4,a2,2020,6'"])


def test_quoted_fields_over_several_lines_are_fine(tmp_path, atlas):
    # CR LF rows with an LF inside a quoted name (as spreadsheets write them): one kind of ending outside quotes
    content = 'region,name,level\r\nS1C7,"two\nlines",county\r\nS1C8,"a ""quoted"" word",county\r\n'
    data = write(tmp_path / "r.csv", content)
    with Atlas(atlas) as a:
        assert a.import_file("regions", data).rows == 2
    assert query_atlas(atlas, "SELECT name FROM regions ORDER BY region") == [("two\nlines",),
                                                                             ('a "quoted" word',)]


def test_mixed_line_endings_name_the_line(tmp_path, runner, atlas):
    data = write(tmp_path / "m.csv", HEADER.replace("\n", "\r\n") + "S1C3,a1,2020,5\r\nS1C4,a1,2020,5\n"
                 "S1C5,a1,2020,5\rS1C6,a1,2020,5\r\n")
    rejected(runner, atlas, "observations", data, "--name", "m",
             expected=["m.csv, line 3", "mixed line endings", "LF (\\n, Unix)", "CR LF (\\r\\n, Windows)",
                       "from line 1"])


def test_nul_byte_names_the_line(tmp_path, runner, atlas):
    data = write(tmp_path / "n.csv", (HEADER + "S1C3,a1,2020,5\n" * 5000 + "S1\x00C9,a1,2020,5\n").encode())
    # far beyond the first 64 KiB that were looked at before
    rejected(runner, atlas, "observations", data, "--name", "n",
             expected=["n.csv, line 5002", "a NUL byte", "character 3", "binary file"])


# ---------------------------------------------------- item 25: readers validate what they walk
READER_CASES = [
    ("jsic-without-code", "industries", "jsic", "j.json",
     {"major_categories": [{"code": "A", "middle_categories": [{"name": "no code"}]}]},
     ["not a JSIC code list", "major_categories/0/middle_categories/0", "'code' is a required property"]),
    ("jsic-not-a-list", "industries", "jsic", "j.json", {"major_categories": {"A": 1}},
     ["at major_categories", "expected array, found an object"]),
    ("topojson-text-arc", "weights", "topojson", "t.json",
     {"type": "Topology", "arcs": [], "objects": {"c": {"type": "GeometryCollection", "geometries": [
         {"id": "01", "arcs": [[0, 1]]}, {"id": "02", "arcs": [[0, "one"]]}]}}},
     ["geometry 2 (02)", "arc index that is not an integer", "'one'"]),
    ("topojson-objects-list", "weights", "topojson", "t.json", {"type": "Topology", "objects": []},
     ["not a TopoJSON Topology", "at objects", "expected object, found an array"]),
    ("nuts-level-text", "regions", "nuts", "n.geojson",
     {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"NUTS_ID": "DE1",
                                                                                   "LEVL_CODE": "one"}}]},
     ["not a GISCO NUTS GeoJSON", "features/0/properties/LEVL_CODE", "'one'"]),
    ("geojson-broken-geometry", "weights", "geojson", "g.geojson",
     {"type": "FeatureCollection", "features": [{"type": "Feature", "id": "A", "geometry": {
         "type": "Polygon", "coordinates": [[1, 2]]}}]},
     ["feature 1 (A) has a geometry Shapely cannot read"]),
    ("estat-value-not-object", "observations", "estat", "e.json",
     {"GET_STATS_DATA": {"STATISTICAL_DATA": {"DATA_INF": {"VALUE": [1, 2]}}}},
     ["not an e-Stat getStatsData answer", "GET_STATS_DATA/STATISTICAL_DATA/DATA_INF/VALUE"]),
    ("estat-class-without-code", "regions", "estat", "e.json",
     {"GET_STATS_DATA": {"STATISTICAL_DATA": {"CLASS_INF": {"CLASS_OBJ": {"@id": "area", "CLASS": {"@name": "x"}}},
                                              "DATA_INF": {"VALUE": []}}}},
     ["CLASS_INF/CLASS_OBJ/CLASS", "'@code' is a required property"]),
]


@pytest.mark.parametrize(("kind", "fmt", "name", "doc", "expected"), [c[1:] for c in READER_CASES],
                         ids=[c[0] for c in READER_CASES])
def test_official_readers_validate_structure(tmp_path, runner, atlas, kind, fmt, name, doc, expected):
    data = write(tmp_path / name, json.dumps(doc))
    rejected(runner, atlas, kind, data, "--format", fmt, expected=[f"{name}:", *expected])


def test_real_reference_files_still_read(tmp_path):
    path = tmp_path / "a.duckdb"
    with Atlas(path, create=True) as a:
        assert a.import_file("industries", shared_file("jp/kobesoft_jsic-data/jsic-en.json"),
                             file_format="jsic").rows > 2000
        for level in (0, 1):  # parents first: a region's parent must exist (issue 9, item 20)
            a.import_file("regions", shared_file(f"geo/NUTS_RG_03M_2021_4326_LEVL_{level}.geojson.gz"),
                          file_format="nuts")
        assert a.import_file("regions", shared_file("geo/NUTS_RG_03M_2021_4326_LEVL_2.geojson.gz"),
                             file_format="nuts").rows == 334
        a.import_file("regions", shared_file("us/county_cbsa_state_crosswalk.csv"), file_format="us-regions")
        # the map's Puerto Rico and territories are in no imported region system: dropped and listed
        assert a.import_file("weights", shared_file("geo/counties-10m.json"), file_format="topojson",
                             options={"layer": "counties"}, drop_unknown=True).rows > 10000
