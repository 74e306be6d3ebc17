"""The import notes of issue 19's readers in Japanese: NUTS ancestors added, a CBP file's coverage of its total
rows, withheld cells and NAICS vintage, and a column declared in a unit of value.

Each import runs under the Japanese locale; its output holds no English word of the interface (the checker of
test_japanese_only, which lets codes, file names and option names through) and the note's figures.
"""

from __future__ import annotations

from typer.testing import CliRunner

from tests.conftest import invoke
from tests.test_cbp_totals import CBP, DEFS
from tests.test_japanese_only import _run, english_words
from tests.test_trust_data import _nuts_file, _observations


def _ja(argv: list) -> str:
    """The command's output in Japanese, on lines wide enough that no note is folded."""
    runner = CliRunner(env={"COLUMNS": "1000", "CLUSTERATLAS_LANG": "ja", "LANG": "ja_JP.UTF-8"})
    return " ".join(_run(runner, [str(a) for a in argv]).split())


def test_nuts_ancestors_note_in_japanese(tmp_path, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    level2 = _nuts_file(tmp_path / "NUTS_RG_01M_2016_4326_LEVL_2.geojson",
                        [("FRF1", "Alsace"), ("FRF2", "Champagne-Ardenne"), ("DE11", "Stuttgart")])
    text = _ja(["import", "regions", level2, "--format", "nuts", "--atlas", atlas])
    # the region codes and the level codes (typed as they are: --level nuts1) are data
    assert english_words(text, also={"DE", "FR", "DE1", "FRF", "nuts"}) == [], text
    assert "ファイルにない 4 件（階層コード nuts0, nuts1: DE、FR、DE1、FRF）" in text, text


def test_cbp_coverage_withheld_and_vintage_notes_in_japanese(tmp_path, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    (tmp_path / "defs.csv").write_text(DEFS, encoding="utf-8")
    invoke(runner, "import", "definitions", tmp_path / "defs.csv", "--atlas", atlas)
    # one more cell of 10002, withheld (flag D, no number) as the Census Bureau publishes it
    (tmp_path / "cbp.csv").write_text(CBP + "10002,111111,D,c,0,0,1\n", encoding="utf-8")
    text = _ja(["import", "observations", tmp_path / "cbp.csv", "--format", "cbp", "--year", "2019",
                "--atlas", atlas])
    assert english_words(text, also={"cbp"}) == [], text  # the dataset's name, from the file's
    # 10001: cells 500 of 1,000; 10002: 350 of 500 -> median 60 %, lowest 50 %, both below 90 %
    assert "地域の合計はファイルの合計行です（地域・年 2 件）" in text, text
    assert "6 桁のセルはその中央値 60.0%（最低 50.0%、90 % 未満が 2 件）" in text, text
    assert "秘匿されたセル 1 件" in text and "NAICS 2017 年版のコード" in text, text


def test_a_unit_of_value_note_in_japanese(tmp_path, runner):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    exports = _observations(tmp_path, "US,8802,2019,131000000000,,\nFR,8802,2019,62000000000,,\n")
    text = _ja(["import", "observations", exports, "--unit", "USD", "--atlas", atlas])
    assert english_words(text, also={"USD", "obs", "FR"}) == [], text
    assert "従業者数の列は USD 単位の値です" in text, text
