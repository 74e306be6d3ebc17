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


def test_eurostat_notes_in_japanese(tmp_path, runner):
    """A corrupted cell, a confidential cell and the flags kept: each note in Japanese."""
    (tmp_path / "sdmx.csv").write_text(
        "DATAFLOW,LAST UPDATE,freq,nace_r2,geo,TIME_PERIOD,OBS_VALUE,OBS_FLAG\n"
        "ESTAT:X(1.0),01/01/24,A,C10,DE11,2021,1500,\n"
        "ESTAT:X(1.0),01/01/24,A,C10,DE12,2021,,c\n"
        "ESTAT:X(1.0),01/01/24,A,C11,DE11,2021,300,e\n"
        "ESTAT:X(1.0),01/01/24,A,C11,DE12,2021,12:00 AM,\n", encoding="utf-8")
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    text = _ja(["import", "observations", tmp_path / "sdmx.csv", "--format", "eurostat", "--atlas", atlas])
    # codes, the flag letters and the column and flag values (source_flag, suppressed) are data
    assert english_words(text, also={"Eurostat", "AM", "DE", "e", "c", "source_flag", "suppressed", "sdmx"}) == [], text
    assert "Eurostat のフラグ付き数値として読めない破損セルが 1 件あります（5 行目：'12:00 AM" in text, text
    assert "秘匿セル（Eurostat が秘匿データを表す ':' または空白）1 件" in text, text
    assert "c（秘匿）：1 セル、うち数値あり 0 セル；e（推計値）：1 セル、うち数値あり 1 セル" in text, text


def test_qcew_and_estat_notes_in_japanese(tmp_path, runner):
    import json

    from tests.test_readers import QCEW_HEADER

    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    qcew = tmp_path / "2017.annual.singlefile.csv"
    qcew.write_text(QCEW_HEADER + "\n"
                    '"36061","5","541511","78","0","2017","A","","3000","40000","6000000000","0","0","2885","150000"\n'
                    '"36061","5","541512","78","0","2017","A","N","0","0","0","0","0","0","0"\n', encoding="utf-8")
    text = _ja(["import", "observations", qcew, "--format", "qcew", "--atlas", atlas])
    assert english_words(text, also={"QCEW", "CBP", "N", "singlefile"}) == [], text
    assert "QCEW の賃金はドル単位です" in text and "非公表のセル（開示コード N）1 件" in text, text
    answer = {"GET_STATS_DATA": {"RESULT": {"STATUS": 0}, "STATISTICAL_DATA": {
        "CLASS_INF": {"CLASS_OBJ": {"@id": "area", "CLASS": {"@code": "13000", "@name": "東京都"}}},
        "DATA_INF": {"VALUE": [
            {"@cat01": "E", "@area": "13000", "@time": "2016000000", "$": "1,200"},
            {"@cat01": "F", "@area": "13000", "@time": "2016000000", "$": "X"}]}}}}
    (tmp_path / "e.json").write_text(json.dumps(answer, ensure_ascii=False), encoding="utf-8")
    text = _ja(["import", "observations", tmp_path / "e.json", "--format", "estat", "--atlas", atlas])
    assert english_words(text) == [], text
    assert "秘匿セル（'-'、'X'、'***'）1 件を数値なしで保存しました" in text, text
