"""Issue 22, the newcomer's list (items 3 to 6): the demo shows every part of the observatory and leaves nothing
behind, the CLI finds regions and clusters by name, what is shown is explained, and the smaller fixes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from clusteratlas.api import build_demo_atlas
from clusteratlas.server import Settings, create_app
from tests.conftest import invoke, query_atlas
from tests.test_web import browser  # noqa: F401  (the Chromium fixture)

API = "/api/v1"


@pytest.fixture(autouse=True)
def english_again():
    """A command run with --lang ja sets the process's language: back to English after each test."""
    yield
    from clusteratlas import i18n

    i18n.set_language("en")


@pytest.fixture(scope="module")
def demo_atlas(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    steps: dict[str, int] = {}
    build_demo_atlas(path, on_step=steps.__setitem__)
    assert all(n > 0 for n in steps.values()), steps
    return path


@pytest.fixture(scope="module")
def cli_atlas(demo_atlas, tmp_path_factory) -> Path:
    """A copy of the demo atlas for the command line (the pages' server holds the first one open)."""
    import shutil

    return Path(shutil.copyfile(demo_atlas, tmp_path_factory.mktemp("cli") / "demo.duckdb"))


@pytest.fixture(scope="module")
def demo_client(demo_atlas):
    with TestClient(create_app(Settings(atlas=str(demo_atlas), read_only=True, warm=False))) as c:
        yield c


# ------------------------------------------------------------------ item 4: the demo
def test_demo_leaves_nothing_in_the_temporary_folder(tmp_path):
    """The demo, run as a user runs it, in a process of its own whose temporary folder is watched (it left a
    9.3 MB folder there per run)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "COLUMNS": "100"}
    env.pop("CLUSTERATLAS_TEMP_DIR", None)
    done = subprocess.run([sys.executable, "-c", "from clusteratlas.cli import run; run()", "demo"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "Automotive" in done.stdout and "Spin-off tree" in done.stdout
    assert list(tmp.iterdir()) == []


def test_demo_atlas_has_every_part_of_the_observatory(demo_atlas):
    counts = {table: query_atlas(demo_atlas, f"SELECT count(*) FROM {table}")[0][0] for table in (
        "results_clusters", "relate_cells", "relate_pairs", "shift_share", "hotspots", "indicators",
        "assessments", "geometries", "actors", "actor_ties", "network_metrics")}
    assert all(counts.values()), counts
    assert query_atlas(demo_atlas, "SELECT count(*) FROM hotspots WHERE significant AND quadrant = 1")[0][0] > 0
    assert query_atlas(demo_atlas, "SELECT level, count(eci) FROM relate_regions GROUP BY ALL ORDER BY 1") == [
        ("county", 36), ("state", 6)]
    # industries are real NAICS codes of the clusters that hold them, named in both languages
    named = dict(query_atlas(demo_atlas, "SELECT i.industry, i.name_ja FROM industries i JOIN definitions d "
                                         "USING (industry) WHERE d.cluster = 'C01'"))
    assert named["336111"] == "自動車製造業" and all(code.startswith(("3361", "3362", "3363", "3315"))
                                                 for code in named)


def _routes(client) -> list[str]:
    """Every GET route of the API (from its OpenAPI document), its path parameters filled with demo values."""
    values = {"{region}": "S2C3", "{cluster}": "C09", "{of}": "regions", "{indicator}": "patents",
              "{framework}": "nistep-jp-15", "{assessment}": "demo-east-bio", "{level}": "county"}
    spec = client.get("/api/openapi.json").json()
    urls = []
    for path, ops in spec["paths"].items():
        if "get" not in ops or path in (f"{API}/tokens", f"{API}/writes"):  # admin only; writes made over HTTP
            continue
        for key, value in values.items():
            path = path.replace(key, value)
        urls.append(path + ("?regions=S1C1,S2C3" if path.endswith("/compare") else ""))
    return urls


def test_every_api_route_shows_something_on_the_demo(demo_client):
    urls = _routes(demo_client)
    assert len(urls) > 25
    empty = []
    for url in urls:
        r = demo_client.get(url)
        assert r.status_code == 200, (url, r.text[:300])
        body = r.json()
        data = body.get("data", body) if isinstance(body, dict) else body
        if not data:
            empty.append(url)
    assert not empty, empty


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_page_shows_something_on_the_demo(demo_client, lang):
    from clusteratlas.server.web import translate

    missing = [translate(lang, m) for m in (
        "No assessments yet.", "No relatedness results yet (run 'clusteratlas relate').",
        "No relatedness results for this level yet (run 'clusteratlas relate').",
        "No hot-spot results yet (run 'clusteratlas hotspots').", "No indicators for this region.",
        "No map for this level (import one with 'clusteratlas import geometry').")]
    pages = ["/", "/search?q=county", "/regions/S2C3", "/regions/S1",
             "/clusters/C09?classes=hotspots&level=county", "/clusters/C02", "/compare?regions=S1C1,S2C3,S3C2",
             "/evaluations"]
    for page in pages:
        r = demo_client.get(page + ("&" if "?" in page else "?") + f"lang={lang}")
        assert r.status_code == 200, (page, r.text[:300])
        said = [m for m in missing if m in r.text]
        assert not said, (page, said)
    # assessed regions show their assessments; the custom region (alone at its level: no relatedness, no shape)
    # is the demo's cluster programme
    for region, assessment in (("S2C3", "demo-east-bio"), ("CORRIDOR", "demo-corridor-programme")):
        page = demo_client.get(f"/regions/{region}?lang={lang}").text
        assert assessment in page and translate(lang, "No assessment of this region's clusters.") not in page


# ------------------------------------------------------------------ item 3: names on the command line
@pytest.mark.parametrize(("kind", "typed", "code", "how"), [
    ("region", "東第3郡", "S2C3", "its name"), ("region", "ＥＡＳＴ county 3", "S2C3", "its name"),
    ("region", "corridor", "CORRIDOR", "its name"), ("region", "S2C3", "S2C3", None),
    ("cluster", "Automotive", "C01", "its name"), ("cluster", "あぱれる", "C05", "its name"),
    ("cluster", "ｱﾊﾟﾚﾙ", "C05", "its name"), ("cluster", "biopharm", "C02", "the only name that contains it")])
def test_show_finds_regions_and_clusters_by_name_in_either_language(runner, cli_atlas, kind, typed, code, how):
    res = invoke(runner, "show", kind, typed, "--atlas", cli_atlas)
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    if how is None:
        assert "found by" not in text
    else:
        assert f"'{typed}' is" in text and f"({code}), found by {how}" in text, text
    assert f"({code})" in text.split("found by")[-1]  # and the table is that one's


def test_several_matches_are_listed_and_none_is_a_clear_error(runner, cli_atlas):
    res = invoke(runner, "show", "region", "county 3", "--atlas", cli_atlas)
    message = " ".join(res.stderr.split())
    assert res.exit_code == 2 and "several regions match" in message
    assert all(f"S{s}C3" in message for s in range(1, 7)) and "Give the code, or more of the name" in message
    res = invoke(runner, "--lang", "ja", "show", "cluster", "造船", "--atlas", cli_atlas)
    message = " ".join(res.stderr.split())
    assert res.exit_code == 2 and "C01" in message and "unknown cluster" not in message, message


def test_the_command_line_and_the_search_box_share_one_forgiving_match():
    from clusteratlas.queries import lookup
    from clusteratlas.server import web

    assert web.search is lookup.search and web.search_variants is lookup.search_variants
    assert lookup.fold("ｱﾊﾟﾚﾙ") == lookup.fold("あぱれる") == lookup.fold("アパレル")
    assert lookup.fold("ＡＰＰＡＲＥＬ") == lookup.fold("apparel")


# ------------------------------------------------------------------ item 5: what is shown, explained
@pytest.mark.parametrize(("lang", "words"), [
    ("en", ["★ stars of the European Cluster Observatory", "LQ (location quotient)", "US rating", "est. 14%",
            "LQ reference economy: the observed regions that no other observed region contains"]),
    ("ja", ["★ 欧州クラスター・オブザーバトリーのスター", "LQ（特化係数）", "米国基準", "推計 14%",
            "特化係数の基準経済: 他の観測地域に含まれない観測地域"])])
def test_cli_tables_say_what_their_symbols_mean(runner, cli_atlas, lang, words):
    for kind, code in (("region", "S2C3"), ("cluster", "C01")):
        res = invoke(runner, "--lang", lang, "show", kind, code, "--atlas", cli_atlas)
        text = "".join(res.output.split())
        assert res.exit_code == 0 and all("".join(w.split()) in text for w in words), (kind, res.output)


def test_every_command_that_prints_a_table_has_wide():
    """A table too wide for the terminal says 'use --wide to show all': every command that prints one takes it
    (the README's 'assess report' did not)."""
    import inspect
    import re

    import typer

    from clusteratlas.cli import app

    builders = re.compile(r"\b(plain_table|region_table|cluster_table|unmapped_table|relate_tables|related_table|"
                          r"shift_share_table|hotspot_table|validation_table|comparison_table|averages_table|"
                          r"gap_table|carry_report|coordinator_table|FitTable|_fit)\(")

    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, [*path, name])

    lacking = [" ".join(path) for path, cmd in walk(typer.main.get_command(app), [])
               if cmd.callback and builders.search(inspect.getsource(cmd.callback))
               and "wide" not in {p.name for p in cmd.params}]
    assert not lacking, lacking


def test_assess_report_wide_and_groups_without_assessments(runner, tmp_path):
    """Only enterprise-based assessments: NISTEP's knowledge-based group has n = 0, and the report says why."""
    import csv
    from importlib import resources

    demo = resources.files("clusteratlas").joinpath("data", "sample_assessments.csv")
    rows = list(csv.DictReader(demo.read_text(encoding="utf-8").splitlines()))
    form = tmp_path / "form.csv"
    with open(form, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r["tag:formation_base"] == "enterprise")
    atlas = tmp_path / "a.duckdb"
    assert invoke(runner, "init", "--atlas", atlas).exit_code == 0
    assert invoke(runner, "assess", "import", form, "--atlas", atlas).exit_code == 0
    res = invoke(runner, "assess", "report", "--by", "formation_base", "--reference", "--wide", "--atlas", atlas)
    text = " ".join(res.output.split())
    assert res.exit_code == 0 and "(n=0)" in text and "n = 0: none of this atlas's assessments is in the group" \
        in text and "hidden" not in text, res.output
    with TestClient(create_app(Settings(atlas=str(atlas), read_only=True, warm=False))) as client:
        for lang in ("en", "ja"):
            page = client.get(f"/evaluations?lang={lang}").text
            from clusteratlas.server.web import translate

            assert "(n=0)" in page and translate(lang, "n = 0: none of this atlas's assessments is in this group; "
                                                       "only NISTEP's published figure is shown beside it.") in page


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_page_has_a_legend(demo_client, lang):
    from clusteratlas.server.web import translate

    for page in ("/", "/search?q=county", "/regions/S2C3", "/clusters/C01", "/compare?regions=S1C1,S2C3",
                 "/evaluations", "/regions/NOWHERE"):
        text = demo_client.get(page + ("&" if "?" in page else "?") + f"lang={lang}").text
        assert 'id="legend"' in text and translate(lang, "What the figures mean") in text, page
    for page in ("/regions/S2C3", "/clusters/C01"):  # and the tables' headers explain themselves on hover
        text = demo_client.get(f"{page}?lang={lang}").text
        assert translate(lang, "Location quotient against the reference economy (see What the figures mean)") in text


# ------------------------------------------------------------------ item 6: the smaller ones
def test_report_radar_labels_name_the_factors_inside_the_picture():
    """The radar of the HTML report names each factor (it showed bare numbers) and every label fits its picture:
    text anchored away from the radar, estimated at 0.6 em a Latin cell, 1 em a Japanese character."""
    import re

    from rich.cells import cell_len

    from clusteratlas.evaluate.assessments import read_assessments
    from clusteratlas.evaluate.frameworks import builtin_frameworks
    from clusteratlas.evaluate.html import radar_svg
    from clusteratlas.reference.programmes import nistep_profiles_path

    fw = builtin_frameworks()["nistep-jp-15"]
    svg = radar_svg(fw, read_assessments(nistep_profiles_path(), lambda *a: fw)[0])
    width, height = (float(v) for v in re.search(r'viewBox="0 0 (\S+) (\S+)"', svg).groups())
    labels = re.findall(r'<text font-size="(\d+)" text-anchor="(\w+)"[^>]*>.*?</title>(.*?)</text>', svg)
    assert len(labels) == 15 and "知的集積" in svg
    for size, anchor, spans in labels:
        for x, y, line in re.findall(r'<tspan x="([\d.]+)" y="([\d.]+)">(.*?)</tspan>', spans):
            extent = cell_len(line) * float(size) * 0.55
            left = {"start": float(x), "end": float(x) - extent, "middle": float(x) - extent / 2}[anchor]
            assert left >= 0 and left + extent <= width and 0 <= float(y) <= height, (line, x, y)


def test_a_bad_page_parameter_gives_the_browser_a_page_not_json(demo_client):
    r = demo_client.get("/search", params={"q": "x" * 300, "lang": "ja"})
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "200 文字以内" in r.text and "<html" in r.text
    api = demo_client.get("/api/v1/regions", params={"q": "x" * 300})  # the API keeps its problem document
    assert api.status_code == 422 and api.headers["content-type"].startswith("application/problem+json")


def test_csv_with_a_byte_order_mark_for_excel(demo_client):
    plain = demo_client.get("/api/v1/clusters?format=csv").content
    marked = demo_client.get("/api/v1/clusters?format=csv&bom=true").content
    assert not plain.startswith(b"\xef\xbb\xbf") and marked == b"\xef\xbb\xbf" + plain
    assert marked.decode("utf-8-sig").splitlines()[0].startswith('"cluster",')
    assert demo_client.get("/api/v1/clusters?format=csv&bom=perhaps").status_code == 422
    page = demo_client.get("/regions/S2C3?lang=ja").text
    import re

    links = re.findall(r'class="download" href="([^"]+)"', page)
    assert any("format=csv" in h and "bom=true" in h for h in links) and not any(
        "format=xlsx" in h and "bom" in h for h in links)


def test_jp_programmes_summarises_coverage_and_lists_it_with_verbose(runner, tmp_path):
    obs = tmp_path / "obs.csv"
    obs.write_text("region,industry,year,employment\n23000,A,2014,10\n13000,A,2014,20\n", encoding="utf-8")
    atlas = tmp_path / "a.duckdb"
    assert invoke(runner, "init", "--atlas", atlas).exit_code == 0
    assert invoke(runner, "import", "observations", obs, "--atlas", atlas).exit_code == 0
    short = invoke(runner, "reference", "jp-programmes", "--atlas", atlas)
    assert short.exit_code == 0 and "--verbose lists them" in " ".join(short.output.split())
    assert len(short.output.splitlines()) <= 8, short.output
    full = invoke(runner, "reference", "jp-programmes", "--verbose", "--atlas", atlas)
    assert full.exit_code == 0 and full.output.count("coverage:") > 50  # one line each (125 on the census extract)


@pytest.mark.parametrize(("written", "year"), [("令和6年", 2024), ("R7", 2025), ("平成31年", 2019),
                                               ("令和元年度", 2019)])
def test_era_years_that_exist_are_read(written, year):
    from clusteratlas.dates import parse_year

    assert parse_year(written) == year


@pytest.mark.parametrize("written", ["令和99年", "R99", "令和99年度", "令和99年4月1日", "平成40年"])
def test_era_years_beyond_the_era_or_years_ahead_are_refused(written, runner, cli_atlas):
    import datetime as dt

    from clusteratlas.dates import parse_year

    with pytest.raises(ValueError, match=r"ended|years ahead"):
        parse_year(written)
    res = invoke(runner, "show", "region", "S2C3", "--year", written, "--atlas", cli_atlas)
    assert res.exit_code == 2 and ("years ahead" in res.output or "ended" in res.output)
    assert dt.date.today().year < 2117  # 令和99年 is 2117: the test holds until then


def test_the_japanese_readme_installs_from_the_clone():
    readme = (Path(__file__).resolve().parent.parent / "docs" / "ja" / "README.md").read_text(encoding="utf-8")
    assert "pip install clusteratlas" not in readme  # not published on PyPI
    assert "git clone" in readme and "pip install ." in readme


def test_duckdb_draws_no_progress_bar_into_a_log():
    """Every connection goes through clusteratlas._sql, which lets DuckDB print its own bar only to a terminal
    (the tests' output is not one)."""
    import clusteratlas
    from clusteratlas._sql import connect, plain_connect

    for con in (connect(), plain_connect()):
        assert con.execute("SELECT current_setting('enable_progress_bar_print')").fetchall() == [(False,)]
    source = Path(clusteratlas.__file__).parent
    direct = [str(p.relative_to(source)) for p in source.rglob("*.py")
              if "duckdb.connect(" in p.read_text(encoding="utf-8") and p.name != "_sql.py"]
    assert not direct, direct


#: Every text ECharts drew in the radars of the evaluations page, with its box in the chart's pixels.
RADAR_TEXTS = """() => {
  const out = [];
  document.querySelectorAll('#radars .chart').forEach(div => {
    const chart = echarts.getInstanceByDom(div);
    chart.getZr().storage.getDisplayList().forEach(el => {
      if (!el.style || typeof el.style.text !== 'string' || !el.style.text) return;
      const r = el.getBoundingRect().clone();
      if (el.transform) r.applyTransform(el.transform);
      out.push({text: el.style.text, left: r.x, right: r.x + r.width, width: chart.getWidth()});
    });
  });
  return out;
}"""


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_page_radar_names_stay_inside_their_chart(browser, demo_atlas, lang):  # noqa: F811 (the fixture)
    """The success-factor radars of the evaluations page: every factor's name is drawn inside its chart (long
    Japanese names ran off the right edge: 世界市場アクセスを目指した大企業との連携)."""
    from tests.test_web import live_server

    with live_server(demo_atlas) as site:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{site}/evaluations?lang={lang}")
        page.wait_for_function("window.CA && CA.radars === 3")
        texts = page.evaluate(RADAR_TEXTS)
        page.close()
    assert len(texts) > 45
    outside = [t["text"] for t in texts if t["left"] < 0 or t["right"] > t["width"] + 0.5]
    assert not outside, outside
