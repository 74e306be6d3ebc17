"""Issue 19, every figure equals its definition (items 4, 5, 8), on small synthetic atlases (the truth harness,
tests/test_truth.py, checks the same on the four atlases of real shapes):

- a total is one level's total, named, and the pages, the API and the CLI count regions one way (item 4);
- with one year of data there is no time axis, growth says "one year only" and the portfolio stands on
  LQ × employment (item 5);
- the average wage has one unit everywhere: currency units per job and year (item 8).
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient

from clusteratlas import Atlas, generate_sample
from clusteratlas.server import Settings, create_app
from tests.conftest import invoke, query_atlas
from tests.test_web import Watched, browser, live_server  # noqa: F401  (browser: a fixture)
from tests.truth import Page, compute


def _served(path):
    return TestClient(create_app(Settings(atlas=str(path), read_only=True, warm=False)))


@pytest.fixture(scope="module")
def overlapping(tmp_path_factory, sample_files):
    """The sample economy with 40 custom regions of two neighbouring counties each: more custom regions than
    counties (36), and overlapping (each county in two of them), mapped at county, state and custom level."""
    folder = tmp_path_factory.mktemp("overlap")
    counties = [r for r, lv in query_rows(sample_files["regions"]) if lv == "county"]
    pairs = [(f"P{i:02d}", counties[i % 36], counties[(i + 1) % 36]) for i in range(40)]
    custom = folder / "custom.csv"
    pacsv.write_csv(pa.table({"region": [p for p, *_ in pairs for _ in (0, 1)],
                              "member": [m for _, *members in pairs for m in members],
                              "name": [f"Programme {p}" for p, *_ in pairs for _ in (0, 1)]}), custom)
    path = folder / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "definitions", "observations"):
            atlas.import_file(kind, sample_files[kind], name="sample")
        atlas.import_file("custom-regions", custom)
    return path


def query_rows(regions_csv) -> list[tuple[str, str]]:
    table = pacsv.read_csv(regions_csv)
    return list(zip(table["region"].to_pylist(), table["level"].to_pylist(), strict=True))


def test_totals_are_one_levels_total_named_when_regions_overlap(overlapping, runner):
    """40 overlapping custom regions outnumber the 36 counties: the home page, GET /overview and GET /clusters
    still total the counties (each job once), say so, and count the regions of every level as ``map`` does."""
    res = invoke(runner, "map", "--level", "state", "--level", "custom", "--atlas", overlapping)
    assert res.exit_code == 0, res.output
    listed_levels = re.search(r"regions: ((?:[\d,]+ \w+(?:, )?)+)", " ".join(res.output.split())).group(1)
    mapped = sum(int(n.replace(",", "")) for n in re.findall(r"(\d[\d,]*) \w+", listed_levels))
    truth = compute(overlapping)
    assert truth.disjoint == ["county", "state"] and truth.levels == {"county": 36, "custom": 40, "state": 6}
    _, jobs = truth.level_total("county", 2020)
    double = truth.regions[(truth.regions.level == "custom") & (truth.regions.year == 2020)].employment.sum()
    assert double > 1.9 * jobs  # summing the custom level counts every job about twice
    with _served(overlapping) as client:
        o = client.get("/api/v1/overview").json()["data"]
        assert (o["level"], o["year"], o["regions"], o["employment"]) == ("county", 2020, 36, pytest.approx(jobs))
        assert o["levels"] == {"county": 36, "custom": 40, "state": 6} and o["overlapping"] == ["custom"]
        assert sum(o["levels"].values()) == mapped == 82
        listed = client.get("/api/v1/clusters").json()
        assert (listed["meta"]["level"], listed["meta"]["regions"]) == ("county", 36)
        assert sum(r["employment"] for r in listed["data"]) == pytest.approx(o["cluster_employment"])
        assert client.get("/api/v1/clusters/C01").json()["data"]["level"] == "county"
        home = Page(client.get("/").text)
        assert home.tiles["tile-employment"] == ["Jobs in the 36 regions of level county (2020)", f"{jobs:,.0f}"]
        assert home.tiles["tile-regions"][:2] == ["Regions", "82"]
        assert "40 custom (overlapping)" in home.tiles["tile-regions"][2]
        ja = Page(client.get("/?lang=ja").text)
        assert ja.tiles["tile-employment"][0] == "郡 レベルの 36 地域の従業者数（2020年）"  # 郡: the level in Japanese
    # the CLI's default level is the same
    res = invoke(runner, "show", "cluster", "C01", "--atlas", overlapping, "--wide")
    assert res.exit_code == 0 and "county" in res.output and "P0" not in res.output


@pytest.fixture(scope="module")
def one_year(tmp_path_factory):
    """The sample economy of one year (2020) only, mapped at county and state level."""
    folder = tmp_path_factory.mktemp("one-year")
    paths = generate_sample(7, years=(2020,)).write(folder / "sample")
    path = folder / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "definitions", "observations"):
            atlas.import_file(kind, paths[kind], name="sample")
        atlas.map(levels=["state"])
        from clusteratlas.store.geometry import import_geometry

        import_geometry(atlas.con, paths["geometry-county"], level="county", tolerance=0)
    return path


def test_one_year_says_so_on_every_face(one_year, runner):
    """One year: the API's notes, the CLI and both languages of the pages say "one year only"; the region page
    has no growth column and no time series, the cluster page no time chart."""
    with _served(one_year) as client:
        profile = client.get("/api/v1/regions/S1C1").json()["data"]
        assert profile["summary"]["years"] == [2020] and profile["summary"]["employment_growth"] is None
        assert any("one year only (2020)" in n for n in profile["notes"])
        assert any("one year only (2020)" in n for n in client.get("/api/v1/clusters/C01").json()["data"]["notes"])
        page = client.get("/regions/S1C1").text
        parsed = Page(page)
        assert parsed.tiles["tile-growth"] == ["Growth", "one year only (2020)"]
        assert "Growth per year" not in parsed.tables["cluster-table"]["head"]
        assert 'id="series"' not in page and "one year only (2020): no time series." in parsed.notes
        assert parsed.data["one_year"] is True
        ja = Page(client.get("/regions/S1C1?lang=ja").text)
        assert ja.tiles["tile-growth"] == ["成長率", "1年分のみ (2020)"]
        cluster = client.get("/clusters/C01?lang=en").text
        assert 'id="series"' not in cluster and "one year only (2020): no time series." in Page(cluster).notes
    res = invoke(runner, "show", "region", "S1C1", "--atlas", one_year)
    assert res.exit_code == 0 and "one year only (2020)" in " ".join(res.output.split())
    res = invoke(runner, "--lang", "ja", "show", "region", "S1C1", "--atlas", one_year)
    assert "2020年の1年分のみ" in " ".join(res.output.split())


def test_one_year_charts(browser, one_year):  # noqa: F811  (the browser fixture of tests/test_web.py)
    """The portfolio of a one-year atlas stands on LQ × employment (log), one bubble per cluster with jobs at
    its employment, not every bubble at y = 0; there is no time axis to run from 1007 to 2014."""
    with live_server(one_year) as base:
        w = Watched(browser)
        try:
            w.open(base + "/regions/S1C1", charts=("bubble", "locator"))
            option = w.page.evaluate("""() => { const o = CA.charts.bubble.getOption();
                return {axis: o.yAxis[0].type, name: o.yAxis[0].name, y: o.series[0].encode.y,
                        points: o.series[0].data.map(p => p.value)}; }""")
            assert option["axis"] == "log" and option["name"] == "Employment"
            y = option["y"][0] if isinstance(option["y"], list) else option["y"]
            assert y == 2 and len({p[2] for p in option["points"]}) > 10
            assert w.page.evaluate("() => !('series' in CA.charts) && !document.getElementById('series')")
            laid = w.page.evaluate("""() => { const c = CA.charts.bubble, pts = c.getOption().series[0].data;
                return pts.map(p => c.convertToPixel({seriesIndex: 0}, [p.value[0], p.value[2]])[1]); }""")
            assert len(set(round(v) for v in laid)) > 10  # the bubbles spread over the employment axis
            w.open(base + "/clusters/C01")
            assert w.page.evaluate("() => !('series' in CA.charts)")
            # growth compared in one year: no empty axes, a note says why, in either language
            for lang, said in (("en", "growth needs two years or more"), ("ja", "成長率には 2 年以上のデータが必要")):
                w.open(f"{base}/compare?regions=S1C1,S1C2,S2C1&metric=employment_cagr&lang={lang}")
                assert w.page.locator("#multiples .chart").count() == 0
                assert said in w.page.locator("#multiples p.note").inner_text()
                assert w.page.locator("h2", has_text="Largest differences").count() == 0
            assert not w.errors, w.errors
        finally:
            w.close()


def test_average_wage_one_unit_everywhere(tmp_path, runner):
    """The demo's average wage is the same number in currency units per job and year on the page, in the API,
    in the CLI and in an export: payroll ÷ employment from the stored observations (not 63.9 in one place and
    60,962 in another)."""
    from clusteratlas.api import build_demo_atlas

    path = tmp_path / "demo.duckdb"
    build_demo_atlas(path, sample_dir=tmp_path / "sample")
    truth = compute(path)
    cell = truth.cell("county", "S1C1", "C01", 2020)
    region = truth.cells[(truth.cells.region == "S1C1") & (truth.cells.year == 2020)
                         & (truth.cells.level == "county") & truth.cells.payroll.notna()]
    wage = region.payroll.sum() / region.employment.sum()
    assert 35_000 < cell["average_wage"] < 85_000 and 35_000 < wage < 85_000  # currency units, not thousands
    with _served(path) as client:
        api = client.get("/api/v1/regions/S1C1").json()["data"]
        assert api["summary"]["average_wage"] == pytest.approx(wage, rel=1e-12)
        row = next(r for r in api["clusters"] if r["cluster"] == "C01")
        assert row["average_wage"] == pytest.approx(cell["average_wage"], rel=1e-12)
        page = Page(client.get("/regions/S1C1").text)
        assert page.tiles["tile-wage"] == ["Average wage (per job and year)", f"{wage:,.0f}"]
    res = invoke(runner, "show", "region", "S1C1", "--atlas", path, "--wide")
    text = " ".join(res.output.split())
    assert f"average wage {wage:,.0f} per job and year" in text
    assert re.search(rf"Automotive \(C01\).*│ +{cell['average_wage']:,.0f} │", res.output)
    out = tmp_path / "clusters.csv"
    assert invoke(runner, "export", "clusters", out, "--atlas", path).exit_code == 0
    exported = query_atlas(path, f"SELECT average_wage FROM read_csv('{out}') WHERE region = 'S1C1' AND "
                                 "cluster = 'C01' AND year = 2020 AND level = 'county'")
    assert exported[0][0] == pytest.approx(cell["average_wage"], rel=1e-9)
