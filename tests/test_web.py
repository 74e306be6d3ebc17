"""The web pages: server-rendered HTML over the query layer, checked in a real browser (headless Chromium).

The browser tests drive Debian's ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it) with
Playwright. Without it they are skipped locally and fail on CI. Screenshots of every page in both
languages are written to ``$CLUSTERATLAS_WEB_SCREENSHOTS`` when it is set (docs/web.md shows them)::

    CLUSTERATLAS_WEB_SCREENSHOTS=docs/img/web PYTHONPATH=src python -m pytest tests/test_web.py -k screenshot
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from clusteratlas import i18n
from clusteratlas.errors import InputError
from clusteratlas.server import Settings, create_app
from clusteratlas.server.web import search_variants
from clusteratlas.store import Atlas
from clusteratlas.store.geometry import import_geometry
from tests.conftest import copy_atlas, invoke, shared_file
from tests.test_server import build_full_atlas

CHROMIUM = Path("/usr/bin/chromium")
API = "/api/v1"


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def web_atlas(tmp_path_factory, sample_files):
    """The full sample atlas (map, relate, hot spots, indicators, assessments, programmes) with its grid map."""
    path = tmp_path_factory.mktemp("web") / "atlas.duckdb"
    build_full_atlas(path, sample_files)
    with Atlas(path) as atlas:
        for level in ("county", "state"):
            import_geometry(atlas.con, sample_files[f"geometry-{level}"], level=level, tolerance=0)
        import_geometry(atlas.con, "japanmap", level="prefecture", file_format="japanmap")  # programme map
    return path


@pytest.fixture(scope="module")
def client(web_atlas):
    with TestClient(create_app(Settings(atlas=str(web_atlas), read_only=True))) as c:
        yield c


@contextlib.contextmanager
def live_server(path: Path, read_only: bool = True):
    """The app served by uvicorn on a free local port, in a thread (the browser needs a real socket)."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(atlas=str(path), read_only=read_only)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started:
        assert time.time() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api") if not os.environ.get("CI") else \
        __import__("playwright.sync_api", fromlist=["sync_playwright"])
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI needs Debian's chromium (.ci/run installs it with apt-get)")
        pytest.skip("no /usr/bin/chromium")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(web_atlas):
    with live_server(web_atlas) as base:
        yield base


def wait_for(page, expression: str, timeout: float = 20.0) -> None:
    """Poll a JavaScript expression until it is true. Not ``page.wait_for_function``: that evaluates its text with
    ``eval`` inside the page, which the pages' Content-Security-Policy forbids; ``page.evaluate`` goes through
    the DevTools protocol instead."""
    deadline = time.time() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        assert time.time() < deadline, f"still false after {timeout} s: {expression}"
        time.sleep(0.05)


class Watched:
    """A browser page that records console errors, page errors and failed requests."""

    def __init__(self, browser, **options):
        self.context = browser.new_context(viewport={"width": 1280, "height": 1600}, **options)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        # a request the browser cancels because the page navigates away (net::ERR_ABORTED) is not a failure
        self.page.on("requestfailed", lambda r: None if "ERR_ABORTED" in (r.failure or "")
                     else self.errors.append(f"failed: {r.url} ({r.failure})"))
        self.page.on("response", lambda r: self.errors.append(f"HTTP {r.status}: {r.url}")
                     if r.status >= 400 else None)

    def open(self, url: str, charts: tuple[str, ...] = ()) -> None:
        self.page.goto(url)
        for chart in charts:
            wait_for(self.page, f"window.CA && CA.ready[{chart!r}] === true")

    def close(self) -> None:
        self.context.close()


SAMPLE_PAGES = {  # page -> (url, charts that must finish drawing)
    "home": ("/", ("home-map",)),
    "search": ("/search?q=north", ()),
    "region": ("/regions/S1C1", ("bubble", "series", "locator")),
    "cluster": ("/clusters/C01?metric=lq&classes=lq", ("map", "series", "graph")),
    "compare": ("/compare?regions=S1C1,S1C2,S2C1,S2C2,S3C1,S3C2,S4C1,S4C2,S5C1,S6C1", ("m-S1C1", "m-S6C1")),
    "evaluations": ("/evaluations", ("radar-0", "programme-map")),
}


# ------------------------------------------------------------- no browser
def test_every_page_renders_its_tables_and_links_its_json_twin(client):
    for name, (url, _) in SAMPLE_PAGES.items():
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[:300])
        assert r.headers["content-type"].startswith("text/html")
        if name not in ("search",):
            assert "<table" in r.text, name
        twin = re.search(r'id="twin" href="([^"]+)"', r.text)
        assert twin, name
        assert client.get(twin.group(1).replace("&amp;", "&")).status_code == 200, (name, twin.group(1))
        assert "https://" not in r.text.replace("https://www.apache.org", ""), name  # nothing from another host


def test_japanese_pages_have_no_untranslated_label(client):
    misses: list[str] = []
    hook = lambda lang, msgid: misses.append(msgid)  # noqa: E731
    i18n.MISS_HOOKS.append(hook)
    try:
        for url, _ in SAMPLE_PAGES.values():
            sep = "&" if "?" in url else "?"
            for extra in ("", "&classes=hotspots", "&metric=stars"):
                assert client.get(f"{url}{sep}lang=ja{extra}").status_code == 200
        assert misses == [], sorted(set(misses))
        # the hook does see a miss (so an empty list means something)
        from clusteratlas.server.web import translate

        translate("ja", "a label nobody translated")
        assert misses == ["a label nobody translated"]
    finally:
        i18n.MISS_HOOKS.remove(hook)


def test_search_forgives_case_width_and_kana(client):
    assert "あぱれる" in search_variants("アパレル") and "アパレル" in search_variants("あぱれる")
    for typed in ("NORTH county 1", "ｎｏｒｔｈ COUNTY 1", "north county 1"):
        assert "/regions/S1C1" in client.get("/search", params={"q": typed, "lang": "en"}).text, typed
    for typed in ("アパレル", "あぱれる", "ｱﾊﾟﾚﾙ", "APPAREL"):
        page = client.get("/search", params={"q": typed, "lang": "en"}).text
        assert re.search(r'href="/clusters/[^"]+">Apparel<', page), typed
    assert client.get("/search", params={"q": "north county 1", "go": "1"}, follow_redirects=False
                      ).headers["location"] == "/regions/S1C1"


def test_geometry_import_simplifies_and_replaces_one_level(tmp_path):
    path = tmp_path / "geo.duckdb"
    topo = shared_file("geo/cmp_counties_eas_msas.topojson.json")
    with Atlas(path, create=True) as atlas:
        assert import_geometry(atlas.con, topo, level="msa", file_format="topojson", layer="msas") == 942
        assert import_geometry(atlas.con, topo, level="ea", file_format="topojson", layer="eas") == 179
        fine = atlas.con.execute("SELECT sum(length(geojson)) FROM geometries WHERE level = 'msa'").fetchall()[0][0]
        import_geometry(atlas.con, topo, level="msa", file_format="topojson", layer="msas", tolerance=0.05)
        coarse = atlas.con.execute("SELECT sum(length(geojson)) FROM geometries WHERE level = 'msa'"
                                   ).fetchall()[0][0]
        assert coarse < fine
        counts = dict(atlas.con.execute("SELECT level, count(*) FROM geometries GROUP BY 1").fetchall())
        assert counts == {"msa": 942, "ea": 179}
        assert atlas.con.execute("SELECT count(*) FROM geometries WHERE region = '41940'").fetchall()[0][0] == 1
        with pytest.raises(InputError, match="several layers"):
            import_geometry(atlas.con, topo, level="x", file_format="topojson")
        assert dict(atlas.con.execute("SELECT level, count(*) FROM geometries GROUP BY 1").fetchall()) == counts


def test_cli_import_geometry(tmp_path, runner, sample_files):
    path = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", str(path))
    result = invoke(runner, "import", "geometry", str(sample_files["geometry-county"]), "--atlas", str(path))
    assert result.exit_code == 2 and "--level" in result.output
    result = invoke(runner, "import", "geometry", str(sample_files["geometry-county"]), "--atlas", str(path),
                    "--level", "county", "--format", "geojson")
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM geometries WHERE level = 'county'").fetchall()[0][0] == 36
    con.close()


# ---------------------------------------------------------------- browser
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_pages_load_and_draw_without_errors(browser, site, lang):
    watched = Watched(browser)
    try:
        for url, charts in SAMPLE_PAGES.values():
            watched.open(f"{site}{url}{'&' if '?' in url else '?'}lang={lang}", charts)
            assert watched.page.locator("html").get_attribute("lang") == lang
        assert watched.errors == []
    finally:
        watched.close()


def test_map_draws_one_shape_per_region_of_the_level(browser, site, client):
    watched = Watched(browser)
    try:
        for level, count in (("county", 36), ("state", 6)):
            regions = {r["region"] for r in client.get(f"{API}/clusters/C01/map?level={level}").json()["data"]}
            watched.open(f"{site}/clusters/C01?level={level}", ("map",))
            assert watched.page.evaluate("CA.mapInfo") == {"features": count, "values": count, "missing": 0}
            drawn = watched.page.evaluate(f"echarts.getMap('level:{level}').geoJSON.features.map(f => f.id)")
            assert sorted(drawn) == sorted(regions) and len(regions) == count
        assert watched.errors == []
    finally:
        watched.close()


def test_bubble_per_cluster_and_click_opens_it(browser, site, client):
    clusters = client.get(f"{API}/regions/S1C1").json()["data"]["clusters"]
    expected = [c for c in clusters if c["employment"] and c["lq"]]
    watched = Watched(browser)
    try:
        watched.open(f"{site}/regions/S1C1", ("bubble",))
        assert watched.page.evaluate("CA.bubbles") == len(expected) > 5
        watched.page.locator("#bubble").scroll_into_view_if_needed()
        target = watched.page.evaluate("""() => {
            const c = CA.charts.bubble, data = c.getOption().series[0].data, d = data[data.length - 1];
            const px = c.convertToPixel({seriesIndex: 0}, d.value.slice(0, 2));
            const box = document.getElementById('bubble').getBoundingClientRect();
            return {x: box.left + px[0], y: box.top + px[1], cluster: d.cluster};
        }""")
        with watched.page.expect_navigation():
            watched.page.mouse.click(target["x"], target["y"])
        assert f"/clusters/{target['cluster']}" in watched.page.url
        assert watched.errors == []
    finally:
        watched.close()


def test_compare_ten_regions(browser, site, client):
    watched = Watched(browser)
    try:
        url, charts = SAMPLE_PAGES["compare"]
        watched.open(site + url, charts)
        assert watched.page.locator("#heat thead th").count() == 11  # the cluster column + 10 regions
        assert watched.page.locator("#multiples .chart").count() == 10
        assert watched.page.locator("ul.diffs li").count() > 0
        # each small multiple shows the region's eight highest LQs, as the API gives them
        drawn = watched.page.evaluate("echarts.getInstanceByDom(document.getElementById('m-S1C1'))"
                                      ".getOption().series[0].data")
        rows = client.get(f"{API}/compare?regions={url.split('=', 1)[1]}&metric=lq").json()["data"]
        top = sorted((r["lq"] for r in rows if r["region"] == "S1C1" and r["lq"] is not None), reverse=True)[:8]
        assert drawn == pytest.approx(top[::-1])
        # one x scale for all ten (a chart's own scale would draw unequal figures as equal bars), titled, from 0
        axes = watched.page.evaluate("""() => Array.from(document.querySelectorAll('#multiples .chart'), div => {
            const o = echarts.getInstanceByDom(div).getOption();
            return {min: o.xAxis[0].min, max: o.xAxis[0].max, name: o.xAxis[0].name,
                    most: Math.max(...o.series[0].data), line: o.series[0].markLine.data[0].xAxis};
        })""")
        assert len({(a["min"], a["max"], a["name"]) for a in axes}) == 1 and axes[0]["min"] == 0, axes
        assert axes[0]["name"] == "LQ" and {a["line"] for a in axes} == {1}, axes
        most = max(a["most"] for a in axes)
        assert most <= axes[0]["max"] <= 1.34 * most, axes  # the nearest round number above the largest
        # a growth rate falls below zero in some regions: the one scale reaches as far below zero
        watched.open(site + url + "&metric=employment_cagr", charts)
        spans = watched.page.evaluate("""() => Array.from(document.querySelectorAll('#multiples .chart'), div => {
            const o = echarts.getInstanceByDom(div).getOption(), v = o.series[0].data;
            return {min: o.xAxis[0].min, max: o.xAxis[0].max, low: Math.min(...v), high: Math.max(...v)};
        })""")
        low, high = min(a["low"] for a in spans), max(a["high"] for a in spans)
        assert low < 0 < high and len({(a["min"], a["max"]) for a in spans}) == 1, spans
        assert spans[0]["min"] <= low and spans[0]["max"] >= high, spans
        # a growth rate is a percentage in the table, the differences and the axis (0.023 is not "0")
        cells = [t for t in watched.page.locator("#heat tbody td.n").all_inner_texts() if t.strip()]
        assert cells and all(re.match(r"-?\d+\.\d%( ★+)?$", t.strip()) for t in cells), cells[:5]
        assert "%" in watched.page.locator("ul.diffs li").first.inner_text()
        ticks = watched.page.evaluate("echarts.getInstanceByDom(document.getElementById('m-S1C1'))"
                                      ".getOption().xAxis[0].axisLabel.formatter(0.05)")
        assert ticks == "5%"
        size = len(watched.page.evaluate("document.getElementById('page-data').textContent"))
        assert size < 30_000, size  # one figure per cell, not every column of every cell (was 200 KB)
        watched.open(f"{site}/compare?peers=S1C1", ())
        assert watched.page.locator("#heat thead th").count() == 11  # the region and its 9 peers
        assert watched.errors == []
    finally:
        watched.close()


def test_language_switch_changes_every_label_and_is_remembered(browser, site):
    watched = Watched(browser)
    try:
        watched.open(f"{site}/regions/S1C1?lang=en", ("bubble",))
        english = watched.page.locator("h2, th, nav a, .tile .k").all_inner_texts()
        with watched.page.expect_navigation():  # else the old page, or none, may answer the wait below
            watched.page.click("#lang-switch")
        wait_for(watched.page, "window.CA && CA.ready.bubble === true")
        japanese = watched.page.locator("h2, th, nav a, .tile .k").all_inner_texts()
        assert watched.page.locator("html").get_attribute("lang") == "ja"
        assert len(english) == len(japanese)
        same = [(e, j) for e, j in zip(english, japanese, strict=True) if e == j and e.strip() not in ("API", "")]
        assert same == []
        watched.open(f"{site}/", ())  # no ?lang: the cookie remembers
        assert watched.page.locator("html").get_attribute("lang") == "ja"
    finally:
        watched.close()


def test_tables_without_javascript(browser, site):
    watched = Watched(browser, java_script_enabled=False)
    try:
        for name, (url, _) in SAMPLE_PAGES.items():
            watched.open(site + url)
            if name != "search":
                assert watched.page.locator("table tbody tr").count() > 0, name
        watched.open(f"{site}/regions/S1C1")
        assert watched.page.locator("#cluster-table tbody tr").count() >= 10
    finally:
        watched.close()


def test_screenshots_of_every_page(browser, site):
    folder = os.environ.get("CLUSTERATLAS_WEB_SCREENSHOTS")
    if not folder:
        pytest.skip("set CLUSTERATLAS_WEB_SCREENSHOTS=docs/img/web to write them")
    Path(folder).mkdir(parents=True, exist_ok=True)
    watched = Watched(browser)
    try:
        for lang in ("en", "ja"):
            for name, (url, charts) in SAMPLE_PAGES.items():
                watched.open(f"{site}{url}{'&' if '?' in url else '?'}lang={lang}", charts)
                out = Path(folder) / f"{name}-{lang}.png"
                watched.page.screenshot(path=str(out), full_page=True)
                assert out.stat().st_size > 10_000
    finally:
        watched.close()


# ---------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def cbp_site(cbp2019_built, tmp_path_factory):
    """An atlas of CBP 2019 metros (CBSAs) with the US Cluster Mapping Project's metro shapes."""
    folder = tmp_path_factory.mktemp("cbp-web")
    path = copy_atlas(cbp2019_built, folder)
    with Atlas(path) as atlas:
        level = atlas.con.execute("SELECT any_value(level) FROM results_regions").fetchall()[0][0]
        import_geometry(atlas.con, shared_file("geo/cmp_counties_eas_msas.topojson.json"), level=level,
                        file_format="topojson", layer="msas")
        con = atlas.con
        facts = {
            "level": level,
            "mapped": {r[0] for r in con.execute("SELECT DISTINCT region FROM results_regions").fetchall()},
            "shapes": {r[0] for r in con.execute("SELECT region FROM geometries").fetchall()},
            "cluster": con.execute("SELECT cluster FROM results_clusters WHERE region = '41940' AND type = 'traded' "
                                   "ORDER BY employment DESC LIMIT 1").fetchall()[0][0],
            "bubbles": con.execute("SELECT count(*) FROM results_clusters WHERE region = '41940' AND employment > 0 "
                                   "AND lq > 0 AND year = (SELECT max(year) FROM results_clusters)").fetchall()[0][0],
        }
    with live_server(path) as base:
        yield base, facts


@pytest.mark.realdata
def test_real_us_metro_atlas_pages(browser, cbp_site):
    base, facts = cbp_site
    level, mapped, shapes, cluster, bubbles = (facts[k] for k in ("level", "mapped", "shapes", "cluster", "bubbles"))
    # CMP's 942 MSA shapes use an older delineation than CBP 2019's CBSAs: the page names the ones without a shape
    assert 0 < len(mapped - shapes) < 0.1 * len(mapped)
    watched = Watched(browser)
    try:
        watched.open(f"{base}/regions/41940", ("bubble", "locator"))
        assert watched.page.evaluate("CA.bubbles") == bubbles
        watched.open(f"{base}/clusters/{cluster}?level={level}", ("map",))
        assert watched.page.evaluate("CA.mapInfo.features") == len(shapes) == 942
        from urllib.parse import quote

        import httpx

        answer = httpx.get(f"{base}{API}/clusters/{quote(cluster)}/map?level={level}").json()
        layer = {r["region"] for r in answer["data"]}
        assert watched.page.evaluate("CA.mapInfo.missing") == len(layer - shapes) > 0
        assert f": {len(layer - shapes)} (" in watched.page.locator("#map-note").inner_text()
        watched.open(f"{base}/compare?peers=41940", ("m-41940",))
        assert watched.page.locator("#heat thead th").count() == 11
        watched.open(f"{base}/?lang=ja", ("home-map",))  # the home map of the metros (waited for: not cut off)
        watched.open(f"{base}/search?q=41940", ())  # the CBP file has codes only (no names)
        assert watched.page.locator("a[href='/regions/41940']").count() == 1
        assert watched.errors == []
    finally:
        watched.close()


def test_page_errors_are_html_pages_and_api_errors_stay_problem_documents(client):
    r = client.get("/regions/S1C9?lang=en")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "S1C9" in r.text and "Did you mean" in r.text
    r = client.get("/clusters/C01?level=nowhere&lang=en")
    assert r.status_code == 422 and "nowhere" in r.text and "county" in r.text
    r = client.get(f"{API}/regions/S1C9")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert client.get("/clusters/C01?level=state&classes=hotspots&lang=en").status_code == 200  # no run: a note


def test_geometry_route_serves_each_level_with_etag(client):
    assert client.get(f"{API}/geometry").json()["data"] == {"levels": ["county", "prefecture", "state"]}
    r = client.get(f"{API}/geometry/county")
    doc = r.json()["data"]
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 36
    s1c1 = next(f for f in doc["features"] if f["id"] == "S1C1")
    assert s1c1["properties"]["label"] == "North County 1" and s1c1["geometry"]["type"] == "Polygon"
    assert client.get(f"{API}/geometry/county", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    missing = client.get(f"{API}/geometry/nowhere")
    assert missing.status_code == 404 and "import geometry" in missing.text


def test_compare_heat_table_classes_follow_the_lq_breaks(client):
    page = client.get("/compare?regions=S1C1,S2C1&metric=lq&lang=en").text
    rows = client.get(f"{API}/compare?regions=S1C1,S2C1&metric=lq").json()["data"]
    for row in rows:
        expected = "h2" if row["lq"] >= 2 else "h1" if row["lq"] >= 1 else "h0"
        value = f"{row['lq']:,.2f}"
        assert re.search(rf'<td class="n {expected}" data-v="[^"]*">{re.escape(value)}', page), (row["cluster"], value)


def test_editor_uploads_an_assessment_form_from_the_page(browser, web_atlas, tmp_path):
    import shutil

    from clusteratlas.reference.programmes import nistep_profiles_path
    from clusteratlas.server.auth import create_token

    path = tmp_path / "writable.duckdb"
    shutil.copy(web_atlas, path)
    with Atlas(path) as atlas:
        _, token = create_token(atlas.con, "editor", name="web test")
    form = Path(nistep_profiles_path())
    with live_server(path, read_only=False) as base:
        watched = Watched(browser)
        try:
            watched.open(f"{base}/evaluations?lang=en")
            watched.page.fill("#token", "wrong")
            watched.page.set_input_files("#form-file", str(form))
            watched.page.click("#upload button")
            wait_for(watched.page, "document.getElementById('upload-result').textContent.length > 0")
            assert watched.page.inner_text("#upload-result").startswith("401")
            watched.errors.clear()  # the 401 was the point
            watched.page.fill("#token", token)
            watched.page.evaluate("document.getElementById('upload-result').textContent = ''")
            watched.page.click("#upload button")
            wait_for(watched.page, "document.getElementById('upload-result').textContent.length > 0")
            assert watched.page.inner_text("#upload-result").startswith("201"), watched.page.inner_text(
                "#upload-result")
            assert watched.errors == []
        finally:
            watched.close()


def test_japan_prefecture_shapes_from_japanmap(tmp_path, runner):
    pytest.importorskip("japanmap")
    path = tmp_path / "jp.duckdb"
    invoke(runner, "init", "--atlas", str(path))
    result = invoke(runner, "import", "geometry", "japanmap", "--format", "japanmap", "--level", "prefecture",
                    "--atlas", str(path))
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(path), read_only=True)
    rows = dict(con.execute("SELECT region, geojson FROM geometries WHERE level = 'prefecture'").fetchall())
    con.close()
    assert len(rows) == 47 and "13000" in rows and "47000" in rows
    import json

    import shapely

    tokyo = shapely.geometry.shape(json.loads(rows["13000"]))
    assert tokyo.is_valid and 138.9 < tokyo.centroid.x < 140.0 and 35.4 < tokyo.centroid.y < 36.0


def test_evaluations_page_shows_group_averages_beside_nistep_published_table(browser, web_atlas, tmp_path):
    """Issue 11.5: the page's averages come from the query layer, grouped by formation base, published beside."""
    import csv
    import shutil

    from clusteratlas import queries as Q
    from clusteratlas.evaluate.frameworks import builtin_frameworks
    from clusteratlas.reference.programmes import nistep_profiles_path

    path = tmp_path / "tagged.duckdb"
    shutil.copy(web_atlas, path)
    with open(nistep_profiles_path(), encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    form = tmp_path / "tagged.csv"
    with open(form, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, [*rows[0], "tag:formation_base"])
        writer.writeheader()
        writer.writerows({**r, "assessment": r["assessment"] + "-kb", "tag:formation_base": "knowledge"}
                         for r in rows)
    with Atlas(path) as atlas:
        atlas.import_assessments(form)
        expected = Q.group_averages(atlas.con, "nistep-jp-15", by="formation_base")
    mine = [r for r in expected.rows() if r["group"] == "knowledge" and r["assessments"] and r["published"]]
    assert mine, "the tagged assessments match NISTEP's 'knowledge' group"
    with live_server(path) as base:
        watched = Watched(browser)
        try:
            watched.open(f"{base}/evaluations?lang=en")
            table = watched.page.locator("#averages-nistep-jp-15")
            assert "published table" in table.locator("caption").inner_text()
            heads = [h.strip() for h in table.locator("thead th").all_inner_texts()]
            # the group and the column by name (issue 22: "knowledge · formation" was English on Japanese pages)
            group = "Knowledge agglomeration"
            column = {c.id: c.name for c in builtin_frameworks()["nistep-jp-15"].columns}[mine[0]["column"]]
            own = heads.index(f"{group} · {column} (n={mine[0]['assessments']})")
            assert heads[own + 1] == f"published {group}"
            number = mine[0]["number"]
            row = next(r for r in table.locator("tbody tr").all() if r.locator("td").first.inner_text()
                       .startswith(f"{number} "))
            cells = row.locator("td").all_inner_texts()
            assert float(cells[own]) == pytest.approx(mine[0]["mean"], abs=0.05)
            assert float(cells[own + 1]) == pytest.approx(mine[0]["published"], abs=0.05)
            assert watched.errors == []
        finally:
            watched.close()
