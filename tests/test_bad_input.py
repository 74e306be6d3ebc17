"""Broken inputs: one clear message (file, line, column, value), exit code 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from clusteratlas import Atlas
from tests.conftest import atlas_fingerprint, invoke

HEADER = "region,industry,year,employment,establishments,payroll,flag,size_class\n"
GOOD_ROWS = "R1,a1,2020,10,1,100,,\nR2,a1,2020,20,2,200,,\n"
DEFS = "industry,cluster,type\na1,A,traded\n"


def obs(*bad_rows: str, header: str = HEADER) -> str:
    return header + GOOD_ROWS + "".join(r + "\n" for r in bad_rows)


# (id, observations file content (str or bytes), file name, definitions content, extra args, expected parts)
STATELESS_CASES = [
    ("missing-column", "region,industry,year\nR1,a1,2020\n", "o.csv", DEFS, [],
     ["required column 'employment' is missing", "Available columns: region, industry, year"]),
    ("renamed-column", "region,industry,year,employmnt\nR1,a1,2020,5\n", "o.csv", DEFS, [],
     ["required column 'employment' is missing", "Did you mean 'employmnt'", "--map employment="]),
    ("mapping-unknown-canonical", obs(), "o.csv", DEFS, ["--map", "jobs=employment"],
     ["unknown column", "'jobs'"]),
    ("non-numeric", obs("R3,a1,2020,abc,1,1,,"), "o.csv", DEFS, [],
     ["line 4", "column 'employment'", "not a number", "'abc'"]),
    ("negative", obs("R3,a1,2020,-5,1,1,,"), "o.csv", DEFS, [], ["line 4", "negative value", "'-5'"]),
    ("infinite", obs("R3,a1,2020,inf,1,1,,"), "o.csv", DEFS, [], ["line 4", "not a finite number", "'inf'"]),
    ("nan", obs("R3,a1,2020,NaN,1,1,,"), "o.csv", DEFS, [], ["line 4", "not a finite number"]),
    ("absurd", obs("R3,a1,2020,5e12,1,1,,"), "o.csv", DEFS, [], ["line 4", "implausibly large", "'5e12'"]),
    ("duplicate-rows", obs("R1,a1,2020,11,1,1,,"), "o.csv", DEFS, [],
     ["duplicate rows for region=R1, industry=a1, year=2020", "lines 2 and 4"]),
    ("empty-region", obs(",a1,2020,5,1,1,,"), "o.csv", DEFS, [], ["line 4", "column 'region'", "empty"]),
    ("fractional-year", obs("R3,a1,2020.5,5,1,1,,"), "o.csv", DEFS, [], ["column 'year'", "not a whole year"]),
    ("year-out-of-range", obs("R3,a1,1066,5,1,1,,"), "o.csv", DEFS, [], ["year out of range", "'1066'"]),
    ("year-text", obs("R3,a1,twenty,5,1,1,,"), "o.csv", DEFS, [], ["line 4", "not a whole year", "'twenty'"]),
    ("unknown-flag", obs("R3,a1,2020,5,1,1,guess,"), "o.csv", DEFS, [], ["column 'flag'", "unknown flag",
                                                                         "'guess'"]),
    ("unknown-size-class", obs("R3,a1,2020,,1,1,suppressed,Z"), "o.csv", DEFS, [],
     ["column 'size_class'", "'Z'", "one of A, B, C"]),
    ("empty-employment-unflagged", obs("R3,a1,2020,,1,1,,"), "o.csv", DEFS, [],
     ["line 4", "column 'employment'", "value is empty"]),
    ("negative-establishments", obs("R3,a1,2020,5,-1,1,,"), "o.csv", DEFS, [],
     ["column 'establishments'", "negative"]),
    ("text-payroll", obs("R3,a1,2020,5,1,lots,,"), "o.csv", DEFS, [], ["column 'payroll'", "'lots'"]),
    ("empty-file", "", "o.csv", DEFS, [], ["the file is empty"]),
    ("header-only", HEADER, "o.csv", DEFS, [], ["header but no data rows"]),
    ("binary-file", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "o.csv", DEFS, [], ["binary file"]),
    ("undecodable", b"region,industry,year,employment\n\x85\x40,a1,2020,1\n", "o.csv", DEFS, [],
     ["cannot decode", "UTF-8 or Shift_JIS"]),
    ("unsupported-type", obs(), "o.xml", DEFS, [], ["unsupported file type", "'.xml'"]),
    ("definition-two-clusters", obs(), "o.csv", "industry,cluster\na1,A\na1,B\n", [],
     ["industry a1 is mapped to more than one cluster", "lines 2 and 3"]),
    ("definition-unknown-type", obs(), "o.csv", "industry,cluster,type\na1,A,export\n", [],
     ["column 'type'", "unknown cluster type", "'export'"]),
    ("definition-two-types", obs(), "o.csv", "industry,cluster,type\na1,A,traded\na2,A,local\n", [],
     ["cluster A is given more than one type"]),
    ("definition-missing-cluster-column", obs(), "o.csv", "industry,group\na1,A\n", [],
     ["required column 'cluster' is missing"]),
    ("parameter-out-of-range", obs(), "o.csv", DEFS, ["--specialisation-lq", "-1"],
     ["specialisation_lq out of range", "-1"]),
    ("share-out-of-range", obs(), "o.csv", DEFS, ["--size-top", "1.5"], ["size_top out of range"]),
    ("year-not-in-data", obs(), "o.csv", DEFS, ["--year", "1999"], ["no observations for this year", "2020"]),
    ("bad-memory-limit", obs(), "o.csv", DEFS, ["--memory-limit", "lots"], ["invalid memory limit", "'lots'"]),
]


@pytest.mark.parametrize(("content", "name", "defs", "extra", "expected"),
                         [c[1:] for c in STATELESS_CASES], ids=[c[0] for c in STATELESS_CASES])
def test_stateless_map_rejects(tmp_path: Path, runner, content, name, defs, extra, expected):
    data = tmp_path / name
    if isinstance(content, bytes):
        data.write_bytes(content)
    else:
        data.write_text(content, encoding="utf-8")
    (tmp_path / "defs.csv").write_text(defs)
    out = tmp_path / "out.csv"
    res = invoke(runner, "map", "--data", data, "--clusters", tmp_path / "defs.csv", "--out", out, *extra)
    message = " ".join(res.stderr.split())
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for part in expected:
        assert part in message, (part, message)
    assert not out.exists()
    assert list(tmp_path.glob(".out.csv*")) == []  # no temporary leftovers


def test_failed_map_keeps_an_existing_output(tmp_path, runner):
    (tmp_path / "o.csv").write_text(obs("R3,a1,2020,abc,1,1,,"))
    (tmp_path / "defs.csv").write_text(DEFS)
    out = tmp_path / "out.csv"
    out.write_text("earlier results\n")
    res = invoke(runner, "map", "--data", tmp_path / "o.csv", "--clusters", tmp_path / "defs.csv", "--out", out)
    assert res.exit_code == 2
    assert out.read_text() == "earlier results\n"


def test_reference_totals_missing_a_year(tmp_path, runner):
    (tmp_path / "o.csv").write_text(obs())
    (tmp_path / "defs.csv").write_text(DEFS)
    (tmp_path / "ref.csv").write_text("industry,year,employment\na1,2019,100\n")
    res = invoke(runner, "map", "--data", tmp_path / "o.csv", "--clusters", tmp_path / "defs.csv",
                 "--out", tmp_path / "out.csv", "--reference-totals", tmp_path / "ref.csv")
    assert res.exit_code == 2
    assert "reference totals have no rows for some observed years" in " ".join(res.stderr.split())


# ---------------------------------------------------------------- atlas imports
@pytest.fixture
def atlas_path(tmp_path):
    path = tmp_path / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        (tmp_path / "regions.csv").write_text("region,name,level,parent\nS1,State,state,\nC1,County,county,S1\n"
                                              "C2,County 2,county,S1\n")
        atlas.import_file("regions", tmp_path / "regions.csv")
        (tmp_path / "first.csv").write_text(obs())
        atlas.import_file("observations", tmp_path / "first.csv", name="first")
        (tmp_path / "defs.csv").write_text(DEFS)
        atlas.import_file("definitions", tmp_path / "defs.csv", name="defs")
    return path


ATLAS_CASES = [
    ("region-twice-in-hierarchy", "regions", "region,level,parent\nC3,county,S1\nC3,county,S2\n", [],
     ["region C3 is placed twice in hierarchy 'default'", "lines 2 and 3"]),
    ("region-moved-without-replace", "regions", "region,level,parent\nC1,county,S9\n", [],
     ["region C1 already belongs to S1", "--replace"]),
    ("custom-unknown-member", "custom-regions", "region,member\nX1,C1\nX1,NOPE\n", [],
     ["line 3", "unknown member region", "'NOPE'"]),
    ("dataset-exists", "observations", obs(), ["--name", "first"],
     ["observations 'first' is already in the atlas", "--replace"]),
    ("rows-in-another-dataset", "observations", HEADER + "R1,a1,2020,5,1,1,,\n", ["--name", "second"],
     ["region R1, industry a1, year 2020 is already in dataset 'first'"]),
    ("bad-row-late-in-file", "observations",
     HEADER + "".join(f"R{i},a1,2021,{i},1,1,,\n" for i in range(500)) + "R9,a1,2021,x,1,1,,\n",
     ["--name", "late"], ["line 502", "not a number"]),
    ("cp932-read-as-utf8", "observations", "region,industry,year,employment\n北海道,a1,2020,5\n".encode("cp932"),
     ["--name", "jp", "--encoding", "utf-8"], ["cannot decode the file as utf-8"]),
]


@pytest.mark.parametrize(("kind", "content", "extra", "expected"), [c[1:] for c in ATLAS_CASES],
                         ids=[c[0] for c in ATLAS_CASES])
def test_atlas_import_rejects_and_changes_nothing(tmp_path, runner, atlas_path, kind, content, extra, expected):
    before = atlas_fingerprint(atlas_path)
    data = tmp_path / "bad.csv"
    if isinstance(content, bytes):
        data.write_bytes(content)
    else:
        data.write_text(content)
    res = invoke(runner, "import", kind, data, "--atlas", atlas_path, *extra)
    message = " ".join(res.stderr.split())
    assert res.exit_code == 2, res.output
    for part in expected:
        assert part in message, (part, message)
    assert atlas_fingerprint(atlas_path) == before


def test_truncated_parquet(tmp_path, runner, atlas_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    good = tmp_path / "good.parquet"
    pq.write_table(pa.table({"region": ["R1"], "industry": ["a1"], "year": [2020], "employment": [1.0]}), good)
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(good.read_bytes()[:-20])
    before = atlas_fingerprint(atlas_path)
    res = invoke(runner, "import", "observations", bad, "--atlas", atlas_path)
    assert res.exit_code == 2
    assert "cannot read as Parquet" in " ".join(res.stderr.split())
    assert atlas_fingerprint(atlas_path) == before


def test_text_renamed_to_xlsx(tmp_path, runner, atlas_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_text(obs())
    res = invoke(runner, "import", "observations", bad, "--atlas", atlas_path)
    assert res.exit_code == 2
    assert "cannot read as an Excel workbook" in " ".join(res.stderr.split())


def test_not_an_atlas(tmp_path, runner):
    fake = tmp_path / "fake.duckdb"
    fake.write_text("this is not a database")
    res = invoke(runner, "show", "region", "R1", "--atlas", fake)
    assert res.exit_code == 2
    assert "cannot open as an atlas" in " ".join(res.stderr.split())
    assert fake.read_text() == "this is not a database"


def test_missing_atlas(tmp_path, runner):
    res = invoke(runner, "map", "--atlas", tmp_path / "none.duckdb")
    assert res.exit_code == 2
    assert "no atlas here" in res.stderr
    assert not (tmp_path / "none.duckdb").exists()


def test_unknown_definition(runner, atlas_path):
    before = atlas_fingerprint(atlas_path)
    res = invoke(runner, "map", "--atlas", atlas_path, "--definition", "nope")
    assert res.exit_code == 2
    assert "unknown cluster definition" in res.stderr and "defs" in res.stderr
    assert atlas_fingerprint(atlas_path) == before


def test_strict_map_in_atlas_keeps_earlier_results(tmp_path, runner, atlas_path):
    assert invoke(runner, "map", "--atlas", atlas_path).exit_code == 0
    (tmp_path / "more.csv").write_text(HEADER + "R1,zz9,2020,7,1,1,,\n")
    assert invoke(runner, "import", "observations", tmp_path / "more.csv", "--atlas", atlas_path,
                  "--name", "more").exit_code == 0
    before = atlas_fingerprint(atlas_path)
    res = invoke(runner, "map", "--atlas", atlas_path, "--strict")
    assert res.exit_code == 2
    assert "zz9 (7 jobs)" in " ".join(res.stderr.split())
    assert atlas_fingerprint(atlas_path) == before
