"""A region told in words (issue 22): the story's figures are the queries' figures, in English and Japanese, on the
demo, on the Japanese 2014 census atlas (one year: no growth) and on degenerate input; the same story from
``show region --story``, on the region page, in its JSON twin and in the printable one-page report."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from clusteratlas import i18n
from clusteratlas import queries as Q
from clusteratlas.api import build_demo_atlas
from clusteratlas.queries.story import Figure, footnotes, plain_text, region_story
from clusteratlas.server import Settings, create_app
from clusteratlas.store import Atlas
from tests.conftest import invoke, shared_file

REGION = "S1C1"  # the demo's largest county: an assessment, the corridor programme, a strong cluster


@pytest.fixture(autouse=True)
def _english_after():
    yield
    i18n.set_language("en")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("story") / "demo.duckdb"
    build_demo_atlas(path, permutations=199)
    return path


@pytest.fixture(scope="module")
def con(demo, tmp_path_factory):
    """The demo read directly, from a copy (the served atlas is opened with another configuration)."""
    copy = shutil.copyfile(demo, tmp_path_factory.mktemp("read") / "demo.duckdb")
    c = duckdb.connect(str(copy), read_only=True)
    yield c
    c.close()


def told(con, region: str, lang: str = "en", **kw):
    with i18n.language_for(lang):
        return region_story(con, region, **kw)


def no_placeholder_words(text: str) -> None:
    assert not re.search(r"\b(nan|None|NaN|inf)\b|\{", text), text


# ------------------------------------------------------------------ the demo, hand-checked
def test_demo_story_figures_are_the_queries_figures(con):
    story = told(con, REGION)
    (year,) = con.execute("SELECT max(year) FROM results_regions WHERE level = 'county'").fetchone()
    jobs, first = con.execute("SELECT max(employment) FILTER (WHERE year = ?), max(employment) FILTER "
                              "(WHERE year = 2015) FROM results_regions WHERE region = ? AND level = 'county'",
                              [year, REGION]).fetchone()
    total, n = con.execute("SELECT sum(employment), count(*) FROM results_regions WHERE level = 'county' AND "
                           "year = ?", [year]).fetchone()
    size = story.topic("size")
    # the first sentence, written out by hand from the stored figures
    assert size[0].text == (f"North County 1 had {jobs:,.0f} jobs in {year}, {jobs / total:.1%} of the jobs of the "
                            f"{n} county regions.")
    assert [f.value for f in size[0].figures][1:] == [jobs, pytest.approx(jobs / total)]
    assert size[1].figures[0].value == pytest.approx(jobs / first - 1)  # growth since 2015
    assert ("grew" if jobs > first else "fell") in size[1].text and "2015" in size[1].text

    cells = con.execute("SELECT cluster, employment, lq, strong, stars FROM results_clusters WHERE region = ? AND "
                        "level = 'county' AND year = ? AND employment > 0", [REGION, year]).fetchall()
    largest = sorted(cells, key=lambda c: (-c[1], c[0]))[:3]
    shown = story.topic("largest")[0].figures
    assert [f.value for f in shown] == [x for c in largest for x in (c[0], c[1])]
    special = sorted((c for c in cells if c[2] > 1), key=lambda c: (-c[2], c[0]))[:3]
    assert [f.value for f in story.topic("specialised")[0].figures] == [x for c in special for x in (c[0], c[2])]
    strong = {c[0] for c in cells if c[3] or c[4] >= 3}
    assert strong and {f.value for f in story.topic("strong")[0].figures if isinstance(f.value, str)} == strong

    peers = Q.peer_regions(con, REGION, n=3, level="county").rows()
    assert [f.value for f in story.topic("peers")[0].figures if f.value] == [r["region"] for r in peers]
    density = con.execute("SELECT item, density FROM relate_cells WHERE region = ? AND level = 'county' AND "
                          "breakdown = 'cluster' AND NOT presence AND year = (SELECT max(year) FROM relate_cells "
                          "WHERE level = 'county') ORDER BY density DESC, item LIMIT 3", [REGION]).fetchall()
    assert [f.value for f in story.topic("opportunities")[0].figures] == [x for row in density for x in row]
    assessed = story.topic("assessments")[0]
    assert assessed.figures[0].value == 1 and assessed.figures[1].value == "demo-north-automotive"
    assert "North-East Corridor" in story.topic("programmes")[0].text
    # every number is linked to the API answer it comes from
    numbers = [f for s in story.sentences for f in s.figures if isinstance(f.value, int | float)]
    assert numbers and all(f.href and f.href.startswith("/api/v1/") for f in numbers)
    no_placeholder_words(" ".join(s.text for s in story.sentences))


def test_demo_hot_spots_are_told_where_the_run_found_them(con):
    rows = Q.hotspots(con, level="county", limit=Q.MAX_PAGE).rows()
    hot = {r["region"] for r in rows}
    for region in sorted(hot)[:2]:
        sentence = told(con, region).topic("hotspots")[0]
        assert "centre of a hot spot" in sentence.text
        assert {f.value for f in sentence.figures if isinstance(f.value, float)} == {
            r["p_sim"] for r in rows if r["region"] == region}
    cold = next(r for r in ("S1C1", "S1C2", "S2C1", "S3C1") if r not in hot)
    assert "no hot spot" in told(con, cold).topic("hotspots")[0].text


def test_demo_story_in_japanese_is_japanese(con):
    en, ja = told(con, REGION), told(con, REGION, "ja")
    assert [f.value for s in en.sentences for f in s.figures] == [f.value for s in ja.sentences for f in s.figures]
    text = "".join(s.text for s in ja.sentences)
    (jobs,) = con.execute("SELECT employment FROM results_regions WHERE region = ? AND level = 'county' ORDER BY year "
                          "DESC LIMIT 1", [REGION]).fetchone()
    assert text.startswith(f"北第1郡の2020年の従業者数は{jobs / 10_000:.1f}万人で、36郡全体の")
    assert not re.findall(r"[A-Za-z]{2,}", text), text  # no English word (the demo's names are Japanese too)
    no_placeholder_words(text)


# ------------------------------------------------------------------ one year: Japan 2014
@pytest.fixture(scope="module")
def japan(tmp_path_factory) -> Path:
    source = shared_file("jp/sfukui_ReagionalIOTables/ExplanatoryVariablesBase.csv")
    from typer.testing import CliRunner

    runner = CliRunner(env={"COLUMNS": "160"})
    path = tmp_path_factory.mktemp("japan") / "aichi.duckdb"
    for argv in (["init"], ["reference", "jp-prefectures"], ["reference", "jp-benchmark"],
                 ["import", "observations", str(source), "--format", "jp-census", "--year", "平成26年"],
                 ["map", "--definition", "jp-benchmark-jsic13"], ["reference", "jp-programmes"]):
        res = invoke(runner, *argv, "--atlas", path)
        assert res.exit_code == 0, (argv, res.output)
    i18n.set_language("en")
    return path


@pytest.mark.realdata
def test_one_year_japanese_atlas_says_nothing_of_growth(japan):
    with duckdb.connect(str(japan), read_only=True) as c:
        (jobs,) = c.execute("SELECT employment FROM results_regions WHERE region = '23000'").fetchone()
        story, en = told(c, "23000", "ja"), told(c, "23000")
    text = "".join(s.text for s in story.sentences)
    assert text.startswith(f"愛知県の2014年の従業者数は{jobs / 10_000:.1f}万人で")
    assert story.topic("size")[0].figures[1].value == jobs and len(story.topic("size")) == 1
    assert "年率" not in text and "増えました" not in text and "減りました" not in text
    assert not any(w in " ".join(s.text for s in en.sentences) for w in ("grew", "fell", "a year"))
    assert "自動車" in story.topic("specialised")[0].text
    # no relate run at the prefecture level: said, not a number
    assert story.topic("opportunities")[0].text == ("伸びる可能性のある分野は定義されません。"
                                                     "都道府県単位の関連度の結果がありません。")
    no_placeholder_words(text)


# ------------------------------------------------------------------ degenerate input
@pytest.fixture(scope="module")
def empty_county(tmp_path_factory, sample_files) -> Path:
    """The sample with every job of county S3C3 set to zero, mapped without relatedness."""
    folder = tmp_path_factory.mktemp("zero")
    with open(sample_files["observations"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row["region"] == "S3C3":
            row.update(employment="0", payroll="0", establishments="0")
    with open(folder / "observations.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    path = folder / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        atlas.import_file("regions", sample_files["regions"])
        atlas.import_file("definitions", sample_files["definitions"], name="sample")
        atlas.import_file("observations", folder / "observations.csv", name="sample")
        atlas.map(levels=["state"])
    return path


def test_a_region_without_jobs_or_relatedness_reads_naturally(empty_county):
    with duckdb.connect(str(empty_county), read_only=True) as c:
        for lang, words in (("en", ["has no jobs", "not defined"]),
                            ("ja", ["雇用がアトラスにありません", "定義されません"])):
            story = told(c, "S3C3", lang)
            text = " ".join(s.text for s in story.sentences)
            assert all(w in text for w in words), text
            assert [s.topic for s in story.sentences] == ["size", "opportunities"]  # no shares, peers or clusters
            assert not [f for s in story.sentences for f in s.figures if not isinstance(f.value, str)]
            no_placeholder_words(text)
        # a region with jobs but no relate run: the opportunities are not defined, with the reason
        other = told(c, "S3C2").topic("opportunities")[0]
        assert other.text == ("What it could grow into is not defined: there are no relatedness results at the "
                              "county level.")


def test_plain_text_marks_numbers_with_footnotes():
    from clusteratlas.queries.story import Sentence, Story

    story = Story("R", "R", "county", 2020, "en", [Sentence("size", (
        Figure("R", "R", "/regions/R"), " had ", Figure("5", 5.0, "/api/v1/regions/R"), " jobs and ",
        Figure("2", 2.0, "/api/v1/results"), " more (", Figure("5", 5.0, "/api/v1/regions/R"), ")."))])
    paragraphs, notes = plain_text(story)
    assert paragraphs == ["R had 5[1] jobs and 2[2] more (5[1])."]
    assert notes == ["/api/v1/regions/R", "/api/v1/results"]


# ------------------------------------------------------------------ the CLI
@pytest.fixture(scope="module")
def cli_copy(demo, tmp_path_factory) -> Path:
    return Path(shutil.copyfile(demo, tmp_path_factory.mktemp("cli") / "demo.duckdb"))


def test_cli_story_in_both_languages(cli_copy, con, runner):
    res = invoke(runner, "show", "region", "North County 1", "--story", "--atlas", cli_copy)
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    first = told(con, REGION).topic("size")[0].text
    assert first.split(" jobs")[0].replace(",", "") in flat.replace(",", "").replace("[1]", "")
    assert "Sources of the figures" in res.output and "[1] /api/v1/regions/S1C1?level=county&year=2020" in res.output
    res = invoke(runner, "--lang", "ja", "show", "region", "北第1郡", "--story", "--atlas", cli_copy)
    assert res.exit_code == 0, res.output
    assert "北第1郡の2020年の従業者数は" in res.output and "数値の出典" in res.output
    assert "Sources" not in res.output and "jobs" not in res.output


# ------------------------------------------------------------------ the pages
@pytest.fixture(scope="module")
def client(demo):
    with TestClient(create_app(Settings(atlas=str(demo), read_only=True, warm=False))) as c:
        yield c


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_region_page_report_and_twin_tell_the_same_story(client, con, lang):
    story = told(con, REGION, lang)
    page = client.get(f"/regions/{REGION}?lang={lang}").text
    section = page[page.index('id="story"'):page.index("</section>", page.index('id="story"'))]
    for f in (f for s in story.sentences for f in s.figures if f.href):
        assert f'href="{f.href.replace("&", "&amp;")}">{f.text}</a>' in section
    assert f'href="/regions/{REGION}/report' in page
    report = client.get(f"/regions/{REGION}/report?lang={lang}")
    assert report.status_code == 200 and 'id="story"' in report.text
    # on paper the links are lost: each number carries its footnote, and the footnotes list the addresses
    notes = footnotes(story)
    assert re.findall(r'<li><a href="([^"]+)">', report.text) == [n.replace("&", "&amp;") for n in notes]
    assert report.text.count('<sup class="fn">') == len([f for s in story.sentences for f in s.figures
                                                         if f.href and not isinstance(f.value, str)])
    twin = client.get(f"/api/v1/regions/{REGION}/story?lang={lang}").json()["data"]
    assert [s["text"] for s in twin["sentences"]] == [s.text for s in story.sentences]
    assert client.get("/api/v1/regions/NOPE/story").status_code == 404


CHROMIUM = Path("/usr/bin/chromium")


def test_printed_report_is_one_a4_page(demo, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    from tests.test_web import live_server

    with live_server(demo) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            for lang in ("en", "ja"):
                page = browser.new_page()
                page.goto(f"{base}/regions/{REGION}/report?lang={lang}")
                pdf = page.pdf(format="A4", print_background=True)
                (tmp_path / f"report-{lang}.pdf").write_bytes(pdf)
                assert re.findall(rb"/Type\s*/Pages\b[^>]*/Count\s+(\d+)", pdf) == [b"1"], lang
                box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)", pdf)
                assert box and abs(float(box[1]) - 595.3) < 1 and abs(float(box[2]) - 841.9) < 1.5  # A4: 595 × 842 pt
                page.emulate_media(media="print")
                assert not page.locator("header.top").is_visible() and page.locator("#story").is_visible()
                page.close()
        finally:
            browser.close()


def test_screenshots_of_the_story(demo):
    """The region page (its story at the top) and the printed report in both languages, into
    ``$CLUSTERATLAS_WEB_SCREENSHOTS`` (docs/web.md shows them)."""
    import os

    folder = os.environ.get("CLUSTERATLAS_WEB_SCREENSHOTS")
    if not folder or not CHROMIUM.exists():
        pytest.skip("set CLUSTERATLAS_WEB_SCREENSHOTS=docs/img/web to write them")
    from playwright.sync_api import sync_playwright

    from tests.test_web import live_server, wait_for

    Path(folder).mkdir(parents=True, exist_ok=True)
    with live_server(demo) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            for lang in ("en", "ja"):
                page.goto(f"{base}/regions/{REGION}?lang={lang}")
                wait_for(page, "Array.from(document.querySelectorAll('.chart')).every(e => e.querySelector('canvas'))")
                page.screenshot(path=str(Path(folder) / f"region-story-{lang}.png"))  # the top: title, tiles, story
                page.goto(f"{base}/regions/{REGION}/report?lang={lang}")
                page.emulate_media(media="print")
                page.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
                page.screenshot(path=str(Path(folder) / f"report-{lang}.png"), full_page=True)
                page.emulate_media(media="screen")
                page.set_viewport_size({"width": 1280, "height": 1000})
        finally:
            browser.close()
