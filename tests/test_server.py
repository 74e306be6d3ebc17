"""Route tests of the REST API (FastAPI TestClient) on the sample atlas and on CBP 2019 metros."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from clusteratlas import Atlas
from clusteratlas.reference.programmes import nistep_profiles_path
from clusteratlas.server import Settings, create_app

API = "/api/v1"


def build_full_atlas(path, sample_files) -> None:
    """A sample atlas with every kind of stored answer: map, relate, shift-share, hot spots, indicators, evaluation."""
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "custom-regions", "definitions", "observations"):
            atlas.import_file(kind, sample_files[kind], name="sample")
        atlas.import_file("weights", sample_files["weights"])
        atlas.map(levels=["state", "custom"])
        atlas.relate(level="county")
        years = sorted(r[0] for r in atlas.con.execute("SELECT DISTINCT year FROM results_clusters").fetchall())
        atlas.shift_share(years[0], years[-1], level="county")
        atlas.hotspots(level="county", permutations=99)
        regions = [r[0] for r in atlas.con.execute(
            "SELECT DISTINCT region FROM results_regions WHERE level = 'county' ORDER BY 1").fetchall()]
        indicators = path.parent / "patents.csv"
        with open(indicators, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["region", "year", "value", "unit"])
            for i, r in enumerate(regions):
                w.writerow([r, years[-1], 10 + i, "NR"])
        atlas.import_file("indicators", indicators, name="patents")
        atlas.load_programmes()
        atlas.import_assessments(nistep_profiles_path())


@pytest.fixture(scope="module")
def full_atlas(tmp_path_factory, sample_files):
    path = tmp_path_factory.mktemp("served") / "atlas.duckdb"
    build_full_atlas(path, sample_files)
    return path


@pytest.fixture(scope="module")
def client(full_atlas):
    with TestClient(create_app(Settings(atlas=str(full_atlas)))) as c:
        yield c


def _ok(client, url, **kw):
    r = client.get(url, **kw)
    assert r.status_code == 200, (url, r.text[:500])
    return r


def _json_rows(client, url):
    body = _ok(client, url).json()
    assert set(body) == {"data", "meta", "provenance"}
    return body["data"]


def _csv_rows(client, url):
    r = _ok(client, url, headers={"Accept": "text/csv"})
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text)))


def _parquet_rows(client, url):
    r = _ok(client, url + ("&" if "?" in url else "?") + "format=parquet")
    table = pq.read_table(io.BytesIO(r.content))
    meta = table.schema.metadata
    assert json.loads(meta[b"clusteratlas.provenance"])["map_run"]["spec"]["definition"]
    return table.to_pylist()


def _same(json_rows, other_rows, as_text=False):
    """JSON rows equal the rows of another format (CSV compares as text; floats to 12 digits)."""
    assert len(json_rows) == len(other_rows)
    for a, b in zip(json_rows, other_rows, strict=True):
        assert list(a) == list(b)
        for k in a:
            x, y = a[k], b[k]
            if as_text:
                if x is None:
                    assert y == ""
                elif isinstance(x, bool):
                    assert y == str(x).lower()
                elif isinstance(x, float):
                    assert float(y) == pytest.approx(x, rel=1e-12)
                elif isinstance(x, list):
                    assert y == " ".join(x)
                else:
                    assert y == str(x), k
            elif isinstance(x, float) and y is not None:
                assert y == pytest.approx(x, rel=1e-12)
            elif hasattr(y, "isoformat"):
                assert y.isoformat() == x
            else:
                assert x == y, k


TABULAR = [
    "/regions?q=county&limit=5", "/regions?level=state", "/regions?parent=S2", "/clusters",
    "/regions/S2C3/clusters", "/compare?regions=S1,S2,S3", "/clusters/C01/ranking?metric=lq&top=5",
    "/clusters/C01/map?level=state", "/clusters/C01/related", "/results?stars_min=2&sort=-lq&limit=50",
    "/complexity/regions", "/complexity/items", "/hotspots?significant=false&limit=30", "/shift-share?limit=30",
    "/indicators", "/indicators/patents?per=employment", "/frameworks", "/assessments",
    "/assessments?all_revisions=true", "/programmes", "/map-runs", "/imports",
    "/frameworks/nistep-jp-15/averages?by=formation_base", "/regions/S2C3/peers?n=3", "/regions/S2C3/indicators",
]
OBJECTS = ["/regions/S2C3", "/clusters/C01", "/frameworks/nistep-jp-15", "/assessments/nistep2004-sapporo-it",
           "/provenance", "/overview", "/suggest?q=north"]


@pytest.mark.parametrize("url", TABULAR)
def test_tabular_route_answers_json_csv_parquet_alike(client, url):
    rows = _json_rows(client, API + url)
    _same(rows, _csv_rows(client, API + url), as_text=True)
    _same(rows, _parquet_rows(client, API + url))
    xlsx = _ok(client, API + url + ("&" if "?" in url else "?") + "format=xlsx")
    assert xlsx.content[:2] == b"PK"


@pytest.mark.parametrize("url", OBJECTS)
def test_object_route_names_provenance(client, url):
    body = _ok(client, API + url).json()
    prov = body["provenance"]
    assert prov["map_run"]["spec"]["definition"] == "sample"
    assert prov["map_run"]["spec"]["reference"] == "observations" and prov["map_run"]["reference_label"]
    assert {s["kind"] for s in prov["sources"]} >= {"observations", "definitions"}
    assert all(len(s["sha256"]) == 64 for s in prov["sources"])


def test_every_get_route_is_tested(client):
    spec = client.get("/api/openapi.json").json()
    routes = {p for p, ops in spec["paths"].items() if "get" in ops}
    tested = {API + u.split("?")[0] for u in TABULAR + OBJECTS + ["/health"]}
    templated = {"/api/v1/regions/{region}", "/api/v1/regions/{region}/clusters", "/api/v1/clusters/{cluster}",
                 "/api/v1/clusters/{cluster}/ranking", "/api/v1/clusters/{cluster}/map",
                 "/api/v1/clusters/{cluster}/related", "/api/v1/complexity/{of}", "/api/v1/indicators/{indicator}",
                 "/api/v1/frameworks/{framework}", "/api/v1/frameworks/{framework}/averages",
                 "/api/v1/assessments/{assessment}", "/api/v1/tokens",
                 "/api/v1/geometry", "/api/v1/geometry/{level}",  # geometry: tests/test_web.py
                 "/api/v1/regions/{region}/story",  # tests/test_region_story.py
                 "/api/v1/regions/{region}/peers",  # in TABULAR as /regions/S2C3/peers
                 "/api/v1/regions/{region}/indicators",  # in TABULAR as /regions/S2C3/indicators
                 "/api/v1/writes"}  # an editor's: tests/test_security_web.py
    assert routes - templated <= tested
    assert spec["openapi"].startswith("3.1")


def test_region_profile_matches_the_atlas(client, full_atlas):
    data = _ok(client, f"{API}/regions/S2C3").json()["data"]
    with Atlas(full_atlas) as a:
        summary, rows = a.region_profile("S2C3")
    assert data["summary"]["employment"] == summary["employment"]
    assert [c["cluster"] for c in data["clusters"]] == rows["cluster"].to_pylist()
    assert len(data["series"]) == len({r["year"] for r in data["series"]}) > 1
    assert data["opportunities"], "relate was run at county level: opportunities by density"
    dens = [o["density"] for o in data["opportunities"]]
    assert dens == sorted(dens, reverse=True)


def test_results_cursor_pages_cover_everything_once(client):
    url = f"{API}/results?cluster=C01&sort=-employment&limit=7"
    seen, page = [], client.get(url).json()
    total = page["meta"]["total"]
    while True:
        seen += [(r["level"], r["region"], r["year"]) for r in page["data"]]
        if not page["meta"]["next"]:
            break
        page = client.get(url + "&cursor=" + page["meta"]["next"]).json()
    assert len(seen) == len(set(seen)) == total
    other = client.get(f"{API}/results?cluster=C02&limit=7&cursor=" + client.get(url).json()["meta"]["next"])
    assert other.status_code == 422  # a cursor of another query


def test_unknown_ids_are_404_with_close_matches(client):
    for url, expected in ((f"{API}/regions/S2C33", "S2C3"), (f"{API}/clusters/C011", "C01"),
                          (f"{API}/frameworks/nistep-jp-16", "nistep-jp-15"),
                          (f"{API}/indicators/patent", "patents")):
        r = client.get(url)
        assert r.status_code == 404, url
        assert r.headers["content-type"] == "application/problem+json"
        assert expected in r.json()["did_you_mean"]


def test_bad_parameters_are_422_saying_what_was_expected(client):
    for url in (f"{API}/results?sort=nope", f"{API}/clusters/C01/ranking?metric=nope", f"{API}/results?year=1",
                f"{API}/compare?regions=S1", f"{API}/results?format=docx", f"{API}/results?cursor=%%%"):
        r = client.get(url)
        assert r.status_code == 422, url
        body = r.json()
        assert body["status"] == 422 and body["title"] and body["detail"]


def test_etag_and_last_modified_let_clients_cache(client):
    r = _ok(client, f"{API}/clusters")
    assert r.headers["etag"] and r.headers["last-modified"]
    assert client.get(f"{API}/clusters", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    assert client.get(f"{API}/clusters", headers={"If-Modified-Since": r.headers["last-modified"]}).status_code == 304
    assert client.get(f"{API}/clusters?format=csv", headers={"If-None-Match": r.headers["etag"]}).status_code == 200


def test_health_and_offline_docs(client):
    assert _ok(client, f"{API}/health").json()["status"] == "ok"
    page = _ok(client, "/api/docs").text
    assert "cdn" not in page.lower() and "/api/docs-assets/swagger-ui-bundle.js" in page
    assert _ok(client, "/api/docs-assets/swagger-ui-bundle.js").content.startswith(b"/*")


def test_the_api_answers_what_the_query_layer_answers(client, full_atlas):
    """The Python query functions and the HTTP API return the same rows (switch local ↔ remote)."""
    from clusteratlas import queries as Q

    con = client.app.state.service.reader()  # the served database (this thread's cursor on the version served)
    local = Q.cluster_ranking(con, "C02", metric="lq", top=10).rows()
    assert client.get(f"{API}/clusters/C02/ranking?metric=lq&top=10").json()["data"] == local


# ------------------------------------------------------------------ real data
@pytest.fixture(scope="module")
def cbp_client(cbp2019_built):
    with TestClient(create_app(Settings(atlas=str(cbp2019_built), read_only=True))) as c:
        yield c


@pytest.mark.realdata
def test_san_jose_top_traded_cluster_by_lq(cbp_client):
    url = f"{API}/results?regions=41940&type=traded&sort=-lq_within_type&limit=100"
    rows = [r for r in _json_rows(cbp_client, url) if r["employment"] > 5000]
    assert rows[0]["cluster"] == "Information Technology and Analytical Instruments"
    assert rows[0]["lq_within_type"] == pytest.approx(5.2, abs=0.1)
    profile = _ok(cbp_client, f"{API}/regions/41940").json()["data"]
    traded = [c for c in profile["clusters"] if c["type"] == "traded" and c["employment"] > 5000]
    assert max(traded, key=lambda c: c["lq_within_type"])["cluster"] == rows[0]["cluster"]
    _same(rows, [r for r in _parquet_rows(cbp_client, url) if r["employment"] > 5000])
    _same(rows, [r for r in _csv_rows(cbp_client, url) if float(r["employment"]) > 5000], as_text=True)


@pytest.mark.realdata
def test_cbp_map_layer_covers_every_metro(cbp_client):
    layer = _json_rows(cbp_client, f"{API}/clusters/Automotive/map?metric=lq")
    total = _ok(cbp_client, f"{API}/results?cluster=Automotive&limit=1").json()["meta"]["total"]
    assert len(layer) == total > 100  # every metro with a row for the cluster
    assert len({r["region"] for r in layer}) == len(layer)
    assert cbp_client.get(f"{API}/regions/4194").json()["did_you_mean"]


def test_framework_averages_route_is_the_query_with_the_published_table(client, full_atlas):
    from clusteratlas import queries as Q
    from clusteratlas.reference.programmes import nistep_published_averages

    body = _ok(client, f"{API}/frameworks/nistep-jp-15/averages?by=formation_base").json()
    with Atlas(full_atlas) as a:
        expected = Q.group_averages(a.con, "nistep-jp-15", by="formation_base")
    assert body["data"] == expected.rows()
    published = {(r["group"], r["column"], r["factor"]): r["mean"] for r in nistep_published_averages().to_pylist()}
    shown = {(r["group"], r["column"], r["factor"]): r["published"] for r in body["data"] if r["published"] is not None}
    assert shown and all(published[k] == v for k, v in shown.items())
    plain = _ok(client, f"{API}/frameworks/nistep-jp-15/averages?reference=false").json()["data"]
    assert plain and all(r["published"] is None and r["assessments"] > 0 for r in plain)
