"""Issue 15's breaks, each as found: a missing concordance, a swallowed hint, dates in assessments, reference
totals from a wide table, exporting industries, CSVs for Japanese Excel."""

from __future__ import annotations

import csv
import datetime as dt
import sys

import pytest

from tests.conftest import invoke, rate_template


@pytest.fixture
def atlas(tmp_path, runner):
    path = tmp_path / "a.duckdb"
    assert invoke(runner, "init", "--atlas", path).exit_code == 0
    return path


def test_carry_with_a_missing_concordance_fails_cleanly(atlas, runner):
    assert invoke(runner, "reference", "jp-benchmark", "--atlas", atlas).exit_code == 0
    res = invoke(runner, "carry", "jp-benchmark-jsic13", "--concordance", atlas.parent / "missing.csv",
                 "--name", "x", "--atlas", atlas)
    assert res.exit_code == 2
    assert "missing.csv: file not found" in res.output


def test_hint_with_square_brackets_is_printed_whole(atlas, runner, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "shapely", None)  # as if the [spatial] extra were not installed
    shapes = tmp_path / "shapes.geojson"
    shapes.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "id": "a", "properties": {}, '
                      '"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}',
                      encoding="utf-8")
    res = invoke(runner, "import", "weights", shapes, "--format", "geojson", "--atlas", atlas)
    assert res.exit_code == 2
    assert "pip install 'clusteratlas[spatial]'" in res.output


@pytest.mark.parametrize("date", ["令和6年4月1日", "R6.4.1", "2024年度", "2024-04-01 00:00:00"])
def test_assess_import_reads_the_dates_the_template_accepts(tmp_path, runner, atlas, date):
    template = tmp_path / "t.csv"
    res = invoke(runner, "assess", "template", "nistep-jp-15", template, "--subject", "x", "--assessor", "me",
                 "--date", date, "--atlas", atlas)
    assert res.exit_code == 0, res.output
    rate_template(template, assessed_on=date)
    res = invoke(runner, "assess", "import", template, "--atlas", atlas)
    assert res.exit_code == 0, res.output


def test_assess_import_reads_a_real_excel_date_cell(tmp_path, runner, atlas):
    import openpyxl

    template = tmp_path / "t.xlsx"
    assert invoke(runner, "assess", "template", "nistep-jp-15", template, "--subject", "x", "--assessor", "me",
                  "--date", "2024-04-01", "--atlas", atlas).exit_code == 0
    book = openpyxl.load_workbook(template)
    ws = book.active
    header = [c.value for c in ws[1]]
    seen: dict[str, int] = {}
    for row in ws.iter_rows(min_row=2):
        row[header.index("assessed_on")].value = dt.datetime(2024, 4, 1)  # a date cell, as Excel stores it
        column = row[header.index("column")].value
        n = seen[column] = seen.get(column, -1) + 1
        row[header.index("value")].value = ("◎", "○", "△", None)[min(n, 3)]
    book.save(template)
    res = invoke(runner, "assess", "import", template, "--atlas", atlas)
    assert res.exit_code == 0, res.output


def test_reference_totals_from_a_wide_table(tmp_path, runner, atlas):
    table = tmp_path / "totals.csv"
    table.write_text("AreaID,SEmp_391,SEmp_392,SEmp_39A,SEmp_39B\n00000,100,50,20,30\n", encoding="utf-8")
    res = invoke(runner, "import", "reference-totals", table, "--format", "wide", "--year", "2014",
                 "--atlas", atlas)
    assert res.exit_code == 0, res.output
    out = tmp_path / "out.csv"
    assert invoke(runner, "export", "reference-totals", out, "--atlas", atlas).exit_code == 0
    with open(out, encoding="utf-8") as fh:
        got = {r["industry"]: float(r["employment"]) for r in csv.DictReader(fh)}
    assert got == {"391": 100.0, "392": 50.0}  # 39A is a detail of 392, not a total of its own


def test_export_industries_with_a_byte_order_mark(tmp_path, runner, atlas):
    assert invoke(runner, "reference", "jp-benchmark", "--atlas", atlas).exit_code == 0
    out = tmp_path / "industries.csv"
    res = invoke(runner, "export", "industries", out, "--bom", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode("utf-8")
    assert "自動車・同附属品製造業" in text and text.startswith("industry,")


def test_template_with_a_byte_order_mark(tmp_path, runner, atlas):
    template = tmp_path / "t.csv"
    assert invoke(runner, "assess", "template", "nistep-jp-15", template, "--subject", "x", "--assessor", "me",
                  "--date", "R6.4.1", "--bom", "--atlas", atlas).exit_code == 0
    assert template.read_bytes().startswith(b"\xef\xbb\xbf")
