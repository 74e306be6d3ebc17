"""Eurostat files as published: every flag kept, cells counted exactly, one NUTS and one NACE level picked.

The expected figures are counted here from the file itself with the csv module,
independently of the reader (which uses DuckDB and regular expressions).
"""

from __future__ import annotations

import csv
import re
from collections import Counter

import duckdb
import pytest

from clusteratlas.api import map_files
from clusteratlas.errors import InputError
from clusteratlas.sources.eurostat import nace_level_of, nuts_level_of, section_letters
from tests.conftest import invoke, query_atlas, shared_file

SBS = "eu/eurostat_sbs_r_nuts06_r2_2015_persons_employed.csv"
LFS = "eu/eurostat_lfst_r_lfe2en2_2008_2015.tsv"


def _sbs_rows() -> list[dict[str, str]]:
    with shared_file(SBS).open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def _cell_kind(value: str) -> str:
    """An independent reading of one SBS cell."""
    if value == "":
        return "empty"
    if re.fullmatch(r" *[0-9]+(\.[0-9]+)? *", value):
        return "number"
    if re.fullmatch(r" *[0-9]+(\.[0-9]+)? *d *", value):
        return "number d"
    if value.strip() == "":
        return "blank"
    if value.strip() == "d":
        return "blank d"
    return "corrupted"


def _numbers_in_note(notes: list[str], word: str) -> list[int]:
    note = next(n for n in notes if word in n)
    return [int(x.replace(",", "")) for x in re.findall(r"(?<![\w.])(\d[\d,]*) ", note.split(": ", 1)[1])]


def test_sbs_flags_kept_and_cells_counted_exactly(tmp_path, runner):
    counts = Counter(_cell_kind(r["n2015"]) for r in _sbs_rows())
    assert counts["corrupted"] and counts["empty"] and counts["number d"]  # the file has each kind
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", shared_file(SBS), "--format", "eurostat", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    notes = [n.strip() for n in " ".join(res.output.split()).split("note:")[1:]]
    assert _numbers_in_note(notes, "corrupted cell")[0] == counts["corrupted"]
    assert _numbers_in_note(notes, "empty cell")[0] == counts["empty"]
    assert _numbers_in_note(notes, "withheld cell")[0] == counts["blank"] + counts["blank d"]
    flagged = next(n for n in notes if "source_flag" in n)
    assert (f"d (definition differs) on {counts['number d'] + counts['blank d']:,} cell(s), "
            f"{counts['number d']:,} with a number") in flagged
    stored = dict(((f, e), n) for f, e, n in query_atlas(
        atlas, "SELECT source_flag, employment IS NOT NULL, count(*) FROM observations GROUP BY ALL"))
    assert stored[("d", True)] == counts["number d"]  # the flagged values are stored, with their flag
    assert stored[("d", False)] == counts["blank d"]
    assert stored[(None, False)] == counts["blank"] + counts["empty"] + counts["corrupted"]
    # a d-flagged number keeps its value and stays 'reported' for the metrics
    row = next(r for r in _sbs_rows() if _cell_kind(r["n2015"]) == "number d")
    got = query_atlas(atlas, "SELECT employment, flag, source_flag FROM observations WHERE region = ? AND "
                             f"industry = '{row['nace_r2']}'".replace("?", f"'{row['geo']}'"))
    assert got == [(float(row["n2015"].split()[0]), "", "d")]


def test_lfs_flags_kept_letter_by_letter(tmp_path):
    from clusteratlas.store import Atlas

    with shared_file(LFS).open(encoding="utf-8") as fh:
        lines = [line.rstrip("\n").split("\t") for line in fh]
    expected = Counter()
    for line in lines[1:]:
        if ",Y15-64," in line[0]:
            expected.update(f for cell in line[1:] for f in re.sub(r"[0-9.:\s]", "", cell))
    with Atlas(tmp_path / "a.duckdb", create=True) as atlas:
        report = atlas.import_file("observations", shared_file(LFS), file_format="eurostat",
                                   options={"filters": {"age": "Y15-64"}})
        stored = Counter()
        for flags, n in atlas.con.execute("SELECT source_flag, count(*) FROM observations "
                                          "WHERE source_flag IS NOT NULL GROUP BY 1").fetchall():
            for letter in flags:
                stored[letter] += n
        both = atlas.con.execute("SELECT DISTINCT flag FROM observations WHERE source_flag = 'bu' "
                                 "AND employment IS NOT NULL").fetchall()
    assert stored == expected and set(expected) >= {"b", "u", "c"}
    assert both == [("estimated",)]  # 'u' still makes an estimate, and the 'b' is kept beside it
    assert any("source_flag" in n for n in report.notes)


def test_levels_of_codes():
    assert [nuts_level_of(c) for c in ("DE", "DE1", "DEA1", "DE111", "CZZZ", "EU28", "EA19", "EFTA")] == \
        [0, 1, 2, 3, 2, None, None, None]
    assert [nace_level_of(c) for c in ("C", "C10", "G461", "C1011", "10", "10.1", "10.11", "B-E", "M_N",
                                       "TOTAL", "B-N_S95_X_K", "C10-C12")] == \
        ["section", "division", "group", "class", "division", "group", "class", "section", "section",
         None, None, None]
    assert section_letters("B-E") == set("BCDE") and section_letters("M_N") == set("MN")


def test_sbs_at_nuts2_and_divisions_maps_without_double_counting(tmp_path, runner):
    rows = _sbs_rows()
    nuts2 = [r for r in rows if len(r["geo"]) == 4]
    divisions = sorted({r["nace_r2"] for r in rows if re.fullmatch(r"[A-Z][0-9]{2}", r["nace_r2"])})
    expected = sum(float(r["n2015"].split()[0]) for r in nuts2 if r["nace_r2"] in divisions
                   and _cell_kind(r["n2015"]).startswith("number"))
    defs = tmp_path / "defs.csv"
    defs.write_text("industry,cluster\n" + "".join(f"{c},{c[0]}\n" for c in divisions))
    # as published, the levels overlap: the same jobs appear at NUTS 0, 1 and 2 and as sections and divisions
    mixed = map_files(shared_file(SBS), defs, tmp_path / "mixed.csv", file_format="eurostat")
    assert mixed.mapped_share < 0.5
    out = tmp_path / "out.csv"
    res = invoke(runner, "map", "--data", shared_file(SBS), "--clusters", defs, "--out", out, "--format",
                 "eurostat", "--nuts-level", "2", "--nace-level", "division")
    assert res.exit_code == 0, res.output
    assert "100.0% of employment mapped" in " ".join(res.output.split())
    total, regions = duckdb.connect().execute(
        f"SELECT sum(employment), count(DISTINCT region) FROM read_csv('{out}')").fetchall()[0]
    assert total == pytest.approx(expected) and regions <= len({r["geo"] for r in nuts2})
    # the same levels at import, stored in the atlas
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", shared_file(SBS), "--format", "eurostat", "--atlas", atlas,
                 "--nuts-level", "2", "--nace-level", "2")
    assert res.exit_code == 0, res.output
    got = query_atlas(atlas, "SELECT sum(employment), count(DISTINCT region), count(DISTINCT industry) "
                             "FROM observations")[0]
    assert got == (pytest.approx(expected), len({r["geo"] for r in nuts2}), len(divisions))


def test_lfs_sections_and_bad_levels(tmp_path, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "import", "observations", shared_file(LFS), "--format", "eurostat", "--atlas", atlas,
                 "--filter", "age=Y15-64", "--nuts-level", "0", "--nace-level", "section")
    assert res.exit_code == 0, res.output
    codes = {c for (c,) in query_atlas(atlas, "SELECT DISTINCT industry FROM observations")}
    assert "TOTAL" not in codes and {"A", "B-E", "M_N"} <= codes
    assert all(len(r) == 2 for (r,) in query_atlas(atlas, "SELECT DISTINCT region FROM observations"))
    # sections add up to the published total (no section counted twice)
    at = query_atlas(atlas, "SELECT sum(employment) FROM observations WHERE region = 'AT' AND year = 2015")[0][0]
    with shared_file(LFS).open(encoding="utf-8") as fh:
        total = next(float(line.split("\t")[1].split()[0]) * 1000 for line in fh
                     if line.startswith("THS,TOTAL,Y15-64,AT\t"))
    assert at == pytest.approx(total, rel=0.002)  # published figures are rounded to hundreds
    for args, message in ((("--nuts-level", "3"), "no NUTS code of level 3"),
                          (("--nace-level", "division"), "no NACE code of level division"),
                          (("--nace-level", "digits"), "unknown NACE level")):
        res = invoke(runner, "import", "observations", shared_file(LFS), "--format", "eurostat", "--atlas",
                     atlas, "--filter", "age=Y15-64", "--name", "x", *args)
        assert res.exit_code == 2 and message in " ".join(res.stderr.split()), res.output
    res = invoke(runner, "import", "observations", defs_file(tmp_path), "--atlas", atlas, "--nuts-level", "2")
    assert res.exit_code == 2 and "--format eurostat" in res.stderr


def defs_file(tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text("region,industry,year,employment\nA,1,2020,5\n")
    return path


def test_section_groups_overlapping_single_sections_are_left_out(tmp_path):
    from clusteratlas._sql import connect
    from clusteratlas.sources.generic import stage

    path = tmp_path / "nama.csv"
    path.write_text("nace_r2,geo,2018\nB-E,DE1,100\nC,DE1,80\nF,DE1,20\nTOTAL,DE1,120\n")
    staged = stage(connect(), path, "observations", file_format="eurostat", options={"nace_level": "section"})
    assert any("B-E" in n for n in staged.notes)
    with pytest.raises(InputError, match="unknown NUTS level"):
        stage(connect(), path, "observations", file_format="eurostat", options={"nuts_level": 5})
