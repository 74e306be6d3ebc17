"""Issue 15: the Economic Census for Business Activity through 'fetch estat --survey', the table found with
getStatsList (answers shaped as the e-Stat API 3.0 specification; the data answer is the shared real sample)."""

from __future__ import annotations

import json

import pytest

from clusteratlas.errors import InputError
from clusteratlas.sources import estat_catalogue
from tests.conftest import invoke, query_atlas, shared_file

SAMPLE = "jp/estat_api_sample/getStatsData_0000020201_trimmed.json"


def _table(id_: str, title: str, statistics: str, area: str = "都道府県") -> dict:
    return {"@id": id_, "STAT_NAME": {"@code": "00200553", "$": "経済センサス‐活動調査"},
            "GOV_ORG": {"@code": "00200", "$": "総務省"}, "STATISTICS_NAME": statistics,
            "TITLE": {"@no": id_[-3:], "$": title}, "CYCLE": "-", "SURVEY_DATE": "202106",
            "OPEN_DATE": "2023-06-27", "SMALL_AREA": 0, "COLLECT_AREA": area,
            "MAIN_CATEGORY": {"@code": "07", "$": "企業・家計・経済"}, "SUB_CATEGORY": {"@code": "01", "$": "企業活動"},
            "OVERALL_TOTAL_NUMBER": 1000, "UPDATED_DATE": "2023-06-27",
            "TITLE_SPEC": {"TABLE_NAME": title}}


ESTABLISHMENTS = "令和3年経済センサス‐活動調査 確報集計 事業所に関する集計 産業横断的集計"
ENTERPRISES = "令和3年経済センサス‐活動調査 確報集計 企業に関する集計 産業横断的集計"
TABLES = [
    _table("0003000001", "産業（小分類）別民営事業所数、従業者数－全国、都道府県", ENTERPRISES),
    _table("0003000002", "産業（中分類）別民営事業所数、従業者数－全国、都道府県", ESTABLISHMENTS),
    _table("0003000003", "産業（小分類）別民営事業所数、従業者数－全国、都道府県", ESTABLISHMENTS),
    _table("0003000004", "産業（大分類）別民営事業所数、従業者数－市区町村", ESTABLISHMENTS, "市区町村"),
    _table("0003000005", "産業（小分類）別売上（収入）金額－全国、都道府県", ESTABLISHMENTS),
]


def _stats_list(tables: list[dict], status: int = 0, message: str = "正常に終了しました。") -> dict:
    body = {"RESULT": {"STATUS": status, "ERROR_MSG": message, "DATE": "2026-11-29T10:00:00.000+09:00"},
            "PARAMETER": {"LANG": "J", "STATS_CODE": "00200553", "SURVEY_YEARS": 2021, "DATA_FORMAT": "J"}}
    if tables:
        body["DATALIST_INF"] = {"NUMBER": len(tables), "RESULT_INF": {"FROM_NUMBER": 1, "TO_NUMBER": len(tables)},
                                "TABLE_INF": tables[0] if len(tables) == 1 else tables}
    return {"GET_STATS_LIST": body}


def test_the_table_of_employees_by_prefecture_and_finest_industry_is_chosen(tmp_path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps(_stats_list(TABLES), ensure_ascii=False), encoding="utf-8")
    tables = estat_catalogue.read_stats_list(path)
    chosen, others = estat_catalogue.choose_table(tables, "prefecture", survey="economic-census-activity", year=2021)
    assert chosen.id == "0003000003"  # establishments (not the enterprise table), 小分類 before 中分類
    assert [t.id for t in others] == ["0003000002", "0003000001"]  # sales and the municipal table are no candidates
    chosen, _ = estat_catalogue.choose_table(tables, "municipality", survey="economic-census-activity", year=2021)
    assert chosen.id == "0003000004"
    one = tmp_path / "one.json"  # e-Stat answers one table as an object, not a list
    one.write_text(json.dumps(_stats_list(TABLES[2:3]), ensure_ascii=False), encoding="utf-8")
    assert [t.id for t in estat_catalogue.read_stats_list(one)] == ["0003000003"]


def test_e_stat_errors_and_years_are_clear(tmp_path):
    path = tmp_path / "list.json"
    path.write_text(json.dumps(_stats_list([], 100, "認証に失敗しました。")), encoding="utf-8")
    with pytest.raises(InputError, match="認証に失敗しました"):
        estat_catalogue.read_stats_list(path)
    path.write_text(json.dumps(_stats_list([], 1, "正常に終了しましたが、該当データはありませんでした。")),
                    encoding="utf-8")
    assert estat_catalogue.read_stats_list(path) == []
    with pytest.raises(InputError, match="no table of employees"):
        estat_catalogue.choose_table([], "prefecture", survey="economic-census-activity", year=2021)
    with pytest.raises(InputError, match="2012, 2016, 2021"):
        estat_catalogue.stats_list_url("http://x", app_id="a", survey="economic-census-activity", year=2019)
    assert "statsCode=00200553&surveyYears=2021" in estat_catalogue.stats_list_url(
        "http://x", app_id="a", survey="economic-census-activity", year=2021)


def test_fetch_estat_survey_finds_the_table_then_downloads_and_imports_it(server, runner, tmp_path):
    root, base = server
    (root / "getStatsList").write_text(json.dumps(_stats_list(TABLES), ensure_ascii=False), encoding="utf-8")
    (root / "getStatsData").write_bytes(shared_file(SAMPLE).read_bytes())
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "fetch", "estat", "--survey", "economic-census-activity", "--year", "令和3年",
                 "--app-id", "TESTID", "--base-url", base, "--import", atlas)
    assert res.exit_code == 0, res.output
    output = " ".join(res.output.split())
    assert "e-Stat table 0003000003" in output and "--table 0003000002" in output
    assert "estat_0003000003.json" in output  # the data of the chosen table were requested
    assert query_atlas(atlas, "SELECT count(*) FROM observations")[0][0] > 0
    bad = invoke(runner, "fetch", "estat", "--survey", "economic-census-activity", "--year", "2021",
                 "--app-id", "TESTID", "--base-url", base, "--area", "ward")
    assert bad.exit_code == 2 and "unknown area level" in bad.output
    both = invoke(runner, "fetch", "estat", "--survey", "economic-census-activity", "--table", "1", "--year", "2021",
                  "--app-id", "TESTID", "--base-url", base)
    assert both.exit_code == 2 and "not both" in both.output
