"""Answers stored with the map run (issue 21 item 3): equal to the live queries, served cold, renewed by writes."""

from __future__ import annotations

import json

import duckdb
import pytest
from fastapi.testclient import TestClient

from clusteratlas import Atlas, i18n
from clusteratlas import queries as Q
from clusteratlas.api import build_demo_atlas
from clusteratlas.queries import answers as A
from clusteratlas.queries._core import TableResult, json_bytes, to_rows
from clusteratlas.server import Settings, create_app


def _as_json(answer) -> object:
    """What the API sends of an answer (its data; a table's rows and meta), parsed back."""
    if isinstance(answer, TableResult):
        return json.loads(json_bytes({"data": to_rows(answer.table), "meta": answer.meta}))
    return json.loads(json_bytes(A.data(answer)))


def _stored_rows(path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("SELECT run_id, kind, item, params, lang, meta, body, notes FROM stored_answers "
                           "ORDER BY kind, item, params, lang").fetchall()


def _check_all_equal_live(path, every: int = 1) -> int:
    """Every stored answer (with ``every`` > 1: those of every ``every``-th region and cluster, by id) equals
    what the live query computes now, in each language it is stored for (the JSON the API sends, parsed; a
    table also as Arrow); the number checked."""
    rows = _stored_rows(path)
    if every > 1:
        items = sorted({row[2] for row in rows})
        chosen = set(items[::every])
        rows = [row for row in rows if row[2] in chosen]
    checked = 0
    with Atlas(path, read_only=True) as atlas:
        run_id = atlas.last_run().run_id
        for stored_run, kind, item, params, lang, meta, body, notes in rows:
            assert stored_run == run_id
            for language in ([lang] if lang else list(i18n.LANGUAGES)):
                with i18n.language_for(language):
                    stored = A.decode(meta, body, notes)
                    live = A.compute(atlas.con, A.Request(kind, item, json.loads(params)))
                assert _as_json(stored) == _as_json(live), (kind, item, params, language)
                if isinstance(live, TableResult):
                    assert stored.table.equals(live.table), (kind, item, params)
                checked += 1
    return checked


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("answers-demo") / "demo.duckdb"
    build_demo_atlas(path)
    return path


def test_demo_answers_equal_the_live_queries(demo):
    with Atlas(demo, read_only=True) as atlas:
        con = atlas.con
        mapped = {r[0] for r in con.execute("SELECT DISTINCT region FROM results_regions").fetchall()}
        clusters = {r[0] for r in con.execute("SELECT DISTINCT cluster FROM results_clusters").fetchall()}
        levels = {r[0] for r in con.execute("SELECT DISTINCT level FROM results_clusters").fetchall()}
    rows = _stored_rows(demo)
    kinds = {(kind, item) for _, kind, item, *_ in rows}
    # every region's profile and every cluster's profile, ranking and map layer are there …
    assert {item for kind, item in kinds if kind == "region"} == mapped
    for kind in ("cluster", "ranking", "map"):
        assert {item for k, item in kinds if k == kind} == clusters
    # … at every level, each once: a request at the default level (level=None) is looked up at the level it
    # means (test_the_default_level_is_answered_from_the_level_it_means)
    map_levels = {json.loads(params)["level"] for _, kind, _, params, *_ in rows if kind == "map"}
    assert map_levels == levels
    assert len(rows) == len({(kind, item, params, lang) for _, kind, item, params, lang, *_ in rows})
    # a profile is one row in every language, its notes alone per language
    profiles = [row for row in rows if row[1] == "region"]
    assert {row[4] for row in profiles} == {""}
    assert any(row[7] is not None for row in profiles)
    assert _check_all_equal_live(demo) >= len(rows)


def test_cbp_metros_answers_equal_the_live_queries(cbp2019_built):
    path = cbp2019_built
    rows = _stored_rows(path)
    assert len({item for _, kind, item, *_ in rows if kind == "region"}) == 933
    # every 7th region and cluster (about 140 regions, 10 clusters, every kind and level): the live queries
    # one item at a time cost minutes for all; the demo's are all checked, and tests/test_answers_batch.py
    # checks the whole-level queries against the one-item ones
    assert _check_all_equal_live(path, every=7) >= len(rows) // 10


def test_a_cold_server_answers_from_the_stored_answers(demo, monkeypatch):
    """Warm-up off, the profile, ranking and map queries made to fail: the common questions are still
    answered (from the stored answers), and a question not stored still runs the live query."""
    def broken(*args, **kwargs):
        raise AssertionError("the live query ran")

    with Atlas(demo, read_only=True) as atlas:
        region = atlas.con.execute("SELECT region FROM results_regions ORDER BY region LIMIT 1").fetchall()[0][0]
        cluster = atlas.con.execute("SELECT cluster FROM results_clusters ORDER BY 1 LIMIT 1").fetchall()[0][0]
    with TestClient(create_app(Settings(atlas=str(demo), read_only=True, warm=False))) as client:
        expected = client.get(f"/api/v1/regions/{region}").json()  # live or stored: the reference answer
        for name in ("region_profile", "cluster_profile", "cluster_ranking", "map_layer"):
            monkeypatch.setattr(Q, name, broken)
        client.app.state.service.cache.clear()
        got = client.get(f"/api/v1/regions/{region}")
        assert got.status_code == 200 and got.json() == expected
        assert client.get(f"/api/v1/regions/{region}?lang=ja").status_code == 200
        for url in (f"/api/v1/clusters/{cluster}", f"/api/v1/clusters/{cluster}/ranking",
                    f"/api/v1/clusters/{cluster}/ranking?metric=lq&top=20", f"/api/v1/clusters/{cluster}/map",
                    f"/api/v1/clusters/{cluster}/map?format=csv", f"/regions/{region}"):
            assert client.get(url).status_code == 200, url
        with pytest.raises(AssertionError, match="the live query ran"):
            client.get(f"/api/v1/regions/{region}?opportunities=3")  # not a stored question: computed live


@pytest.mark.parametrize("in_server", [False, True])
def test_the_default_level_is_answered_from_the_level_it_means(demo, in_server):
    """A request without a level (as the routes ask) finds the answer stored at the level it means: a region's
    first level, a cluster's default level; the same as the live query's, in each language."""
    from clusteratlas.queries._core import default_level, memo

    region_params = {"year": None, "level": None, "include_empty": False, "opportunities": 10}
    map_params = {"metric": "lq", "level": None, "year": None, "classes": "auto"}
    with Atlas(demo, read_only=True) as atlas, memo({} if in_server else None):
        con = atlas.con
        if in_server:
            assert A.load_answers(con) > 0  # as a server does at its start: the shelves, read now
        firsts = con.execute("SELECT region, min(level) FROM results_regions GROUP BY region ORDER BY 1").fetchall()
        assert len({level for _, level in firsts}) > 1  # regions whose first levels differ
        for region, level in firsts[::5]:
            for lang in i18n.LANGUAGES:
                with i18n.language_for(lang):
                    found = A.stored(con, "region", region, region_params)
                    assert found is not None, region
                    assert _as_json(found) == _as_json(A.stored(con, "region", region, {**region_params,
                                                                                        "level": level}))
                    assert _as_json(found) == _as_json(Q.region_profile(con, region))
        cluster = Q.list_clusters(con).rows()[0]["cluster"]
        found = A.stored(con, "map", cluster, map_params)
        assert found is not None
        assert found.table.equals(A.stored(con, "map", cluster, {**map_params, "level": default_level(con)}).table)
        assert A.stored(con, "region", "no-such-region", region_params) is None


def test_an_atlas_stored_before_the_notes_column_still_reads_its_answers(demo, tmp_path):
    import shutil

    path = tmp_path / "old.duckdb"
    shutil.copy(demo, path)
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM stored_answers WHERE notes IS NOT NULL")
        con.execute("ALTER TABLE stored_answers DROP COLUMN notes")
        item, params = con.execute("SELECT item, params FROM stored_answers WHERE kind = 'map' LIMIT 1").fetchall()[0]
    with Atlas(path, read_only=True) as atlas:
        found = A.stored(atlas.con, "map", item, json.loads(params))
        assert found is not None and found.table.equals(Q.map_layer(atlas.con, item, **json.loads(params)).table)


def test_an_atlas_stored_with_zlib_bodies_still_reads_its_answers(demo, tmp_path):
    """Object answers are stored zstd-compressed now; an atlas whose bodies are zlib's (stored before) answers
    the same JSON from them."""
    import shutil
    import zlib

    path = tmp_path / "old.duckdb"
    shutil.copy(demo, path)
    with duckdb.connect(str(path)) as con:
        rows = con.execute("SELECT rowid, body FROM stored_answers WHERE meta IS NULL").fetchall()
        assert rows and all(body[:3] == b"zs1" for _, body in rows)
        for rowid, body in rows:
            con.execute("UPDATE stored_answers SET body = ? WHERE rowid = ?",
                        [zlib.compress(A.unpack(body), 3), rowid])
        item, params = con.execute("SELECT item, params FROM stored_answers WHERE kind = 'region' "
                                   "LIMIT 1").fetchall()[0]
    with Atlas(path, read_only=True) as atlas:
        found = A.stored(atlas.con, "region", item, json.loads(params))
        live = Q.region_profile(atlas.con, item, **json.loads(params))
        assert found is not None and found.as_dict() == json.loads(json.dumps(live.as_dict()))


def _fingerprint(path) -> list[tuple]:
    return [(kind, item, params, lang, body, notes) for _, kind, item, params, lang, _, body, notes
            in _stored_rows(path)]


def test_writes_renew_only_what_they_change(tmp_path, sample_files, runner):
    """A new map run replaces every stored answer; a token or an assessment changes none; a relate run renews
    the region profiles only (their opportunities), and an answer whose basis changed unseen is not used."""
    from tests.conftest import invoke

    path = tmp_path / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "definitions", "observations"):
            atlas.import_file(kind, sample_files[kind], name="sample")
        first = atlas.map(levels=["state"])
    assert {r[0] for r in _stored_rows(path)} == {first.run_id}
    before = _fingerprint(path)
    assert invoke(runner, "token", "create", "--role", "editor", "--name", "x", "--atlas", path).exit_code == 0
    assert _fingerprint(path) == before

    assert invoke(runner, "relate", "--level", "state", "--atlas", path).exit_code == 0
    after = _fingerprint(path)
    changed = {kind for kind, *_ in set(after) ^ set(before)}
    assert changed == {"region"}
    params = {"year": None, "level": None, "include_empty": False, "opportunities": 10}
    with Atlas(path, read_only=True) as atlas:  # the renewed profile lists the opportunities relate found
        region = atlas.con.execute("SELECT region FROM relate_cells LIMIT 1").fetchall()[0][0]
        renewed = A.data(A.stored(atlas.con, "region", region, params))
        assert renewed["opportunities"] and renewed == _as_json(Q.region_profile(atlas.con, region))

    with Atlas(path) as atlas:
        second = atlas.map(levels=["state"])
    assert second.run_id != first.run_id
    assert {r[0] for r in _stored_rows(path)} == {second.run_id}

    # a change the writers did not renew the answers for (plain SQL): the stored answers are not used
    with duckdb.connect(str(path)) as con:
        region = con.execute("SELECT item FROM stored_answers WHERE kind = 'region' LIMIT 1").fetchall()[0][0]
        con.execute("DELETE FROM relate_cells WHERE region = ?", [region])
    with Atlas(path, read_only=True) as atlas:
        assert A.stored(atlas.con, "region", region, params) is None
        assert A.stored(atlas.con, "map", Q.list_clusters(atlas.con).rows()[0]["cluster"],
                        {"metric": "lq", "level": None, "year": None, "classes": "auto"}) is not None
