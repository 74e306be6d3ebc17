"""The static edition (``clusteratlas publish``): a folder that a plain static server serves, with every link
resolving, every map and chart drawn, no request leaving the folder, a search without a server, and
incremental re-publishing (only changed files written, vanished pages removed)."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from clusteratlas.publish import MANIFEST, Scope, _address, file_for, publish, safe
from tests.conftest import cbp2019_inputs, invoke, shared_file
from tests.test_web import CHROMIUM, Watched, browser, wait_for  # noqa: F401  (browser: the Chromium fixture)


# ------------------------------------------------------------------ helpers
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("href", "src", "action") and value:
                self.links.append(value)


def links_of(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.links


def broken_links(folder: Path) -> list[str]:
    """Every link of every published page that names no file of the folder (or leaves it)."""
    broken = []
    for page in folder.rglob("*.html"):
        for href in links_of(page):
            parts = urlsplit(href)
            if parts.scheme == "data":
                continue
            if parts.scheme or parts.netloc or href.startswith("/"):
                broken.append(f"{page.relative_to(folder)}: {href} (not relative)")
                continue
            if not parts.path:
                continue  # a fragment of the page itself
            target = (page.parent / unquote(parts.path)).resolve()
            if not target.is_file() or folder.resolve() not in target.parents:
                broken.append(f"{page.relative_to(folder)}: {href}")
    return broken


def digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def static_server(tmp_path_factory):
    """``python -m http.server`` on 127.0.0.1 serving a folder; editions are put in sub-folders (a sub-path)."""
    root = tmp_path_factory.mktemp("static")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.time() < deadline, "http.server did not start"
            time.sleep(0.1)
    yield root, base
    proc.terminate()
    proc.wait(10)




BLANK = """() => Array.from(document.querySelectorAll('.chart')).filter(div => {
  const c = div.querySelector('canvas');
  if (!c || !c.width || !c.height) return true;
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return false;
  return true;
}).map(div => div.id)"""


def visit(browser, base: str, url: str) -> Watched:  # noqa: F811
    """Open a published page; wait until every chart of it says it is drawn; fail on errors or on a request
    that leaves the edition's folder."""
    w = Watched(browser)
    requests: list[str] = []
    w.page.on("request", lambda r: requests.append(r.url))
    w.page.goto(url)
    charts = w.page.evaluate("() => Array.from(document.querySelectorAll('.chart')).map(d => d.id)")
    for chart in charts:
        wait_for(w.page, f"window.CA && CA.ready[{chart!r}] === true")
    assert w.page.evaluate(BLANK) == [], url
    assert w.errors == [], (url, w.errors)
    outside = [r for r in requests if not r.startswith(base) and not r.startswith("data:")]
    assert outside == [], (url, outside)
    w.charts = charts
    return w


# ------------------------------------------------------------------ addresses
def test_file_names_are_plain_and_match_app_js(browser, tmp_path):  # noqa: F811
    assert file_for("/regions/06085", {"level": "cbsa", "lang": "ja"}, "ja") == "ja/regions/06085~level=cbsa.html"
    assert file_for("/", {}, "en") == "en/index.html"
    assert file_for("/api/v1/regions/06085/clusters", {"format": "csv", "bom": "true"}, "en") == \
        "api/v1/regions/06085/clusters.csv"
    odd = "industrial-cluster-plan:東海 ものづくり_1.x"
    assert safe(odd) == "industrial-cluster-plan_3A_E6_9D_B1_E6_B5_B7_20_E3_82_82_E3_81_AE_E3_81_A5_E3_81_8F_E3_82" \
        "_8A_5F1_2Ex"
    assert safe("a_") == "a_5F" and safe("a_") != safe("a")  # "_" is itself escaped: names stay distinct
    # app.js (static mode) names a page as file_for does: a click on a map opens the published file
    page = tmp_path / "p.html"
    page.write_text('<!doctype html><html lang="ja"><body data-static-root="../../"><script>'
                    + (Path(__file__).parents[1] / "src/clusteratlas/server/web/static/app.js").read_text()
                    + "</script></body></html>", encoding="utf-8")
    w = Watched(browser)
    w.page.add_init_script("window.echarts = {format: {encodeHTML: String}};")
    w.page.goto(page.as_uri())
    got = w.page.evaluate("(id) => CA.to(['regions', id], {level: 'custom'})", odd)
    assert got == "../../" + file_for(f"/regions/{odd}", {"level": "custom"}, "ja")
    assert w.page.evaluate("() => CA.to(['geometry', 'county'], null, true)") == "../../api/v1/geometry/county.json"
    w.close()


def test_which_addresses_are_published():
    scope = Scope(frozenset({"county"}), {"/regions/A": "county", "/regions/B": "custom"})
    assert _address("/regions/A", "en", scope).file == "en/regions/A~level=county.html"  # one file, not two
    assert _address("/regions/A?lang=ja", "en", scope).file == "ja/regions/A~level=county.html"
    assert _address("/regions/B", "en", scope) is None  # its only level is left out (--levels county)
    assert _address("/regions/C?level=state", "en", scope) is None
    assert _address("/clusters/K?level=county&metric=stars", "en", scope) is None  # a variant needing the server
    assert _address("/search?q=x&go=1", "ja", scope).file == "ja/search.html"  # the browser searches
    assert _address("/api/v1/clusters?format=xlsx", "en", scope) is None
    assert _address("/api/v1/clusters?format=csv&bom=true", "en", scope).file == "api/v1/clusters.csv"
    assert _address("https://example.org/", "en", scope) is None
    english = Scope(None, {}, frozenset({"en"}))  # an edition in English only has no Japanese pages
    assert _address("/regions/A?lang=ja", "en", english) is None and _address("/regions/A", "en", english)


# ------------------------------------------------------------------ the demo atlas
@pytest.fixture(scope="module")
def demo_atlas(tmp_path_factory) -> Path:
    from clusteratlas.api import build_demo_atlas

    atlas = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build_demo_atlas(atlas, permutations=99)
    return atlas


@pytest.fixture(scope="module")
def demo_edition(demo_atlas, static_server):
    atlas = demo_atlas
    root, base = static_server
    folder = root / "sub" / "demo"  # served from a sub-path of the host
    started = time.perf_counter()
    edition = publish(atlas, folder)
    print(f"demo atlas: {edition.pages} pages, {edition.files} files, {edition.size / 1e6:.1f} MB, "
          f"{time.perf_counter() - started:.0f} s")
    return atlas, folder, f"{base}/sub/demo", edition


def test_demo_edition_links_and_drawings(demo_edition, browser):  # noqa: F811
    _atlas, folder, base, edition = demo_edition
    assert edition.skipped == [] and edition.pages > 100
    assert broken_links(folder) == []
    for lang in ("en", "ja"):  # every region and cluster at every level, each region with its peers
        for name in ("regions/S1C1~level=county.html", "regions/S1~level=state.html",
                     "clusters/C01~level=county.html", "clusters/C01~level=state.html", "compare~peers=S1C1.html",
                     "evaluations.html", "index.html"):
            assert (folder / lang / name).is_file(), (lang, name)
    assert (folder / "api/v1/geometry/county.json").is_file()
    assert (folder / "static/echarts/echarts.min.js").is_file()
    sitemap = (folder / "sitemap.xml").read_text()
    assert "<loc>en/regions/S1C1~level=county.html</loc>" in sitemap
    drawn = set()
    for lang in ("en", "ja"):
        for name in ("index.html", "regions/S1C1~level=county.html", "clusters/C01~level=county.html",
                     "compare~peers=S1C1.html", "evaluations.html"):
            w = visit(browser, base, f"{base}/{lang}/{name}")
            drawn.update(w.charts)
            w.close()
    assert {"bubble", "series", "locator", "map", "graph", "radar-0", "m-S1C1"} <= drawn
    # the upload form needs the server: a note says so instead
    evaluations = (folder / "en/evaluations.html").read_text()
    assert 'id="upload"' not in evaluations and "static edition is read-only" in evaluations


def test_demo_search_without_server(demo_edition, browser):  # noqa: F811
    _atlas, folder, base, _edition = demo_edition
    index = json.loads((folder / "search-index.json").read_text())
    some = next(e for e in index["entries"] if e["t"] == "region" and e["n"])
    w = visit(browser, base, f"{base}/en/search.html?q={some['n'].upper()}")
    wait_for(w.page, "document.querySelectorAll('ul.results a').length > 0")
    hrefs = w.page.evaluate("() => Array.from(document.querySelectorAll('ul.results a')).map(a => a.href)")
    assert any(h.endswith(some["p"]) for h in hrefs)
    w.page.goto(hrefs[0])
    assert w.page.title()
    w.close()


SUGGESTED = "() => Array.from(document.querySelectorAll('#q-home-list li')).map(li => li.dataset.code)"


def type_in_finder(browser, base: str, url: str, typed: str):  # noqa: F811
    """Open a published home page, type into its finder; the page, its suggestions' codes and every request."""
    w = Watched(browser)
    requests: list[str] = []
    w.page.on("request", lambda r: requests.append(r.url))
    w.page.goto(url)
    w.page.focus("#q-home")
    w.page.fill("#q-home", typed)  # one input event: typed key by key, the list of a shorter prefix may show first
    wait_for(w.page, "document.querySelectorAll('#q-home-list li').length > 0")
    return w, w.page.evaluate(SUGGESTED), requests


def test_static_finder_suggests_as_the_server_does(demo_edition, browser):  # noqa: F811
    """The home page's finder in the static edition suggests from search-index.json what the server's
    /api/v1/suggest suggests (same order, same markup, the ARIA combobox), and opens the published page."""
    import duckdb

    from clusteratlas import queries as Q

    atlas, folder, base, _edition = demo_edition
    con = duckdb.connect(str(atlas), read_only=True)
    try:
        cases = [(lang, typed, [s["code"] for s in Q.suggest(con, typed)])
                 for lang, typed in (("en", "Nor"), ("ja", "あぱれ"), ("ja", "ｱﾊﾟﾚﾙ"), ("en", "c0"), ("ja", "東"))]
    finally:
        con.close()
    assert cases[0][2][0] == "S1" and cases[1][2] == cases[2][2] == ["C05"]  # North; アパレル, by kana and width
    for lang, typed, expected in cases:
        w, got, requests = type_in_finder(browser, base, f"{base}/{lang}/index.html", typed)
        assert got == expected, (lang, typed, got, expected)
        first = w.page.locator("#q-home-list li").first
        assert first.get_attribute("role") == "option" and w.page.get_attribute("#q-home", "aria-expanded") == "true"
        if (lang, typed) in (("en", "Nor"), ("ja", "あぱれ")):
            text = first.text_content()
            assert text == ("North · state (S1)" if lang == "en" else "アパレル · クラスター (C05)"), text
            w.page.keyboard.press("ArrowDown")
            assert w.page.get_attribute("#q-home", "aria-activedescendant") == first.get_attribute("id")
            assert first.get_attribute("aria-selected") == "true"
            with w.page.expect_navigation():
                w.page.keyboard.press("Enter")
            page = "regions/S1~level=state.html" if lang == "en" else "clusters/C05.html"
            index = json.loads((folder / "search-index.json").read_text())
            assert page in {e["p"] for e in index["entries"]}
            assert w.page.url == f"{base}/{lang}/{page}" and (folder / lang / page).is_file()
        assert sum(r.endswith("/search-index.json") for r in requests) == 1  # fetched once
        assert [r for r in requests if not r.startswith(base)] == []
        assert w.errors == [], w.errors
        w.close()


def test_republish_unchanged_then_after_a_change(demo_edition, tmp_path):
    atlas, folder, _base, _edition = demo_edition
    copy = tmp_path / "edition"
    shutil.copytree(folder, copy)
    again = publish(atlas, copy)  # a copy keeps the files' times: the edition is up to date
    assert again.current and (again.written, again.removed) == (0, 0) and again.unchanged == again.files
    # a re-map, published without the custom level: exactly the files whose content changed are written (not
    # the vendored files), and the files of pages that are no longer published are removed, no others
    remapped = tmp_path / "remapped.duckdb"
    shutil.copy(atlas, remapped)
    from clusteratlas.store import Atlas

    with Atlas(remapped) as a:
        a.map(levels=["state", "custom"])
    before = digests(copy)
    after_edition = publish(remapped, copy, levels=["county", "state"])
    after = digests(copy)
    changed = {f for f in after if before.get(f) != after[f]}
    assert after_edition.written == len(changed) > 0
    assert not any(f.startswith("static/") for f in changed)
    gone = set(before) - set(after)
    assert after_edition.removed == len(gone) > 0
    assert all("custom" in f or "CORRIDOR" in f for f in gone), sorted(gone)[:5]
    assert broken_links(copy) == []


def test_republish_of_an_unchanged_atlas_does_nothing(demo_atlas, tmp_path, runner):
    """The manifest records the atlas version (the server's X-Atlas-Version) and the options; with both as they
    were and every file as written, publish returns at once. A changed option, an edited or a deleted file, or
    --force render again, and only the files whose content differs are written."""
    from fastapi.testclient import TestClient

    from clusteratlas.server import Settings, create_app

    atlas = tmp_path / "demo.duckdb"
    shutil.copy(demo_atlas, atlas)
    folder = tmp_path / "ed"
    small = {"langs": ["en"], "levels": ["state"]}  # a small edition: each render here takes seconds
    first = publish(atlas, folder, **small)
    assert not first.current and first.written == first.files > 50 and first.removed == 0
    manifest = json.loads((folder / MANIFEST).read_text())
    with TestClient(create_app(Settings(atlas=str(atlas), read_only=True))) as client:
        assert manifest["source"]["atlas"] == client.get("/api/v1/overview").headers["X-Atlas-Version"]
    assert (manifest["source"]["langs"], manifest["source"]["levels"], manifest["source"]["base_url"]) == (
        ["en"], ["state"], None)
    recorded = manifest["files"]
    assert set(recorded) == set(digests(folder)) and len(recorded) == first.files
    for name in ("sitemap.xml", "en/index.html"):
        size, mtime, sha = recorded[name]
        stat = (folder / name).stat()
        assert (size, mtime, sha) == (stat.st_size, stat.st_mtime_ns, digests(folder)[name])

    started = time.perf_counter()
    again = publish(atlas, folder, **small)
    assert again.current and time.perf_counter() - started < 5
    assert (again.written, again.removed, again.unchanged, again.files, again.pages, again.size) == (
        0, 0, first.files, first.files, first.pages, first.size)
    assert json.loads((folder / MANIFEST).read_text()) == manifest  # nothing touched

    # another option: rendered again, and only the sitemap (absolute URLs now) differs
    based = publish(atlas, folder, **small, base_url="https://example.org/a/")
    assert not based.current and (based.written, based.removed) == (1, 0)
    assert "<loc>https://example.org/a/en/index.html</loc>" in (folder / "sitemap.xml").read_text()

    # a page edited by hand and one deleted: rendered again, and those two written back, no others
    before = digests(folder)
    page, gone = folder / "en/index.html", folder / "en/regions/S1~level=state.html"
    page.write_text(page.read_text() + "<!-- edited -->")
    gone.unlink()
    mended = publish(atlas, folder, **small, base_url="https://example.org/a/")
    assert not mended.current and (mended.written, mended.removed) == (2, 0) and digests(folder) == before

    # --force renders although nothing changed, and writes nothing
    forced = publish(atlas, folder, **small, base_url="https://example.org/a/", force=True)
    assert not forced.current and (forced.written, forced.removed, forced.unchanged) == (0, 0, forced.files)

    # the command line says so, in English and in Japanese
    res = invoke(runner, "publish", folder, "--atlas", atlas, "--lang", "en", "--levels", "state",
                 "--base-url", "https://example.org/a/")
    assert res.exit_code == 0 and "is up to date" in res.output and f"its {first.files:,} files" in res.output
    res = invoke(runner, "--lang", "ja", "publish", folder, "--atlas", atlas, "--lang", "en", "--levels", "state",
                 "--base-url", "https://example.org/a/")
    assert res.exit_code == 0 and "静的版は最新です" in res.output, res.output
    res = invoke(runner, "--lang", "ja", "publish", folder, "--atlas", atlas, "--lang", "en", "--levels", "state",
                 "--force")
    assert res.exit_code == 0 and "書き込み: 1 · 変更なし: " in res.output and "削除: 0" in res.output, res.output


def test_republish_over_an_edition_of_the_first_manifest_format(demo_atlas, tmp_path):
    """An edition written before the manifest recorded its source (a bare list of files) is rendered again;
    the files it listed that are no longer published are removed."""
    atlas = demo_atlas
    folder = tmp_path / "ed"
    first = publish(atlas, folder, langs=["en"], levels=["state"])
    listed = sorted(json.loads((folder / MANIFEST).read_text())["files"])
    (folder / "en/old.html").write_text("a page of an older edition")
    (folder / MANIFEST).write_text(json.dumps({"files": [*listed, "en/old.html"]}))
    again = publish(atlas, folder, langs=["en"], levels=["state"])
    assert not again.current and (again.written, again.removed, again.files) == (0, 1, first.files)
    assert not (folder / "en/old.html").exists()
    assert publish(atlas, folder, langs=["en"], levels=["state"]).current


def test_an_unreadable_manifest_is_as_none(tmp_path):
    """A manifest cut short or edited into another shape: the edition is rendered again (nothing matches it),
    never a crash; one of the first format lists its files only."""
    from clusteratlas.publish import Manifest

    for text in ('{"format": 2, "source": {}', '{"format": 2, "source": {}, "pages": 1, "files": {"a": [1]}}',
                 '[1, 2]', '{"format": 2, "source": [], "pages": "x", "files": {}}'):
        (tmp_path / MANIFEST).write_text(text)
        assert Manifest.read(tmp_path) is None, text
    (tmp_path / MANIFEST).write_text('{"files": ["en/index.html"]}')
    old = Manifest.read(tmp_path)
    assert old is not None and old.source == {} and old.files == {"en/index.html": (-1, -1, "")}


def test_folder_with_other_files_is_refused(demo_edition, tmp_path, runner):
    atlas = demo_edition[0]
    (tmp_path / "mine.txt").write_text("keep me")
    res = invoke(runner, "publish", tmp_path, "--atlas", atlas)
    assert res.exit_code == 2 and "not a static edition" in res.output
    assert (tmp_path / "mine.txt").read_text() == "keep me" and len(list(tmp_path.iterdir())) == 1


def test_lang_of_publish_is_the_pages_languages_and_a_lang_before_it_the_interfaces(monkeypatch):
    """``publish --lang`` chooses the pages' languages; the entry point used to take it for the interface's
    language (so ``--lang en`` published both languages and ``--lang en,ja`` failed as an unknown language)."""
    from clusteratlas.cli._common import interface_language

    monkeypatch.delenv("CLUSTERATLAS_LANG", raising=False)
    monkeypatch.setenv("LANG", "C")
    assert interface_language(["publish", "ed", "--lang", "en,ja"]) == ("en", ["publish", "ed", "--lang", "en,ja"])
    assert interface_language(["--lang", "ja", "publish", "ed", "--lang", "en"]) == (
        "ja", ["publish", "ed", "--lang", "en"])
    assert interface_language(["show", "region", "S1", "--lang", "ja"]) == ("ja", ["show", "region", "S1"])
    assert interface_language(["token", "create", "--lang=ja"]) == ("ja", ["token", "create"])


def test_publish_in_one_language_from_the_command_line(demo_edition, tmp_path):
    """The installed command, as a user runs it: ``--lang en`` writes English pages only."""
    atlas = demo_edition[0]
    command = Path(sys.executable).with_name("clusteratlas")
    done = subprocess.run([str(command), "publish", str(tmp_path / "ed"), "--atlas", str(atlas), "--lang", "en",
                           "--levels", "state"], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ed" / "en" / "index.html").is_file() and not (tmp_path / "ed" / "ja").exists()


# ------------------------------------------------------------------ real atlases
@pytest.mark.realdata
def test_cbp_metro_edition(tmp_path_factory, static_server, browser):  # noqa: F811
    from clusteratlas.store import Atlas

    work = tmp_path_factory.mktemp("cbp")
    obs, definitions = cbp2019_inputs(work)
    atlas = work / "cbp.duckdb"
    with Atlas(atlas, create=True) as a:  # with the metros' names (San Jose-Sunnyvale-Santa Clara, CA)
        a.import_file("regions", shared_file("us/county_cbsa_state_crosswalk.csv"), file_format="us-regions")
        a.import_file("definitions", definitions, name="benchmark")
        a.import_file("observations", obs, name="cbp2019")
        a.map()
        from clusteratlas.store.geometry import import_geometry

        for level in ("metro_area", "micro_area"):  # CMP's 942 metro and micro area shapes
            import_geometry(a.con, shared_file("geo/cmp_counties_eas_msas.topojson.json"), level=level,
                            file_format="topojson", layer="msas")
    root, base = static_server
    folder = root / "cbp"
    started = time.perf_counter()
    # English only (the Japanese pages are the same work again) and the 384 metropolitan areas (the 549 micro
    # areas' pages are the same work again; the demo edition publishes every level)
    edition = publish(atlas, folder, langs=["en"], levels=["metro_area"])
    seconds = time.perf_counter() - started
    print(f"CBP 2019 metros: {edition.pages} pages, {edition.files} files, {edition.size / 1e6:.1f} MB, "
          f"{seconds:.0f} s")
    assert broken_links(folder) == []
    base = f"{base}/cbp"
    w = visit(browser, base, f"{base}/en/search.html?q=san%20jose")
    wait_for(w.page, "document.querySelectorAll('ul.results a').length > 0")
    texts = w.page.evaluate("() => Array.from(document.querySelectorAll('ul.results a')).map(a => a.textContent)")
    assert any("San Jose" in t for t in texts), texts
    w.close()
    san_jose = file_for("/regions/41940", {"level": "metro_area"}, "en")  # en/regions/41940~level=metro_5Farea.html
    assert "San Jose" in (folder / san_jose).read_text()
    for name in (san_jose, "en/compare~peers=41940.html", "en/index.html"):
        visit(browser, base, f"{base}/{name}").close()
    w, got, requests = type_in_finder(browser, base, f"{base}/en/index.html", "San Jose")  # the finder suggests
    assert got[0] == "41940", got
    with w.page.expect_navigation():
        w.page.locator("#q-home-list li").first.click()
    assert w.page.url == f"{base}/{san_jose}" and w.errors == []
    assert [r for r in requests if not r.startswith(base)] == []
    w.close()
    cluster = sorted((folder / "en/clusters").glob(f"*~level={safe('metro_area')}.html"))[0].name
    assert "map" in visit(browser, base, f"{base}/en/clusters/{cluster}").charts


@pytest.mark.realdata
def test_japanese_search_finds_aichi(tmp_path, runner, static_server, browser):  # noqa: F811
    source = shared_file("jp/sfukui_ReagionalIOTables/ExplanatoryVariablesBase.csv")
    atlas = tmp_path / "jp.duckdb"
    for argv in (["init"], ["reference", "jp-prefectures"], ["reference", "jp-benchmark"],
                 ["import", "observations", source, "--format", "jp-census", "--year", "2014"],
                 ["map", "--definition", "jp-benchmark-jsic13"]):
        res = invoke(runner, *argv, "--atlas", atlas)
        assert res.exit_code == 0, (argv, res.output)
    root, base = static_server
    res = invoke(runner, "publish", root / "jp", "--atlas", atlas, "--base-url", "https://example.org/atlas/")
    assert res.exit_code == 0 and "removed: 0" in res.output, res.output
    assert "<loc>https://example.org/atlas/ja/index.html</loc>" in (root / "jp/sitemap.xml").read_text()
    assert broken_links(root / "jp") == []
    base = f"{base}/jp"
    for lang, typed, expected in (("ja", "愛知県", "愛知県"), ("en", "ＡＩＣＨＩ", "Aichi")):  # full width, upper case
        w = visit(browser, base, f"{base}/{lang}/search.html?q={typed}")
        wait_for(w.page, "document.querySelectorAll('ul.results a').length > 0")
        texts = w.page.evaluate("() => Array.from(document.querySelectorAll('ul.results a')).map(a => a.textContent)")
        assert any(expected in t for t in texts), texts
        w.close()
    w, got, requests = type_in_finder(browser, base, f"{base}/ja/index.html", "愛知")  # the finder suggests
    assert got[0] == "23000" and w.errors == [] and [r for r in requests if not r.startswith(base)] == [], got
    w.close()
    aichi = next((root / "jp/ja/regions").glob("23000~*.html")).name
    assert visit(browser, base, f"{base}/ja/regions/{aichi}").charts
