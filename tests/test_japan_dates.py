"""Issue 15: 和暦 and 年度 in every year field (files, Excel cells, options), shown on request."""

from __future__ import annotations

import datetime as dt

import duckdb
import openpyxl
import pytest

from clusteratlas import i18n
from clusteratlas.dates import format_date, format_year, parse_year
from clusteratlas.store import Atlas
from tests.conftest import invoke, rate_template


@pytest.mark.parametrize(("written", "year"), [
    (2007, 2007), ("2007", 2007), (2007.0, 2007), ("2007年", 2007), ("平成19年", 2007), ("H19", 2007),
    ("平成19年度", 2007), ("FY2007", 2007), ("Ｈ１９", 2007), ("令和元年度", 2019), ("R1", 2019),
    ("2016-04-01 00:00:00", 2016), (dt.date(2016, 6, 1), 2016), ("昭和64年", 1989)])
def test_a_year_as_written(written, year):
    assert parse_year(written) == year


@pytest.mark.parametrize("written", ["平成32年", "令和0年", "two thousand", "", "2007.5", True, "S65"])
def test_not_a_year(written):
    with pytest.raises(ValueError):
        parse_year(written)


def test_years_and_dates_shown_as_japanese_on_request():
    assert format_year(2007, "era", fiscal=True) == "平成19年度"
    assert format_year(2019, "era") == "令和元年"
    assert format_year(2007, fiscal=True) == "2007年度"
    assert format_year(2007) == "2007"
    assert format_date("2024-04-01", "era") == "令和6年4月1日"
    assert format_date("2019-04-30", "era") == "平成31年4月30日"
    assert format_date("2024-04-01") == "2024-04-01"
    for year in range(1990, 2030):  # round trip through the era form
        assert parse_year(format_year(year, "era", fiscal=True)) == year


def _atlas(tmp_path):
    path = tmp_path / "a.duckdb"
    Atlas(path, create=True).close()
    return path


def test_observation_years_written_in_eras_csv_and_excel(runner, tmp_path):
    csv = tmp_path / "obs.csv"
    csv.write_text("region,industry,year,employment\n13000,E,平成28年,10\n13000,F,H28,5\n27000,E,2016年度,7\n"
                   "27000,F,2016,3\n", encoding="utf-8")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["region", "industry", "year", "employment"])
    sheet.append(["01000", "E", dt.datetime(2016, 4, 1), 4])  # an Excel date cell in the year column
    sheet.append(["01000", "F", "令和3年度", 2])
    xlsx = tmp_path / "obs_excel.xlsx"
    book.save(xlsx)
    atlas = _atlas(tmp_path)
    for file in (csv, xlsx):
        res = invoke(runner, "import", "observations", file, "--atlas", atlas)
        assert res.exit_code == 0, res.output
    with duckdb.connect(str(atlas), read_only=True) as con:
        years = dict(con.sql("SELECT region || industry, year FROM observations").fetchall())
    assert years == {"13000E": 2016, "13000F": 2016, "27000E": 2016, "27000F": 2016, "01000E": 2016,
                     "01000F": 2021}


def test_a_year_that_does_not_exist_is_refused_with_its_line(runner, tmp_path):
    csv = tmp_path / "obs.csv"
    csv.write_text("region,industry,year,employment\n13000,E,2016,10\n13000,F,平成32年,5\n", encoding="utf-8")
    res = invoke(runner, "import", "observations", csv, "--atlas", _atlas(tmp_path))
    assert res.exit_code == 2
    assert "line 3" in res.output and "平成32年" in res.output and "平成31年" in res.output


def test_year_options_take_eras_and_fiscal_years(runner, mapped_atlas):
    with duckdb.connect(str(mapped_atlas), read_only=True) as con:
        latest = con.sql("SELECT max(year) FROM observations").fetchall()[0][0]
    era = format_year(latest, "era")
    plain = invoke(runner, "show", "region", "S2C3", "--atlas", mapped_atlas, "--year", str(latest))
    written = invoke(runner, "show", "region", "S2C3", "--atlas", mapped_atlas, "--year", era)
    fiscal = invoke(runner, "show", "region", "S2C3", "--atlas", mapped_atlas, "--year", f"FY{latest}")
    assert plain.exit_code == written.exit_code == fiscal.exit_code == 0, written.output
    assert plain.output == written.output == fiscal.output
    bad = invoke(runner, "show", "region", "S2C3", "--atlas", mapped_atlas, "--year", "平成32年")
    assert bad.exit_code == 2 and "平成32年" in bad.output


def test_founding_years_of_actors_in_eras(tmp_path):
    from clusteratlas.networks.importers import import_actors

    actors = tmp_path / "actors.csv"
    actors.write_text("actor,kind,name,founded\na,firm,A,昭和59年\nb,firm,B,H19\nc,firm,C,1999\n", encoding="utf-8")
    with Atlas(tmp_path / "n.duckdb", create=True) as a:
        import_actors(a.con, actors, "net")
        got = dict(a.con.sql("SELECT actor, founded FROM actors").fetchall())
    assert got == {"a": 1984, "b": 2007, "c": 1999}


def test_registry_start_years_as_the_sources_write_them(runner, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    plain = invoke(runner, "registry", "knowledge-cluster")
    era = invoke(runner, "registry", "knowledge-cluster", "--era")
    ja = invoke(runner, "--lang", "ja", "registry", "knowledge-cluster")
    i18n.set_language("en")
    assert "2007" in plain.output and "年度" not in plain.output
    assert "平成19年度" in era.output
    assert "2007年度" in ja.output


def test_assessment_dates_shown_in_the_era_on_request(tmp_path, runner, monkeypatch):

    monkeypatch.setenv("COLUMNS", "200")
    atlas = _atlas(tmp_path)
    template = tmp_path / "t.csv"
    res = invoke(runner, "assess", "template", "nistep-jp-15", template, "--subject", "x", "--assessor", "me",
                 "--date", "R6.4.1", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    rate_template(template)
    assert invoke(runner, "assess", "import", template, "--atlas", atlas).exit_code == 0
    plain = invoke(runner, "assess", "history", "x", "--atlas", atlas)
    era = invoke(runner, "assess", "history", "x", "--era", "--atlas", atlas)
    assert "2024-04-01" in plain.output and "令和" not in plain.output
    assert "令和6年4月1日" in era.output
    assert era.output.count("2024-04-01") == plain.output.count("2024-04-01") - 1  # left in the assessment id only
