"""define from the CLI: bad IO / occupation inputs refused with nothing stored, seeds, parameters recorded."""

from __future__ import annotations

import csv
import gzip
import json

import numpy as np
import pytest

from clusteratlas.errors import InputError
from clusteratlas.sources import dps_inputs as dps
from tests.conftest import atlas_fingerprint, invoke, query_atlas


def _industries(atlas):
    return [r[0] for r in query_atlas(atlas, "SELECT DISTINCT industry FROM observations ORDER BY 1")]


def test_io_table_whose_codes_match_nothing_is_refused(runner, tmp_path, mapped_atlas):
    use = tmp_path / "use.csv"
    use.write_text("code,ZZ0001,ZZ0002,T001\nZZ0001,5,3,8\nZZ0002,1,0,1\nT005,6,3,9\n")
    before = atlas_fingerprint(mapped_atlas)
    out = tmp_path / "d.csv"
    res = invoke(runner, "define", "--atlas", mapped_atlas, "--out", out, "--k", "8", "--io", use)
    assert res.exit_code == 2
    assert "match none of the industries" in res.stderr and "use.csv" in res.stderr
    assert not out.exists() and atlas_fingerprint(mapped_atlas) == before


def test_occupation_file_with_suppressed_cells_only_is_refused(runner, tmp_path, mapped_atlas):
    occ = tmp_path / "nem.csv"
    industry = _industries(mapped_atlas)[0]
    occ.write_text("nem_industry_code,occ_code,occ_type,emp_2014_thousands\n"
                   f"{industry},11-1011,Line item,*\n{industry},11-1021,Line item,\n{industry},00-0000,Summary,5\n")
    before = atlas_fingerprint(mapped_atlas)
    out = tmp_path / "d.csv"
    res = invoke(runner, "define", "--atlas", mapped_atlas, "--out", out, "--k", "8", "--occupations", occ)
    assert res.exit_code == 2 and "every cell is suppressed" in res.stderr and "nem.csv" in res.stderr
    assert not out.exists() and atlas_fingerprint(mapped_atlas) == before
    occ.write_text("nem_industry_code,occ_code,emp_2014_thousands\n" f"{industry},11-1011,many\n")
    res = invoke(runner, "define", "--atlas", mapped_atlas, "--out", out, "--k", "8", "--occupations", occ)
    assert res.exit_code == 2 and "line 2" in res.stderr and "many" in res.stderr and not out.exists()


def test_seeded_runs_repeat_and_record_their_parameters(runner, tmp_path, mapped_atlas):
    runs = []
    for name in ("a.csv", "b.csv"):
        res = invoke(runner, "define", "--atlas", mapped_atlas, "--out", tmp_path / name, "--k", "8",
                     "--method", "kmeans", "--seed", "11", "--starts", "5")
        assert res.exit_code == 0, res.output
        assert "co-location only" in res.output  # no IO / occupation tables: said plainly
        runs.append((tmp_path / name).read_text())
    assert runs[0] == runs[1]
    rows = query_atlas(mapped_atlas, "SELECT k, parameters FROM define_runs ORDER BY run_at")
    assert len(rows) == 2
    params = json.loads(rows[-1][1])
    assert params["seed"] == 11 and params["method"] == "kmeans" and params["starts"] == 5 and rows[-1][0] == 8
    assert params["measures"] == ["colocation"]
    assert invoke(runner, "import", "definitions", tmp_path / "a.csv", "--atlas", mapped_atlas).exit_code == 0


def test_bea_tables_read_as_published(tmp_path):
    """A wide Use table with totals and final demand, a Make table, and a crosswalk with 4-digit NAICS rows."""
    use = tmp_path / "use.csv.gz"
    with gzip.open(use, "wt") as fh:
        fh.write("code,A1,B1,C1,T001,F01000\nA1,0,30,10,40,5\nB1,0,0,0,0,1\nC1,5,5,-2,8,0\nV00100,9,9,9,27,0\n")
    table = dps.read_io_table(use)
    assert table.codes == ["A1", "B1", "C1"] and table.negatives == 1
    assert table.flows[0, 1] == 30 and table.flows[2, 2] == 0  # the negative own use counts as 0
    make = tmp_path / "make.csv"
    make.write_text("code,A1,B1,C1,T007\nA1,90,0,0,90\nB1,10,50,0,60\nC1,0,0,40,40\n")
    # commodity A1 is made 90 % by industry A1, 10 % by B1: B1 buys 30 of it → A1 sells 27, B1 3 (to itself)
    both = dps.read_io_table(use, make)
    assert both.flows[0, 1] == 27 and both.flows[1, 1] == 3
    cross = tmp_path / "cw.csv"
    with cross.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["BEA_2017_Detail_Code", "NAICS_2017_Code", "NAICS_2017_Name"])
        w.writerows([["A1", "1111", "Oilseed"], ["B1", "222111", "Power"], ["C1", "222112", "Hydro"],
                     ["B1", "333", "Spread"]])
    crosswalk = dps.read_crosswalk(cross)
    link, matched = dps.io_link_for(["111110", "111120", "222111", "999999"], table, crosswalk)
    assert matched == 3
    assert link[0, 1] == 1.0  # the same BEA industry: BEA cannot tell them apart
    assert link[0, 2] == 30 / 35  # 30 of B1's 35 of purchases come from A1 (A1 sells it 30 of 40)
    assert np.isnan(link[3]).all() and np.isnan(link[:, 3]).all()  # no BEA industry: not guessed
    assert dps.crosswalk_names(cross)["222112"] == "Hydro"


def test_bls_matrix_codes_map_to_naics_by_prefix(tmp_path):
    nem = tmp_path / "nem.csv"
    nem.write_text("nem_industry_code,industry_level,occ_code,occ_type,emp_2014_thousands\n"
                   "311100,Line item,51-1011,Line item,4\n311100,Line item,51-2011,Line item,6\n"
                   "313000,Summary,51-1011,Line item,2\n313000,Line item,51-1011,Line item,2\n"
                   "1131-2,Line item,45-4011,Line item,3\n311100,Line item,00-0000,Summary,10\n"
                   "311100,Line item,51-9011,Line item,**\n")
    matrix = dps.read_occupations(nem)
    assert matrix.suppressed == 1 and matrix.occupations == ["45-4011", "51-1011", "51-2011"]
    rows, matched = dps.occupations_for(["311111", "313210", "113210", "113310", "541511"], matrix)
    assert matched == 3
    assert rows[0].tolist() == [0, 4, 6]
    assert rows[1].tolist() == [0, 2, 0]  # listed as summary and as line item: counted once
    # 1131-2 covers 1131 and 1132, not 1133
    assert rows[2].tolist() == [3, 0, 0] and rows[3].sum() == 0 and rows[4].sum() == 0


def test_fetch_bea_and_bls_inputs_from_a_local_server(server, runner):
    """The official BEA/BLS file paths, fetched from a local server standing in for bea.gov and bls.gov."""
    import zipfile

    root, base = server
    (root / "ind_xlsx").mkdir()
    (root / "ind_xlsx" / "ind_311100.xlsx").write_bytes(b"PK fake workbook")
    with zipfile.ZipFile(root / "AllTablesIO.zip", "w") as z:
        z.writestr("IOUse_Before_Redefinitions_PRO_2017_Detail.xlsx", b"use")
        z.writestr("IOMake_Before_Redefinitions_2017_Detail.xlsx", b"make")
    with zipfile.ZipFile(root / "oesm23in4.zip", "w") as z:
        z.writestr("oesm23in4/nat4d_M2023_dl.xlsx", b"x" * 100)
    res = invoke(runner, "fetch", "bea-io", "--base-url", base)
    assert res.exit_code == 0, res.output
    assert "AllTablesIO.zip" in res.output.replace("\n", "")  # kept zipped: it holds many workbooks
    res = invoke(runner, "fetch", "bls-matrix", "311100", "--base-url", base)
    assert res.exit_code == 0 and "ind_311100.xlsx" in res.output.replace("\n", ""), res.output
    res = invoke(runner, "fetch", "oews", "--year", "2023", "--base-url", base)
    assert res.exit_code == 0 and "nat4d_M2023_dl.xlsx" in res.output.replace("\n", ""), res.output
    res = invoke(runner, "fetch", "bls-matrix", "--base-url", base)
    assert res.exit_code == 2 and "matrix code" in res.stderr


def test_bea_workbook_as_published(tmp_path):
    """BEA's xlsx layout: title rows, a 'Code' header with a description column, totals and final demand."""
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "NAICS Codes"
    sheet = book.create_sheet("2017")
    sheet.append(["The Use of Commodities by Industries - 2017"])
    sheet.append(["[Millions of dollars]"])
    sheet.append(["Code", "Commodity Description", "A1", "B1", "C1", "T001", "F01000"])
    sheet.append(["A1", "Apples", 0, 30, 10, 40, 5])
    sheet.append(["B1", "Bananas", 0, 0, 0, 0, 1])
    sheet.append(["C1", "Cherries", 5, 5, "...", 8, 0])
    sheet.append(["T005", "Total intermediate inputs", 5, 35, 10, 48, None])
    path = tmp_path / "IOUse_Before_Redefinitions_PRO_2017_Detail.xlsx"
    book.save(path)
    table = dps.read_io_table(path)
    assert table.codes == ["A1", "B1", "C1"]
    assert table.flows.tolist() == [[0, 30, 10], [0, 0, 0], [5, 5, 0]]
    sheet.cell(row=5, column=4, value="lots")
    book.save(path)
    with pytest.raises(InputError, match="not a number") as info:
        dps.read_io_table(path)
    assert info.value.row == 5 and info.value.column == "B1"
