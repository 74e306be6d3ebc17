"""Issue 22: the home map, the map classes on the pages, the finder, the compare picker and the evaluations'
filters, in headless Chromium on the demo atlas and on the Japanese 2014 census atlas (one year, programme
regions), in English and Japanese, with no console error and no failed request."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from clusteratlas.api import build_demo_atlas
from clusteratlas.server import Settings, create_app
from clusteratlas.store import Atlas
from clusteratlas.store.geometry import import_geometry
from tests.conftest import invoke, shared_file
from tests.test_japan_walkthrough import EXTRACT
from tests.test_web import Watched, browser, live_server, wait_for  # noqa: F401  (browser: the module's fixture)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("home") / "demo.duckdb"
    build_demo_atlas(path)
    with live_server(path) as base:
        yield path, base


@pytest.fixture(scope="module")
def japan(tmp_path_factory):
    """The walk-through's 2014 census atlas (prefectures and programme regions) with japanmap's prefecture shapes."""
    folder = tmp_path_factory.mktemp("home-jp")
    source = shared_file(EXTRACT)
    path = folder / "aichi.duckdb"
    from typer.testing import CliRunner

    runner = CliRunner()
    for argv in (["init"], ["reference", "jp-prefectures"], ["reference", "jp-benchmark"],
                 ["import", "observations", str(source), "--format", "jp-census", "--year", "2014"],
                 ["map", "--definition", "jp-benchmark-jsic13"], ["reference", "jp-programmes"],
                 ["map", "--definition", "jp-benchmark-jsic13", "--level", "custom"]):
        res = invoke(runner, *argv, "--atlas", str(path))
        assert res.exit_code == 0, (argv, res.output)
    with Atlas(path) as atlas:
        import_geometry(atlas.con, "japanmap", level="prefecture", file_format="japanmap")
    with live_server(path) as base:
        yield path, base


def _suggest(page, selector: str, text: str) -> list[str]:
    page.focus(selector)
    page.keyboard.type(text)
    wait_for(page, f"document.querySelector('{selector}-list').children.length > 0 "
                   f"&& !document.querySelector('{selector}-list').hidden")
    return page.locator(f"{selector}-list li").all_inner_texts()


def test_home_is_a_map_of_strong_clusters_and_of_a_clusters_lq(browser, demo):  # noqa: F811
    _path, base = demo
    watched = Watched(browser)
    try:
        watched.open(f"{base}/?lang=en", ("home-map",))
        assert watched.page.evaluate("CA.mapInfo") == {"features": 36, "values": 36, "missing": 0}
        legend = watched.page.evaluate("CA.mapLegend")
        assert legend[-1].startswith("≥ ") and len(legend) == len(set(legend)) >= 2
        # the lists: regions by level (36 counties, 6 states, a custom region) and clusters by type
        assert watched.page.locator("#regions-county li").count() == 36
        assert watched.page.locator("#regions-state li").count() == 6
        assert watched.page.locator(".browse-type li").count() == 20
        # coloured by a cluster's LQ: the fixed breaks around 1, the strong outline explained
        watched.page.select_option("select[name=colour]", "C01")
        watched.page.wait_for_url(re.compile(r"colour=C01"))
        wait_for(watched.page, "window.CA && CA.ready['home-map'] === true")
        assert watched.page.evaluate("CA.mapLegend") == ["< 0.8", "0.8 – 1.25", "1.25 – 2", "≥ 2"]
        assert watched.page.locator("#outline-note").is_visible()
        assert watched.errors == []
    finally:
        watched.close()


def test_cluster_map_legend_and_lisa_say_what_they_show(browser, demo):  # noqa: F811
    path, base = demo
    watched = Watched(browser, locale="ja-JP")
    try:
        # a known LQ: the demo's county with the highest LQ of C01 lies in the top class, in the map's own data
        watched.open(f"{base}/clusters/C01?level=county&lang=ja", ("map",))
        assert watched.page.evaluate("CA.mapLegend") == ["< 0.8", "0.8 – 1.25", "1.25 – 2", "≥ 2"]
        with TestClient(create_app(Settings(atlas=str(path), read_only=True, warm=False))) as client:
            layer = client.get("/api/v1/clusters/C01/map", params={"level": "county"}).json()["data"]
        top = max(layer, key=lambda r: r["value"])
        item = watched.page.evaluate(
            f"CA.charts.map.getOption().series[0].data.find(d => d.name === {top['region']!r})")
        assert item["value"] == pytest.approx(top["value"]) and top["value"] >= 2
        # C01 has no hot spot in the demo: the page says so (no silent fall-back to another map)
        watched.open(f"{base}/clusters/C01?level=county&classes=lisa&lang=ja", ("map",))
        note = watched.page.locator("#classes-note").inner_text()
        assert "ホットスポットはありません" in note and "36" in note
        # at the state level there is no hot-spot run at all: said too, with the command to run
        watched.open(f"{base}/clusters/C01?level=state&classes=lisa&lang=en", ("map",))
        assert "clusteratlas hotspots --level state" in watched.page.locator("#classes-note").inner_text()
        # C09 has one: the legend shows hot and cold spots and the hot region is coloured as one
        watched.open(f"{base}/clusters/C09?level=county&classes=lisa&lang=en", ("map",))
        assert watched.page.locator("#classes-note").count() == 0
        hot = watched.page.evaluate("CA.charts.map.getOption().series[0].data.filter(d => d.value === 2).length")
        assert hot >= 1
        # the page's related-cluster graph draws (each related cluster once, one relate level)
        watched.open(f"{base}/clusters/C01?lang=en", ("graph",))
        assert watched.errors == []
    finally:
        watched.close()


def test_finder_suggests_in_both_languages_and_by_keyboard(browser, demo):  # noqa: F811
    _path, base = demo
    watched = Watched(browser)
    try:
        watched.open(f"{base}/?lang=en", ("home-map",))
        found = _suggest(watched.page, "#q-home", "north county")
        assert found[0].startswith("North County 1")
        watched.page.keyboard.press("ArrowDown")
        assert watched.page.locator("#q-home").get_attribute("aria-activedescendant") == "q-home-opt-0"
        watched.page.keyboard.press("Enter")
        watched.page.wait_for_url(re.compile(r"/regions/S1C1"))
        watched.open(f"{base}/?lang=ja", ("home-map",))
        found = _suggest(watched.page, "#q-home", "自動")  # a cluster by its Japanese name
        assert any(t.startswith("自動車") and "クラスター" in t for t in found), found
        watched.page.keyboard.press("ArrowDown")
        watched.page.keyboard.press("Enter")
        watched.page.wait_for_url(re.compile(r"/clusters/C01"))
        assert watched.errors == []
    finally:
        watched.close()


def test_compare_picker_works_by_keyboard(browser, demo):  # noqa: F811
    _path, base = demo
    watched = Watched(browser)
    try:
        watched.open(f"{base}/compare?lang=ja", ())
        assert _suggest(watched.page, "#pick-region", "北第1")[0].startswith("北第1郡")
        watched.page.keyboard.press("ArrowDown")
        watched.page.keyboard.press("Enter")
        wait_for(watched.page, "CA.peersOffered > 0")  # its peers are offered
        assert watched.page.evaluate("CA.picked") == ["S1C1"]
        assert watched.page.evaluate("document.getElementById('pick-level').value") == "county"
        _suggest(watched.page, "#pick-region", "S2C3")
        watched.page.keyboard.press("ArrowDown")
        watched.page.keyboard.press("Enter")
        assert watched.page.evaluate("CA.picked") == ["S1C1", "S2C3"]
        wait_for(watched.page, "CA.peersFor === 'S2C3'")  # the new region's peers replace the first's
        watched.page.locator("#peer-offers button").first.focus()  # a peer, by keyboard
        watched.page.keyboard.press("Enter")
        assert len(watched.page.evaluate("CA.picked")) == 3
        watched.page.locator("#picked li button").first.focus()  # remove the first, by keyboard
        watched.page.keyboard.press("Enter")
        assert watched.page.evaluate("CA.picked")[0] == "S2C3"
        watched.page.locator("#compare-go").focus()
        watched.page.keyboard.press("Enter")
        watched.page.wait_for_url(re.compile(r"regions=S2C3%2C"))
        wait_for(watched.page, "window.CA && CA.ready['m-S2C3'] === true")
        assert watched.page.locator("#heat thead th").count() == 3
        assert watched.errors == []
    finally:
        watched.close()


def test_evaluations_filters_narrow_the_list(browser, demo):  # noqa: F811
    _path, base = demo
    watched = Watched(browser)
    try:
        watched.open(f"{base}/evaluations?lang=en", ("radar-0",))  # the demo has no prefecture shapes
        assert "143 of 143 programmes" in watched.page.locator("#filter-count").inner_text()
        assert watched.page.locator("#programmes tbody tr").count() == 25  # a page at a time, not 143 rows
        watched.page.locator(".pager a[rel=next]").focus()
        watched.page.keyboard.press("Enter")
        watched.page.wait_for_url(re.compile(r"page=2"))
        assert watched.page.locator("#programmes caption").inner_text() == "Programmes 26–50 of 143"
        every = 143
        watched.page.select_option("select[name=programme]", "knowledge-cluster")
        watched.page.wait_for_url(re.compile(r"programme=knowledge-cluster"))
        wait_for(watched.page, "window.CA && CA.ready['radar-0'] === true")
        some = watched.page.locator("#programmes tbody tr").count()
        assert 0 < some < every
        first = watched.page.locator("#programmes tbody tr td:first-child").all_inner_texts()
        assert all("Knowledge" in t for t in first)
        watched.page.fill("#filters input[name=q]", "nanotech")
        watched.page.keyboard.press("Enter")
        watched.page.wait_for_url(re.compile(r"q=nanotech"))
        fewer = watched.page.locator("#programmes tbody tr").count()
        assert 0 < fewer < some, (watched.page.url, watched.page.locator("#filter-count").inner_text())
        assert f"{fewer} of 143 programmes" in watched.page.locator("#filter-count").inner_text()
        watched.open(f"{base}/evaluations?phase=growth&lang=en", ())
        phases = watched.page.locator("#assessments tbody tr td:nth-child(6)").all_inner_texts()
        assert 0 < len(phases) < 3 and len(set(phases)) == 1, phases  # of the demo's 3 assessments
        assert watched.errors == []
    finally:
        watched.close()


@pytest.mark.realdata
def test_japanese_census_atlas_home_compare_and_evaluations(browser, japan):  # noqa: F811
    """One year, prefectures and programme regions: the home map is of the prefectures (not the overlapping
    programme regions), the finder finds 愛知県, the programmes' map draws."""
    _path, base = japan
    watched = Watched(browser)
    try:
        watched.open(f"{base}/?lang=ja", ("home-map",))
        info = watched.page.evaluate("CA.mapInfo")
        assert info["features"] == 47 and info["missing"] == 0
        assert watched.page.locator("#regions-prefecture li").count() == info["values"]
        found = _suggest(watched.page, "#q-home", "愛知")
        assert found[0].startswith("愛知県")
        watched.page.keyboard.press("ArrowDown")
        watched.page.keyboard.press("Enter")
        watched.page.wait_for_url(re.compile(r"/regions/23000"))
        watched.open(f"{base}/compare?lang=ja", ())
        assert _suggest(watched.page, "#pick-region", "愛知")[0].startswith("愛知県")
        watched.open(f"{base}/evaluations?lang=ja", ("programme-map",))
        assert watched.page.locator("#programmes tbody tr").count() == 25
        # filtered by a prefecture (where a click on the map leads): Aichi's programmes only
        watched.open(f"{base}/evaluations?region=23000&lang=ja", ("programme-map",))
        places = watched.page.locator("#programmes tbody tr td:last-child").all_inner_texts()
        assert places and all("愛知県" in p for p in places)
        assert watched.errors == []
    finally:
        watched.close()


def test_the_pages_ask_the_query_layer(demo, tmp_path):
    """The home page's figures are the query layer's (no SQL of their own): the strong clusters per region on the
    map add up to the overview's strong clusters."""
    import shutil

    import duckdb

    from clusteratlas import queries as Q

    path = shutil.copy(demo[0], tmp_path / "copy.duckdb")  # the served file is open with the server's settings
    con = duckdb.connect(str(path), read_only=True)
    try:
        strong = Q.strong_map(con)
        assert sum(r["value"] for r in strong.rows()) == Q.overview(con).strong
        assert Q.home_level(con) == "county"
        related = [r["related"] for r in Q.related_clusters(con, "C01").rows()]
        assert len(related) == len(set(related))  # one relate level, each related cluster once
        assert Q.suggest(con, "S1C")[0]["code"].startswith("S1C")
    finally:
        con.close()


def test_home_without_shapes_says_so_and_lists_regions_and_clusters(demo, tmp_path):
    import shutil

    import duckdb

    path = shutil.copy(demo[0], tmp_path / "flat.duckdb")
    con = duckdb.connect(str(path))
    con.execute("DELETE FROM geometries")
    con.close()
    with TestClient(create_app(Settings(atlas=str(path), read_only=True, warm=False))) as client:
        for lang, words in (("en", "No map: this atlas has no region shapes"), ("ja", "地図はありません")):
            page = client.get("/", params={"lang": lang}).text
            assert words in page and 'id="home-map"' not in page
            assert page.count('href="/regions/') >= 43 and page.count('class="browse-type"') == 2


def test_filters_and_suggestions_on_hand_made_rows():
    from clusteratlas.queries.evaluation import filter_assessments, filter_programmes

    rows = [{"programme": "knowledge-cluster", "id": "nagano", "name": "All of Nagano", "name_ja": "長野県全域",
             "fields": "Nanotechnology", "fields_ja": "ナノテクノロジー", "regions": "20000"},
            {"programme": "knowledge-cluster", "id": "tokai", "name": "Greater Tokai", "name_ja": "東海広域",
             "fields": "Environment", "fields_ja": "環境", "regions": "23000 21000"},
            {"programme": "city-area", "id": "aichi", "name": "Aichi", "name_ja": "愛知", "fields": "Life science",
             "fields_ja": "ライフサイエンス", "regions": "23000"}]
    assert [r["id"] for r in filter_programmes(rows, programme="knowledge-cluster")] == ["nagano", "tokai"]
    assert [r["id"] for r in filter_programmes(rows, region="23000")] == ["tokai", "aichi"]
    assert [r["id"] for r in filter_programmes(rows, text="ＮＡＮＯ")] == ["nagano"]  # width and case folded
    assert [r["id"] for r in filter_programmes(rows, text="らいふ")] == ["aichi"]  # kana folded
    assert filter_programmes(rows, programme="city-area", region="20000") == []
    assert filter_programmes(rows) == rows
    assessed = [{"subject": "A", "region": "23000", "tags": '{"phase": "growth"}', "subject_name": "Aichi cluster"},
                {"subject": "B", "region": "20000", "tags": '{"phase": "formation"}', "subject_name": "Nagano"}]
    assert [r["subject"] for r in filter_assessments(assessed, phase="growth")] == ["A"]
    assert [r["subject"] for r in filter_assessments(assessed, region="20000", text="nagano")] == ["B"]
