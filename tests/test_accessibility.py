"""Accessibility of the pages (issue 22): axe-core on every page type in both languages, the charts' text
alternatives, and the map and tables used with the keyboard alone.

axe-core comes bundled in the PyPI package ``axe-playwright-python`` (the ``test`` extra); nothing is downloaded
at test time. One browser and one served demo atlas for the module. docs/web.md gives the figures.
"""

from __future__ import annotations

import re

import pytest

from clusteratlas.api import build_demo_atlas
from tests.test_web import browser, live_server, wait_for  # noqa: F401  (browser: the Chromium fixture)

#: One address per page type (the demo's largest county, its first cluster, a search, a page that is not there).
PAGES = {"home": "/", "search": "/search?q=county", "region": "/regions/S1C1", "report": "/regions/S1C1/report",
         "cluster": "/clusters/C01", "cluster-hotspots": "/clusters/C09?classes=hotspots",
         "compare": "/compare?peers=S1C1", "evaluations": "/evaluations", "error": "/regions/NOPE"}
#: The axe-core rule sets checked: WCAG 2.0 and 2.1, levels A and AA, and axe's best practices.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    path = tmp_path_factory.mktemp("a11y") / "demo.duckdb"
    build_demo_atlas(path, permutations=99)
    with live_server(path) as base:
        yield base




@pytest.fixture(scope="module")
def page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 1200})
    tab = context.new_page()
    tab.errors = []
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    yield tab
    context.close()


def visit(page, site: str, path: str, lang: str) -> None:
    """Open a page and wait until every chart is drawn (ECharts writes its own aria-label when it draws: what is
    checked is what the page ends with); no script error on the way (the demo's related-cluster graph, fed the
    county and the state runs at once, threw one and stayed blank)."""
    page.errors.clear()
    page.goto(f"{site}{path}{'&' if '?' in path else '?'}lang={lang}")
    wait_for(page, "Array.from(document.querySelectorAll('.chart')).every(e => e.querySelector('canvas'))", 10)
    page.wait_for_timeout(200)
    assert not page.errors, page.errors


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("kind", list(PAGES))
def test_no_serious_or_critical_axe_violation(page, site, kind, lang):
    from axe_playwright_python.sync_playwright import Axe

    visit(page, site, PAGES[kind], lang)
    found = Axe().run(page, options={"runOnly": {"type": "tag", "values": TAGS}}).response
    assert found["passes"], "axe-core did not run"
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in found["violations"]
           if v["impact"] in ("serious", "critical")]
    assert not bad, bad
    assert page.evaluate("document.documentElement.lang") == lang


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("kind", ["region", "cluster", "compare", "evaluations"])
def test_every_chart_has_a_name_in_the_page_language_and_its_figures_in_text(page, site, kind, lang):
    """Each chart is an image with a name in the page's language (ECharts' own aria text, an English list of raw
    values, wrote over it on the Japanese pages), and, where the page has one, points to the table or list that
    holds its figures."""
    visit(page, site, PAGES[kind], lang)
    charts = page.evaluate("""() => Array.from(document.querySelectorAll('.chart')).map(e => ({id: e.id,
        role: e.getAttribute('role'), label: e.getAttribute('aria-label') || '',
        described: e.getAttribute('aria-describedby'),
        target: e.getAttribute('aria-describedby') ? !!document.getElementById(e.getAttribute('aria-describedby'))
                : null}))""")
    assert charts
    for c in charts:
        assert c["role"] == "img" and c["label"], c
        assert "This is a chart" not in c["label"] and len(c["label"]) < 80, c
        if lang == "ja":
            assert not re.search(r"[A-Za-z]{3,}", c["label"]), c
        assert c["target"] in (True, None), c
    described = {c["id"] for c in charts if c["described"]}
    expected = {"region": {"bubble", "series"}, "cluster": {"map", "series", "graph"},
                "compare": {c["id"] for c in charts}, "evaluations": set()}[kind]
    assert expected <= described


def focus_by_tab(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus (as a keyboard user gets there)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"() => document.activeElement && document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} not reached with {limit} Tab presses")


def test_map_regions_reached_and_opened_with_the_keyboard(page, site):
    """The cluster map's equivalent for the keyboard: a table of every region of the layer, opened from a summary
    and followed by links."""
    visit(page, site, "/clusters/C01", "en")
    rows = page.locator("#map-table tbody tr").count()
    assert rows == page.evaluate("JSON.parse(document.getElementById('page-data').textContent).layer.length") > 30
    focus_by_tab(page, "#map-alt")
    page.keyboard.press("Enter")
    assert page.evaluate("document.getElementById('map-table').open")
    focus_by_tab(page, "#map-table tbody a")
    target = page.evaluate("document.activeElement.getAttribute('href')")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/regions/"))
    assert page.url.endswith(target)


def test_tables_sorted_with_the_keyboard(page, site):
    visit(page, site, "/regions/S1C1", "en")
    focus_by_tab(page, "#cluster-table th:nth-child(3)")  # Employment
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.getAttribute('aria-sort')") == "ascending"
    values = page.evaluate("Array.from(document.querySelectorAll('#cluster-table tbody tr td:nth-child(3)'))"
                           ".map(td => parseFloat(td.dataset.v))")
    assert values == sorted(values) and len(values) > 5
    page.keyboard.press(" ")
    assert page.evaluate("document.activeElement.getAttribute('aria-sort')") == "descending"


def test_skip_link_is_the_first_stop_and_leads_to_the_content(page, site):
    visit(page, site, "/regions/S1C1", "ja")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main"
    assert page.evaluate("document.activeElement.getBoundingClientRect().left") >= 0  # shown when focused
    assert page.evaluate("document.activeElement.textContent") == "本文へ移動"
