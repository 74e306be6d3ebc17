"""A served atlas reads its stored answers into memory once per version and sends an object's stored JSON as
it is (issue 21 item 3): the same bytes as the live answer, in every language, whichever way it was read."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from clusteratlas import Atlas, i18n
from clusteratlas import queries as Q
from clusteratlas.api import build_demo_atlas
from clusteratlas.queries import answers as A
from clusteratlas.queries._core import json_bytes, memo
from clusteratlas.server import Settings, create_app

PARAMS = {"year": None, "level": None, "include_empty": False, "opportunities": 10}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("wire-demo") / "demo.duckdb"
    build_demo_atlas(path)
    return path


def _regions(path) -> list[str]:
    with Atlas(path, read_only=True) as atlas:
        return [r[0] for r in atlas.con.execute("SELECT DISTINCT item FROM stored_answers WHERE kind = 'region' "
                                                "ORDER BY 1").fetchall()]


def _live_body(path, region: str, lang: str, provenance: dict) -> bytes:
    """What the route writes for the live query (no stored answer), with the served provenance."""
    with Atlas(path, read_only=True) as atlas, i18n.language_for(lang):
        live = Q.region_profile(atlas.con, region).as_dict()
    return json_bytes({"data": live, "provenance": provenance})


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_stored_profile_is_sent_byte_for_byte_as_the_live_one(demo, lang):
    with TestClient(create_app(Settings(atlas=str(demo), read_only=True, warm=False, cache_mb=0))) as client:
        for region in _regions(demo)[:5]:
            got = client.get(f"/api/v1/regions/{region}?lang={lang}")
            assert got.status_code == 200 and got.headers["content-type"].startswith("application/json")
            assert got.content == _live_body(demo, region, lang, got.json()["provenance"])


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_held_profile_is_answered_without_a_worker_thread_with_the_same_bytes(demo, lang, monkeypatch):
    """Once the server holds a version's answers (and its provenance), a region or cluster profile it holds is
    answered on the event loop: the bytes of the thread's answer. What it does not hold (another parameter)
    still goes to a worker thread."""
    import anyio.to_thread

    from clusteratlas.server import answering

    real = anyio.to_thread.run_sync
    calls: list[str] = []

    async def counted(*args, **kwargs):
        calls.append(args[0].__qualname__)
        return await real(*args, **kwargs)

    with TestClient(create_app(Settings(atlas=str(demo), read_only=True, warm=False, cache_mb=0))) as client:
        region = _regions(demo)[0]
        first = client.get(f"/api/v1/regions/{region}?lang={lang}")  # the provenance is read on a thread once
        assert first.status_code == 200
        monkeypatch.setattr(answering.anyio.to_thread, "run_sync", counted)
        cluster = json.loads(client.get("/api/v1/clusters?fmt=json").content)["data"][0]["cluster"]
        calls.clear()
        for region in _regions(demo)[:5]:
            got = client.get(f"/api/v1/regions/{region}?lang={lang}")
            assert got.status_code == 200
            assert got.content == _live_body(demo, region, lang, got.json()["provenance"])
        held = client.get(f"/api/v1/clusters/{cluster}?lang={lang}")
        assert held.status_code == 200 and calls == []
        other = client.get(f"/api/v1/regions/{region}?lang={lang}&include_empty=true")  # not stored
        assert other.status_code == 200 and len(calls) == 1
        monkeypatch.setattr(answering.anyio.to_thread, "run_sync", real)
        with TestClient(create_app(Settings(atlas=str(demo), read_only=True, warm=False, cache_mb=0))) as fresh:
            fresh.get(f"/api/v1/regions/{region}?lang={lang}")
            assert fresh.get(f"/api/v1/clusters/{cluster}?lang={lang}").content == held.content


def _loaded(store: dict, kind: str) -> object:
    """The shelf of ``kind`` once its thread has filled it (and released the loading lock)."""
    deadline = time.monotonic() + 60
    while ("answers_shelf", kind) not in store or A._SHELF_LOCK.locked():
        assert time.monotonic() < deadline, "the stored answers were not loaded"
        time.sleep(0.01)
    return store[("answers_shelf", kind)]


def test_the_shelf_holds_every_current_answer_of_a_kind_once_per_version(demo):
    regions = _regions(demo)
    store: dict = {}
    with Atlas(demo, read_only=True) as atlas, memo(store):
        first = A.stored(atlas.con, "region", regions[0], PARAMS)  # read from its row: the shelf loads meanwhile
        shelf = _loaded(store, "region")
        rows = atlas.con.execute("SELECT count(*) FROM stored_answers WHERE kind = 'region'").fetchall()[0][0]
        assert len(shelf) == rows
        # every region is answered from it, equal to the row the table holds
        for region in regions:
            from_shelf = A.stored(atlas.con, "region", region, PARAMS)
            level = atlas.con.execute("SELECT min(level) FROM results_regions WHERE region = ?",
                                      [region]).fetchall()[0][0]
            meta, body, notes = atlas.con.execute(
                "SELECT meta, body, notes FROM stored_answers WHERE kind = 'region' AND item = ? AND params = ? "
                "AND lang IN ('', ?)", [region, A.params_key({**PARAMS, "level": level}), i18n.get_language()]
            ).fetchall()[0]
            assert from_shelf == A.decode(meta, body, notes)
        assert A.data(first) == Q.region_profile(atlas.con, regions[0]).as_dict()
        assert A.stored(atlas.con, "region", "no such region", PARAMS) is None
    with Atlas(demo, read_only=True) as atlas:  # outside a server (the CLI): one row read, nothing kept
        assert A.data(A.stored(atlas.con, "region", regions[0], PARAMS)) == A.data(first)


def test_a_kind_larger_than_the_shelf_is_read_row_by_row(demo, monkeypatch):
    monkeypatch.setattr(A, "SHELF_BYTES", 0)
    region = _regions(demo)[0]
    store: dict = {}
    with Atlas(demo, read_only=True) as atlas, memo(store):
        got = A.stored(atlas.con, "region", region, PARAMS)
        assert _loaded(store, "region") is None
        assert A.data(got) == A.data(A.stored(atlas.con, "region", region, PARAMS))
        assert A.data(got) == Q.region_profile(atlas.con, region).as_dict()


def test_while_one_thread_loads_the_shelf_the_others_read_their_row(demo):
    region = _regions(demo)[0]
    store: dict = {}
    with A._SHELF_LOCK, Atlas(demo, read_only=True) as atlas, memo(store):  # another thread is loading it
        got = A.stored(atlas.con, "region", region, PARAMS)
        assert ("answers_shelf", "region") not in store
        assert A.data(got) == Q.region_profile(atlas.con, region).as_dict()
    result = []
    worker = threading.Thread(target=lambda: result.append(A._SHELF_LOCK.acquire(blocking=False)))
    worker.start()
    worker.join()
    assert result == [True]  # released again
    A._SHELF_LOCK.release()


def test_a_write_gives_the_next_version_its_own_shelf(demo, tmp_path):
    """After a write that changes what the profiles read (relate), the server answers the renewed profile."""
    path = tmp_path / "atlas.duckdb"
    path.write_bytes(demo.read_bytes())
    region = _regions(path)[0]
    with TestClient(create_app(Settings(atlas=str(path), warm=False, cache_mb=0))) as client:
        before = client.get(f"/api/v1/regions/{region}").json()
        version = client.get("/api/v1/overview").headers["X-Atlas-Version"]
        client.app.state.service.write(lambda atlas: atlas.con.execute(
            "UPDATE regions SET name = name || ' (renamed)' WHERE region = ?", [region]))
        assert client.get("/api/v1/overview").headers["X-Atlas-Version"] != version
        after = client.get(f"/api/v1/regions/{region}").json()
        assert after["data"]["summary"]["name"] == before["data"]["summary"]["name"] + " (renamed)"
        with Atlas(path, read_only=True) as atlas:
            live = Q.region_profile(atlas.con, region).as_dict()
        assert after["data"] == json.loads(json_bytes(live))


def test_json_bytes_writes_what_json_would_and_keeps_its_rules():
    """orjson writes the answers: the same values as the standard library's strict JSON, non-finite floats as
    null, dates as ISO text, Japanese as UTF-8, and integers beyond 64 bits through the standard library."""
    import datetime
    import decimal
    import math

    import numpy as np

    value = {"lq": 1.2345678901234567, "small": 1e-05, "big": 1e22, "jobs": 12, "nan": math.nan,
             "inf": [-math.inf], "name": "愛知県", "day": datetime.date(2020, 1, 2),
             "at": datetime.datetime(2020, 1, 2, 3, 4, 5), "sum": decimal.Decimal("3"), "share": decimal.Decimal("0.5"),
             "np": np.float64(2.5), "n": np.int64(7), "nested": {"k": [True, None, "x"]}}
    text = json_bytes(value)
    assert json.loads(text) == {"lq": 1.2345678901234567, "small": 1e-05, "big": 1e22, "jobs": 12, "nan": None,
                                "inf": [None], "name": "愛知県", "day": "2020-01-02", "at": "2020-01-02T03:04:05",
                                "sum": 3, "share": 0.5, "np": 2.5, "n": 7, "nested": {"k": [True, None, "x"]}}
    assert "愛知県".encode() in text and b"NaN" not in text and b" " not in text
    assert json.loads(json_bytes({"id": 2**70})) == {"id": 2**70}


@pytest.mark.parametrize("part", [1, 2, 7])
def test_answers_written_in_small_batches_are_the_same_rows(demo, tmp_path, monkeypatch, part):
    """``map`` computes region profiles a range of regions at a time and writes the answers in batches (to
    bound its memory): parts of 1, 2 or 7 regions and a batch per answer store the same rows."""
    path = tmp_path / "atlas.duckdb"
    path.write_bytes(demo.read_bytes())
    query = "SELECT run_id, kind, item, params, lang, basis, meta, body, notes FROM stored_answers ORDER BY ALL"
    with Atlas(path) as atlas:
        before = atlas.con.execute(query).fetchall()
        monkeypatch.setattr(A, "FLUSH_BYTES", 1)
        monkeypatch.setattr(A, "REGION_PART", part)
        assert A.store_answers(atlas.con, atlas.last_run().run_id) == len(before)
        assert atlas.con.execute(query).fetchall() == before


def test_a_server_reads_the_stored_answers_into_memory_before_its_first_request(demo):
    with Atlas(demo, read_only=True) as atlas:
        counts = dict(atlas.con.execute("SELECT kind, count(*) FROM stored_answers GROUP BY kind").fetchall())
    with TestClient(create_app(Settings(atlas=str(demo), read_only=True, warm=False, cache_mb=0))) as client:
        store = client.app.state.service.memo()
        assert {kind: len(store[("answers_shelf", kind)]) for kind in A.BASIS} == counts


def test_a_new_version_is_served_with_its_answers_read_ahead(demo, tmp_path):
    """A write beside the server (another process's, here a plain connection through the write lock): the
    server's watcher opens the new version with no request asking, and reads its stored answers before it
    serves it; a write that changes no answer's basis (a token) hands the last version's answers on as they
    are, one that changes the profiles' (relate) reads the profiles again and hands the others on."""
    from clusteratlas.server.auth import create_token

    path = tmp_path / "atlas.duckdb"
    path.write_bytes(demo.read_bytes())
    with TestClient(create_app(Settings(atlas=str(path), read_only=True, warm=False, cache_mb=0))) as client:
        service = client.app.state.service

        def next_version(write) -> dict:
            old, before = service._snapshot, service.memo()
            with Atlas(path) as atlas:  # beside the server, as the CLI writes
                write(atlas)
            deadline = time.monotonic() + 20
            while service._snapshot is old:  # no request made: the watcher opens it
                assert time.monotonic() < deadline, "the new version was not opened"
                time.sleep(0.05)
            after = service.memo()
            assert after is not before
            assert all(after[("answers_shelf", kind)] is not None for kind in A.BASIS)
            return {kind: after[("answers_shelf", kind)] is before[("answers_shelf", kind)] for kind in A.BASIS}

        assert next_version(lambda atlas: create_token(atlas.con, "editor", name="x")) == dict.fromkeys(A.BASIS, True)
        handed = next_version(lambda atlas: atlas.con.execute(  # what a relate run changes: the opportunities
            "DELETE FROM relate_cells WHERE region = (SELECT min(region) FROM relate_cells)"))
        assert handed == {"region": False, "cluster": True, "ranking": True, "map": True}
        region = _regions(path)[0]
        with Atlas(path, read_only=True) as atlas:
            live = Q.region_profile(atlas.con, region).as_dict()
        assert client.get(f"/api/v1/regions/{region}").json()["data"] == json.loads(json_bytes(live))
