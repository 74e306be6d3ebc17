"""The pages ask :mod:`clusteratlas.queries`, they do not compute (issue 21): each figure a page shows beside
its tables is a query's answer, checked here against the stored tables recomputed independently (pandas, or by
hand), and shown alike by the page and by the API route that answers the same question."""

from __future__ import annotations

import json
import re

import duckdb
import pytest
from fastapi.testclient import TestClient

from clusteratlas import queries as Q
from clusteratlas.errors import InputError
from clusteratlas.server import Settings, create_app
from clusteratlas.server.web import fmt_number
from tests.test_server import build_full_atlas

API = "/api/v1"
COMPARED = ["S1C1", "S1C2", "S2C1", "S3C1", "S4C2"]


@pytest.fixture(scope="module")
def atlas(tmp_path_factory, sample_files):
    """The full sample atlas, with a second indicator in two years (its latest value has its own unit)."""
    path = tmp_path_factory.mktemp("pages") / "atlas.duckdb"
    build_full_atlas(path, sample_files)
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO indicators SELECT 'jobs', region, year - 1, value * 2, 'old unit' FROM indicators")
    con.execute("INSERT INTO indicators SELECT 'jobs', region, year, value * 3, 'new unit' FROM indicators "
                "WHERE indicator = 'patents' AND region <> 'S1C2'")
    con.close()
    return path


@pytest.fixture(scope="module")
def con(atlas):
    c = duckdb.connect(str(atlas), read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def client(atlas):
    with TestClient(create_app(Settings(atlas=str(atlas), read_only=True))) as c:
        yield c


# ------------------------------------------------------------- largest differences
def test_largest_differences_by_hand():
    rows = [  # cluster A: 3 regions; B: one value only; C: the same everywhere; D: a tie for the highest
        {"cluster": "A", "region": "r1", "lq": 2.5}, {"cluster": "A", "region": "r2", "lq": 0.5},
        {"cluster": "A", "region": "r3", "lq": None}, {"cluster": "A", "region": "r0", "lq": 1.0},
        {"cluster": "B", "region": "r1", "lq": 4.0}, {"cluster": "B", "region": "r2", "lq": None},
        {"cluster": "C", "region": "r1", "lq": 1.0}, {"cluster": "C", "region": "r2", "lq": 1.0},
        {"cluster": "D", "region": "r2", "lq": 3.0}, {"cluster": "D", "region": "r1", "lq": 3.0},
        {"cluster": "D", "region": "r3", "lq": 0.25},
    ]
    got = Q.largest_differences(rows, "lq")
    assert [(d["cluster"], d["high_region"], d["high"], d["low_region"], d["low"], d["spread"]) for d in got] == [
        ("D", "r1", 3.0, "r3", 0.25, 2.75), ("A", "r1", 2.5, "r2", 0.5, 2.0)]
    strong = Q.largest_differences([{"cluster": "A", "region": "r1", "strong": False},
                                    {"cluster": "A", "region": "r2", "strong": True}], "strong")
    assert (strong[0]["high_region"], strong[0]["high"], strong[0]["low"], strong[0]["spread"]) == ("r2", 1, 0, 1)


@pytest.mark.parametrize("metric", ["lq", "stars", "employment"])
def test_compare_differences_recomputed_with_pandas(con, metric):
    year = con.execute("SELECT max(year) FROM results_regions").fetchall()[0][0]
    cells = con.execute("SELECT region, cluster, " + metric + " AS v FROM results_clusters WHERE level = 'county' "
                        "AND year = ? AND region IN (SELECT unnest(?))", [year, COMPARED]).df().dropna(subset=["v"])
    expected = []
    for cluster, group in cells.groupby("cluster"):
        group = group.sort_values("region")
        if len(group) < 2 or group["v"].max() == group["v"].min():
            continue
        high, low = group.loc[group["v"].idxmax()], group.loc[group["v"].idxmin()]
        expected.append((cluster, high["region"], low["region"], float(high["v"] - low["v"])))
    expected.sort(key=lambda e: (-e[3], e[0]))
    got = Q.compare_regions(con, COMPARED, metric=metric).meta["differences"]
    assert [(d["cluster"], d["high_region"], d["low_region"]) for d in got] == [e[:3] for e in expected]
    assert [d["spread"] for d in got] == pytest.approx([e[3] for e in expected], rel=1e-12)
    assert len(got) > 5


def test_compare_page_and_api_show_the_same_differences(client):
    url = "?regions=" + ",".join(COMPARED) + "&metric=lq"
    api = client.get(f"{API}/compare{url}").json()["meta"]["differences"]
    page = client.get(f"/compare{url}&lang=en").text
    shown = re.findall(r"<li>[^<]*: highest in [^<]* \(([\d.,]+)\), lowest in [^<]* \(([\d.,]+)\)\.</li>",
                       page.split('class="diffs"')[1].split("</ul>")[0])
    assert shown == [(fmt_number(d["high"], "en", 2), fmt_number(d["low"], "en", 2)) for d in api[:10]]
    assert len(shown) == 10


# ------------------------------------------------------------------- indicators
def test_region_indicators_are_each_indicators_latest_value(con):
    stored = con.execute("SELECT * FROM indicators").df()
    for region in ("S1C1", "S1C2", "S3C2"):
        mine = stored[stored.region == region].sort_values("year").groupby("indicator").tail(1).sort_values(
            "indicator")
        got = Q.region_indicators(con, region).rows()
        assert [(r["indicator"], r["year"], r["value"], r["unit"]) for r in got] == [
            (r.indicator, r.year, r.value, r.unit) for r in mine.itertuples()]
    # S1C2 has no 'jobs' value in the latest year: its older one, with the unit it was stored with
    jobs = {r["indicator"]: r for r in Q.region_indicators(con, "S1C2").rows()}["jobs"]
    assert jobs["unit"] == "old unit" and jobs["year"] == stored.year.max() - 1
    with pytest.raises(Q.NotFound):
        Q.region_indicators(con, "S1C99")
    assert Q.region_indicators(con, "S1").rows() == []  # a known region (a state) without indicators


def test_region_page_and_api_show_the_same_indicators(client):
    api = client.get(f"{API}/regions/S1C2/indicators").json()["data"]
    page = client.get("/regions/S1C2?lang=en").text
    table = page.split("<h2>Indicators</h2>")[1].split("</table>")[0]
    shown = re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td><td class=\"n\">([\d.,]+)</td><td>([^<]*)</td></tr>",
                       table)
    assert shown == [(r["indicator"], str(r["year"]), fmt_number(r["value"], "en", 2), r["unit"]) for r in api]
    assert len(shown) == 2
    assert client.get(f"{API}/regions/S1C99/indicators").status_code == 404


# ---------------------------------------------------------- largest clusters over time
def test_region_top_series_recomputed_with_pandas(con):
    cells = con.execute("SELECT * FROM results_clusters WHERE region = 'S2C3' AND level = 'county'").df()
    latest = cells[cells.year == cells.year.max()]
    latest = latest[latest.employment > 0].sort_values(["employment", "cluster"], ascending=[False, True])
    top = list(latest.cluster[:5])
    got = Q.region_top_series(con, "S2C3")
    assert got.meta["clusters"] == top
    expected = [(c, r.year, r.employment) for c in top
                for r in cells[cells.cluster == c].sort_values("year").itertuples()]
    assert [(r["cluster"], r["year"], r["employment"]) for r in got.rows()] == expected
    first = int(cells.year.min())
    assert Q.region_top_series(con, "S2C3", year=first, top=2).meta["clusters"] == list(
        cells[(cells.year == first) & (cells.employment > 0)].sort_values(
            ["employment", "cluster"], ascending=[False, True]).cluster[:2])
    with pytest.raises(InputError, match="1800"):  # no results that year (in any language)
        Q.region_top_series(con, "S2C3", year=1800)


def test_region_page_charts_the_top_series(client, con):
    page = client.get("/regions/S2C3?lang=en").text
    data = json.loads(page.split('id="page-data">')[1].split("</script>")[0])
    got = Q.region_top_series(con, "S2C3")
    assert list(data["series"]) == got.meta["clusters"]
    assert data["series"] == {c: [[r["year"], r["employment"]] for r in got.rows() if r["cluster"] == c]
                              for c in got.meta["clusters"]}


# --------------------------------------------------------------------------- home
def test_overview_clusters_largest_first_and_regions_of_every_level(con):
    o = Q.overview(con)
    counts = dict(con.execute("SELECT level, count(DISTINCT region) FROM results_regions GROUP BY level").fetchall())
    assert o.all_regions == sum(counts.values()) == o.as_dict()["all_regions"]
    jobs = con.execute("SELECT cluster, sum(employment) AS jobs FROM results_clusters WHERE level = ? AND year = ? "
                       "GROUP BY cluster", [o.level, o.year]).df()
    expected = list(jobs.assign(jobs=jobs.jobs.fillna(0)).sort_values(["jobs", "cluster"], ascending=[False, True])
                    .cluster)
    assert o.clusters.column("cluster").to_pylist() == expected
    index = Q.region_index(con, per_level=3)
    for level, entry in index.items():
        year = con.execute("SELECT max(year) FROM results_regions WHERE level = ?", [level]).fetchall()[0][0]
        n = con.execute("SELECT count(*) FROM results_regions WHERE level = ? AND year = ?", [level, year]
                        ).fetchall()[0][0]
        assert entry["count"] == n == len(entry["regions"]) + entry["more"]


def test_home_page_shows_the_overviews_figures(client):
    o = client.get(f"{API}/overview").json()["data"]
    page = client.get("/?lang=en").text
    tile = page.split('id="tile-regions"')[1].split("</div>")[0]
    assert f'<span class="v">{fmt_number(o["all_regions"], "en")}</span>' in tile
    table = page.split('id="clusters"')[1].split("</table>")[0]
    assert re.findall(r'href="/clusters/([^"]+)"', table) == [c["cluster"] for c in o["clusters"]]


# -------------------------------------------------------------------- evaluations
def test_assessment_points_recomputed_from_the_stored_scores(con):
    scores = con.execute("SELECT s.factor, s.\"column\", s.points FROM assessment_scores s JOIN assessments_current a "
                         "USING (assessment, revision) WHERE assessment = 'nistep2004-sapporo-it'").df()
    got = Q.assessment_points(con, "nistep2004-sapporo-it")
    document = Q.framework(con, got["framework"], got["framework_version"])["document"]
    factors = [f["id"] for f in document["factors"]]
    assert [f["id"] for f in got["factors"]] == factors and len(factors) == 15
    assert got["columns"] == [c["id"] for c in document["columns"]]
    for column in got["columns"]:
        mine = scores[scores.column == column].set_index("factor")["points"].fillna(0).to_dict()
        assert got["points"][column] == [mine.get(f, 0) for f in factors]
    assert sum(v > 0 for v in got["points"][got["columns"][0]]) == 3  # ◎ ○ △ once each per column


def test_evaluations_page_radars_are_the_assessments_points(client, con):
    page = client.get("/evaluations?lang=en").text
    radars = json.loads(page.split('id="page-data">')[1].split("</script>")[0])["radars"]
    assert len(radars) == 3  # the three worked NISTEP profiles
    for radar in radars:
        assert radar["series"] == Q.assessment_points(con, radar["assessment"])["points"]


def test_region_report_lists_the_largest_clusters_of_the_page(client, con):
    page = client.get("/regions/S2C3/report?lang=en").text
    listed = re.findall(r'href="/clusters/([^"?]+)', page.split("<table")[1].split("</table>")[0])
    assert listed == Q.region_top_series(con, "S2C3", top=8).meta["clusters"]
