"""What makes ``clusteratlas serve`` fast under load, and never wrong.

- ``map`` stores the cluster results by level, year, region and cluster, so
  a region profile and a cluster ranking or map layer read one year's row
  groups (DuckDB's min/max statistics skip the rest);
- the top-``n`` ranking is the first ``n`` rows of the full ranking;
- the server keeps encoded answers in a bounded cache keyed by the atlas
  version, URL, format and language, answers hits before routing with the
  same headers (ETag, provenance, Vary, 304), and never serves an answer of
  an atlas that has changed since;
- notes from the query layer follow the request's language, not the
  process's.
"""

from __future__ import annotations

import duckdb
import pytest

from clusteratlas import queries as Q
from tests.conftest import copy_atlas


def _storage_order(path) -> list[tuple]:
    """The rows' (level, year, region, cluster) in the order they are stored."""
    con = duckdb.connect(str(path), read_only=True, config={"preserve_insertion_order": True, "threads": 1})
    try:
        return con.execute("SELECT level, year, region, cluster FROM results_clusters").fetchall()
    finally:
        con.close()


def test_map_stores_cluster_results_by_level_year_region(mapped_atlas):
    rows = _storage_order(mapped_atlas)
    assert len({r[0] for r in rows}) > 1  # several levels (county, state, custom): the order is not trivial
    assert rows == sorted(rows)


@pytest.fixture(scope="module")
def cbp_atlas(cbp2019_built, tmp_path_factory):
    return copy_atlas(cbp2019_built, tmp_path_factory.mktemp("cbp-load"))


def test_cbp_results_are_stored_in_order(cbp_atlas):
    rows = _storage_order(cbp_atlas)
    assert len(rows) > 10_000
    assert rows == sorted(rows)


@pytest.mark.parametrize("metric", ["lq", "employment", "share_of_region", "employment_cagr"])
def test_top_ranking_is_the_head_of_the_full_ranking(cbp_atlas, metric):
    con = duckdb.connect(str(cbp_atlas), read_only=True)
    try:
        for cluster in [r[0] for r in con.execute("SELECT DISTINCT cluster FROM results_clusters ORDER BY 1 "
                                                  "LIMIT 5").fetchall()]:
            full = Q.cluster_ranking(con, cluster, metric=metric, top=None).rows()
            top = Q.cluster_ranking(con, cluster, metric=metric, top=7).rows()
            assert top == full[:7]
            assert [r["rank"] for r in full] == list(range(1, len(full) + 1))
            # ranked by the metric, nulls last, then by region: computed here independently
            key = [(r[metric] is None, -(r[metric] or 0), r["region"]) for r in full]
            assert key == sorted(key)
            floor = sorted(r["employment"] for r in full)[len(full) // 2]
            some = Q.cluster_ranking(con, cluster, metric=metric, top=7, min_employment=floor).rows()
            kept = [r for r in full if r["employment"] >= floor][:7]
            assert [r["region"] for r in some] == [r["region"] for r in kept]
    finally:
        con.close()


# ------------------------------------------------------------------------------------------------ the cache
API = "/api/v1"


@pytest.fixture
def writable(tmp_path_factory, sample_files):
    """A full sample atlas (a fresh copy per test) with an editor token."""
    import shutil

    from clusteratlas import Atlas
    from clusteratlas.server.auth import create_token
    from tests.test_server import build_full_atlas

    base = tmp_path_factory.getbasetemp() / "load-base.duckdb"
    if not base.exists():
        build_full_atlas(base, sample_files)
    path = tmp_path_factory.mktemp("load") / "atlas.duckdb"
    shutil.copyfile(base, path)
    with Atlas(path) as a:
        _, token = create_token(a.con, "editor", name="editor")
        a.con.execute("CHECKPOINT")
    return path, token


def _client(path, **settings):
    """A test client; the cache starts cold (no warm-up) unless ``warm=True``: these tests count hits."""
    from fastapi.testclient import TestClient

    from clusteratlas.server import Settings, create_app

    settings.setdefault("warm", False)
    return TestClient(create_app(Settings(atlas=str(path), **settings)))


READS = [f"{API}/regions/S1C1", f"{API}/clusters/C01/ranking?metric=lq&top=5", f"{API}/clusters/C01/map?metric=lq",
         f"{API}/clusters/C01/map?metric=lq&format=csv", f"{API}/results?limit=50", f"{API}/assessments"]


@pytest.mark.parametrize("url", READS)
def test_a_repeated_request_is_answered_from_the_cache_with_the_same_headers(writable, url):
    path, _ = writable
    with _client(path) as c:
        cache = c.app.state.service.cache
        first = c.get(url)
        assert first.status_code == 200, first.text[:300]
        hits = cache.hits
        second = c.get(url)
        assert cache.hits == hits + 1  # answered before routing
        assert second.content == first.content
        for name in ("etag", "last-modified", "x-atlas-version", "vary", "content-type", "cache-control",
                     "content-encoding"):
            assert second.headers.get(name) == first.headers.get(name), name
        assert "Cookie" in second.headers["vary"] and "Accept" in second.headers["vary"]
        again = c.get(url, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == first.headers["etag"]
        since = c.get(url, headers={"If-Modified-Since": first.headers["last-modified"]})
        assert since.status_code == 304
        assert cache.hits == hits + 3
        # another format, Accept header or encoding is another answer, never the cached one
        csv = c.get(url, headers={"Accept": "text/csv"})
        assert csv.status_code == 200
        tabular = "/regions/" not in url
        assert csv.headers["content-type"].startswith("text/csv") == tabular
        plain = c.get(url, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.content == first.content  # the same bytes, decoded by the client before


def test_an_upload_changes_the_cached_answer(writable):
    """Upload an assessment through the editor route: the cached list changes at once (never stale)."""
    from tests.test_server_security import _assessment_file

    path, token = writable
    with _client(path) as c:
        before = c.get(f"{API}/assessments").json()["data"]
        assert c.get(f"{API}/assessments").json()["data"] == before
        assert c.app.state.service.cache.hits >= 1
        r = c.post(f"{API}/assessments", headers={"Authorization": f"Bearer {token}"},
                   files={"file": ("new.csv", _assessment_file("cached"), "text/csv")})
        assert r.status_code == 201, r.text
        after = c.get(f"{API}/assessments").json()["data"]
        assert len(after) == len(before) + 3
        assert {a["assessment"] for a in after} - {a["assessment"] for a in before}


def test_a_write_invalidates_the_cache_even_when_the_file_stamp_does_not_move(writable, monkeypatch):
    """The atlas version comes from the file's time and size; a write through the server also moves the
    cache's write generation, so even a write within the clock's resolution is never hidden."""
    from tests.test_server_security import _assessment_file

    path, token = writable
    with _client(path) as c:
        service = c.app.state.service
        frozen = service.stamp()
        monkeypatch.setattr(service, "stamp", lambda: frozen)
        before = c.get(f"{API}/assessments").json()["data"]
        r = c.post(f"{API}/assessments", headers={"Authorization": f"Bearer {token}"},
                   files={"file": ("new.csv", _assessment_file("frozen"), "text/csv")})
        assert r.status_code == 201, r.text
        assert len(c.get(f"{API}/assessments").json()["data"]) == len(before) + 3


def test_the_cache_is_bounded_and_can_be_turned_off(writable):
    from clusteratlas.server.cache import ResponseCache

    cache = ResponseCache(10_000, max_item=4_000)
    for i in range(20):
        cache.put(("k", i), 200, [(b"etag", b"x")], b"x" * 1_000)
        assert cache.size <= 10_000
    assert cache.get(("k", 19)) is not None and cache.get(("k", 0)) is None  # the oldest went first
    cache.put(("big",), 200, [], b"x" * 5_000)
    assert cache.get(("big",)) is None  # larger than an item may be
    path, _ = writable
    with _client(path, cache_mb=0) as c:
        cache = c.app.state.service.cache
        assert not cache.enabled
        a, b = c.get(f"{API}/regions/S1C1"), c.get(f"{API}/regions/S1C1")
        assert a.content == b.content and len(cache) == 0 and cache.hits == 0
    with _client(path, cache_mb=0.05) as c:  # 50 kB: a map layer fits, the cache never holds more
        for url in READS:
            c.get(url)
        cache = c.app.state.service.cache
        assert 0 < cache.size <= 50_000


def test_workers_read_the_cache_size_from_the_environment(monkeypatch):
    from clusteratlas.server import Settings

    settings = Settings(atlas="a.duckdb", cache_mb=12.5)
    for key, value in settings.to_env().items():
        monkeypatch.setenv(key, value)
    assert Settings.from_env().cache_mb == 12.5


# --------------------------------------------------------------------------------------------- language
def test_notes_follow_the_request_language_not_the_process_language(writable):
    from clusteratlas import i18n

    path, _ = writable
    assert i18n.get_language() == "en"
    url = f"{API}/clusters/C01/ranking?level=state"
    with _client(path) as c:
        english = c.get(url).json()["meta"]["notes"]
        japanese = c.get(url + "&lang=ja").json()["meta"]["notes"]
        c.cookies.set("clusteratlas_lang", "ja")
        by_cookie = c.get(url)
        c.cookies.clear()
        again = c.get(url).json()["meta"]["notes"]
    assert english and english[0].startswith("note:")
    assert japanese and japanese[0].startswith("注:")
    assert by_cookie.json()["meta"]["notes"] == japanese
    assert again == english  # the cached Japanese answer is not served to an English request
    assert i18n.get_language() == "en"
    profile = None
    with _client(path) as c:
        profile = c.get(f"{API}/regions/S1?level=state&lang=ja").json()["data"]["notes"]
    assert any(n.startswith("注:") for n in profile)


def test_clients_with_other_accept_headers_for_the_same_format_share_the_cached_answer(writable):
    path, _ = writable
    url = f"{API}/clusters/C01/map?metric=lq"
    with _client(path) as c:
        cache = c.app.state.service.cache
        first = c.get(url, headers={"Accept": "*/*"})
        hits = cache.hits
        for accept in ("", "application/json", "application/json, text/plain;q=0.5"):
            assert c.get(url, headers={"Accept": accept}).content == first.content
        assert cache.hits == hits + 3
        assert c.get(url, headers={"Accept": "text/csv"}).headers["content-type"].startswith("text/csv")


# ---------------------------------------------------------------------------------------------- encoding
def test_fast_json_writes_the_same_values_as_the_value_by_value_path(cbp_atlas):
    """Rows straight from Arrow and JSON written by orjson equal the value-by-value conversion written by the
    standard library: the same values, and the same bytes but for how a small float is written (orjson:
    0.00007, the standard library: 7e-05), which no JSON reader tells apart."""
    import datetime as dt
    import json
    import math
    from decimal import Decimal

    import pyarrow as pa

    from clusteratlas.queries._core import _plain, finite, plain, to_rows
    from clusteratlas.server.formats import dumps

    def reference(value):
        return json.dumps(plain(value), ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                          default=str).encode("utf-8")

    values = [{"a": 1.5, "b": None, "c": "日本", "d": [1, 2.0, True]},
              {"x": math.nan, "y": [math.inf, -math.inf, {"z": math.nan}]},
              {"d": Decimal("3"), "e": Decimal("2.5"), "t": dt.datetime(2020, 1, 2, 3, 4, 5),
               "day": dt.date(2020, 1, 2)},
              [dt.datetime(2021, 5, 6, tzinfo=dt.UTC), Decimal("1e3"), ValueError("x")],
              {"nested": {"deep": [{"nan": math.nan, "ok": 1}]}}, "plain", 3, None]
    def same(value) -> None:
        fast, slow = dumps(value), reference(value)
        assert json.loads(fast) == json.loads(slow), value
        if b"e-" not in slow:
            assert fast == slow, value

    for value in values:
        same(value)
    con = duckdb.connect(str(cbp_atlas), read_only=True)
    try:
        tables = [Q.map_layer(con, "Business Services").table,
                  Q.region_profile(con, "41940").clusters, Q.region_profile(con, "41940").series,
                  Q.results(con, Q.ResultFilters(), limit=500).table, Q.map_runs(con).table, Q.imports(con).table,
                  pa.table({"f": pa.array([1.0, math.nan, None]), "s": ["a", "b", None]}),
                  # finite() marks the columns it made finite; a float column added after it is still tested
                  finite(pa.table({"f": [1.0, math.inf]})).append_column("g", pa.array([math.nan, 2.0]))]
    finally:
        con.close()
    for table in tables:
        slow = [_plain(r) for r in table.to_pylist()]
        assert to_rows(table) == slow
        same({"data": slow})
        assert dumps({"data": to_rows(table)}) == dumps({"data": slow})


def test_facts_kept_about_the_atlas_are_dropped_after_a_write(writable, monkeypatch):
    """The queries keep facts per atlas version (levels, years, how many regions a level has); a write through
    the server (here custom regions, then the re-map) starts a new store even if the file stamp stood still."""
    import re

    from tests.test_server_security import CUSTOM

    path, token = writable
    url = f"{API}/clusters/C01/ranking?level=custom&top=100"
    with _client(path) as c:
        service = c.app.state.service
        frozen = service.stamp()
        monkeypatch.setattr(service, "stamp", lambda: frozen)

        def custom_regions() -> tuple[int, int]:
            answer = c.get(url, headers={"Accept-Encoding": "identity"}).json()
            note = next(n for n in answer["meta"]["notes"] if "custom regions" in n)
            return int(re.search(r"only (\d+) custom regions", note).group(1)), len(answer["data"])

        before, rows = custom_regions()
        assert before == rows  # the note counts the regions the ranking lists
        assert ("regions_at", "custom", c.get(url).json()["meta"]["year"]) in service.memo()
        r = c.post(f"{API}/custom-regions", headers={"Authorization": f"Bearer {token}"},
                   files={"file": ("custom.csv", CUSTOM, "text/csv")})
        assert r.status_code == 201, r.text
        assert custom_regions() == (before + 1, rows + 1)


# ----------------------------------------------------------------------------------------------- warm-up
def _warmed(client, *, after: tuple | None = None, timeout: float = 300) -> dict:
    """Wait until the warm-up has finished a pass (of an atlas version other than ``after``); its status."""
    import time

    warmer = client.app.state.warmer
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"{API}/health").json()["warm_up"]
        if status["state"] in ("done", "full", "failed") and warmer.version != after:
            assert status["state"] == "done", status
            return status
        time.sleep(0.05)
    raise AssertionError(f"the warm-up did not finish: {warmer.status()}")


WARMED = [f"{API}/regions/S1C1", f"{API}/regions/S1", f"{API}/clusters/C01/ranking?metric=lq&top=20",
          f"{API}/clusters/C01/map?metric=lq", f"{API}/clusters/C02/ranking", f"{API}/clusters/C02/map"]


def test_after_the_warm_up_common_answers_are_hits_identical_to_computed_ones(writable):
    path, _ = writable
    with _client(path, read_only=True) as cold:  # the answers a live request computes
        computed = {(url, enc): cold.get(url, headers={"Accept-Encoding": enc}) for url in WARMED
                    for enc in ("gzip, deflate", "identity")}
        assert len(cold.app.state.service.cache) == len(computed)  # nothing but what was asked
    with _client(path, read_only=True, warm=True) as c:
        status = _warmed(c)
        service = c.app.state.service
        assert status["done"] == status["total"] == status["answered"] > len(WARMED)  # every one a 200
        assert status["text"].startswith(f"done: {status['total']:,} / {status['total']:,}")
        assert len(service.cache) >= status["answered"]
        for (url, enc), first in computed.items():
            hits = service.cache.hits
            again = c.get(url, headers={"Accept-Encoding": enc})
            assert service.cache.hits == hits + 1, url  # answered from the cache, before routing
            assert again.status_code == first.status_code == 200
            assert again.content == first.content, url
            assert dict(again.headers) == dict(first.headers), url


def test_a_write_empties_the_cache_and_the_warm_up_runs_again_for_the_new_version(writable):
    """Custom regions (then the re-map) through the editor route: the warm-up starts again, its answers carry
    the new version only, and the new region's profile is among them."""
    from tests.test_server_security import CUSTOM

    path, token = writable
    with _client(path, warm=True) as c:
        service, warmer = c.app.state.service, c.app.state.warmer
        before = _warmed(c)
        old = warmer.version
        assert c.get(f"{API}/regions/NEWREG").status_code == 404  # not there yet
        r = c.post(f"{API}/custom-regions", headers={"Authorization": f"Bearer {token}"},
                   files={"file": ("custom.csv", CUSTOM, "text/csv")})
        assert r.status_code == 201, r.text
        after = _warmed(c, after=old)
        assert warmer.version == service.cache_version() != old
        assert after["total"] > before["total"]  # the new custom region's profile is warmed too
        versions = {key[0] for key in list(service.cache._items)}
        assert versions == {service.cache_version()}  # never an answer of the atlas before the write
        hits = service.cache.hits
        new = c.get(f"{API}/regions/NEWREG")
        assert new.status_code == 200 and service.cache.hits == hits + 1
        assert new.headers["x-atlas-version"] == service.cache_version()[0]


def test_no_warm_leaves_the_cache_cold(writable):
    import time

    from clusteratlas.server import Settings

    path, _ = writable
    with _client(path, warm=False) as c:
        time.sleep(0.5)
        assert len(c.app.state.service.cache) == 0
        assert c.get(f"{API}/health").json()["warm_up"]["state"] == "off"
    with _client(path, warm=True, cache_mb=0) as c:  # no cache: nothing to warm
        assert c.get(f"{API}/health").json()["warm_up"]["state"] == "off"
    settings = Settings(atlas="a.duckdb", warm=False)
    assert settings.to_env()["CLUSTERATLAS_SERVE_WARM"] == "0"


def test_serve_has_a_no_warm_option():
    from typer.testing import CliRunner

    from clusteratlas.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0 and "--no-warm" in result.output


def test_live_requests_are_answered_while_warming(writable, monkeypatch):
    """With every warmed profile slowed down, live requests (new answers and cache hits) are answered at once
    while the warm-up is still running, and the warm-up pauses while they are computed."""
    import threading
    import time

    from clusteratlas import queries

    path, _ = writable
    slow = queries.region_profile
    live_during_warm: list[int] = []

    def slowed(*args, **kwargs):
        if threading.current_thread().name == "atlas-warm":
            time.sleep(0.2)
        else:
            live_during_warm.append(1)
        return slow(*args, **kwargs)

    monkeypatch.setattr(queries, "region_profile", slowed)
    with _client(path, read_only=True, warm=True) as c:
        warmer = c.app.state.warmer
        deadline = time.monotonic() + 120
        while warmer.status()["state"] != "warming" or warmer.done < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        # a profile with opportunities=0 is not among the answers map stores, so it is computed live
        for url in (f"{API}/regions/S1C2?level=county&opportunities=0",
                    f"{API}/clusters/C03/ranking?metric=share_of_region",
                    f"{API}/results?limit=20", f"{API}/clusters/C01/map?metric=lq"):
            t0 = time.perf_counter()
            r = c.get(url)
            assert r.status_code == 200, r.text[:200]
            assert time.perf_counter() - t0 < 5
        status = c.get(f"{API}/health").json()["warm_up"]
        assert status["state"] == "warming" and status["done"] < status["total"], status
        assert status["text"] == f"warming {status['done']:,} / {status['total']:,}"
        assert live_during_warm  # the live profile was computed on a live thread, not after the warm-up
