"""Stored answers computed set-based (issue 21 item 3's cost): a few whole-level queries per kind, the same
answers as the one-item queries, tables computed once for both languages."""

from __future__ import annotations

import json

import pytest

from clusteratlas import Atlas, i18n
from clusteratlas import queries as Q
from clusteratlas.queries import answers as A
from clusteratlas.queries._core import TableResult, json_bytes, to_rows


def _json(answer) -> bytes:
    if isinstance(answer, TableResult):
        return json_bytes({"data": to_rows(answer.table), "meta": answer.meta})
    return json_bytes(answer.as_dict())


@pytest.fixture(scope="module")
def atlas_path(sample_files, tmp_path_factory):
    """The sample atlas (states and custom regions) with a relate run of the states, so their profiles have
    opportunities and the custom regions' have none."""
    from typer.testing import CliRunner

    from tests.conftest import invoke

    path = tmp_path_factory.mktemp("answers-batch") / "atlas.duckdb"
    with Atlas(path, create=True) as atlas:
        for kind in ("regions", "custom-regions", "definitions", "observations"):
            atlas.import_file(kind, sample_files[kind], name="sample")
        atlas.map(levels=["state", "custom"])
    assert invoke(CliRunner(), "relate", "--level", "state", "--atlas", path).exit_code == 0
    return path


def test_map_stores_the_answers_without_the_one_item_queries(atlas_path, tmp_path, monkeypatch):
    """``store_answers`` asks each question once for every region or cluster (the batch functions), never
    the one-item query per region and language: with those made to fail, every answer is still stored."""
    def broken(*args, **kwargs):
        raise AssertionError("a one-item query ran")

    import shutil

    path = tmp_path / "copy.duckdb"
    shutil.copy(atlas_path, path)
    with Atlas(path) as atlas:
        expected = atlas.con.execute("SELECT kind, item, params, lang, meta, body FROM stored_answers "
                                     "ORDER BY ALL").fetchall()
        run_id = atlas.last_run().run_id
        for name in ("region_profile", "cluster_profile", "cluster_ranking", "map_layer"):
            monkeypatch.setattr(Q, name, broken)
        assert A.store_answers(atlas.con, run_id) == len(expected)
        again = atlas.con.execute("SELECT kind, item, params, lang, meta, body FROM stored_answers "
                                  "ORDER BY ALL").fetchall()
    assert {r[0] for r in again} == {"region", "cluster", "ranking", "map"}
    assert again == expected


@pytest.mark.parametrize("params", [
    {},
    {"include_empty": True, "opportunities": 3, "min_employment": 50.0},
    {"opportunities": 0},
])
def test_region_profiles_equal_region_profile(atlas_path, params):
    """Every profile of the batch equals the one-item query's, in English and Japanese, with other than the
    stored parameters too (empty cells, fewer opportunities, a jobs threshold, an explicit year)."""
    with Atlas(atlas_path, read_only=True) as atlas:
        con = atlas.con
        checked = 0
        for level in ("state", "custom"):
            year = con.execute("SELECT min(year) FROM results_regions WHERE level = ?", [level]).fetchall()[0][0]
            for picked in (None, year):
                batch = Q.region_profiles(con, level, year=picked, **params)
                regions = {r[0] for r in con.execute("SELECT DISTINCT region FROM results_regions WHERE level = ? "
                                                     "AND year = coalesce(?, year)", [level, picked]).fetchall()}
                assert set(batch) == regions
                for region, build in batch.items():
                    for lang in i18n.LANGUAGES:
                        with i18n.language_for(lang):
                            one = Q.region_profile(con, region, level=level, year=picked, **params)
                            many = build()
                        assert _json(many) == _json(one), (region, level, picked, lang)
                        for part in ("clusters", "series", "opportunities"):
                            assert getattr(many, part).equals(getattr(one, part)), (region, part)
                        checked += 1
    assert checked > 20


@pytest.mark.parametrize(("kind", "params"), [
    ("ranking", {"metric": "lq", "top": 5, "min_employment": 100.0, "order": "stars"}),
    ("ranking", {"metric": "employment", "top": None}),
    ("map", {"metric": "employment", "classes": "quantiles"}),
    ("cluster", {"metric": "lq", "top": 3}),
])
def test_cluster_batches_equal_the_one_item_queries(atlas_path, kind, params):
    """The rankings, map layers and cluster profiles of every cluster at once equal the one-item queries,
    including a cluster with no rows at a level (an empty table, as the one-item query gives)."""
    one_item = {"ranking": Q.cluster_ranking, "map": Q.map_layer, "cluster": Q.cluster_profile}[kind]
    with Atlas(atlas_path, read_only=True) as atlas:
        con = atlas.con
        clusters = [r[0] for r in con.execute("SELECT DISTINCT cluster FROM results_clusters ORDER BY 1").fetchall()]
        for level in ("state", "custom"):
            batch = A.batch(con, kind, {**params, "level": level})
            assert sorted(batch) == clusters
            for cluster, build in batch.items():
                for lang in i18n.LANGUAGES:
                    with i18n.language_for(lang):
                        assert _json(build()) == _json(one_item(con, cluster, level=level, **params)), (cluster, lang)


def test_split_sorted():
    import pyarrow as pa

    from clusteratlas.queries._core import split_sorted

    table = pa.table({"k": ["a", "a", "c"], "v": [1, 2, 3]})
    parts = split_sorted(table, "k", ["a", "b", "c"], drop=True)
    assert {k: t.to_pydict() for k, t in parts.items()} == {"a": {"v": [1, 2]}, "b": {"v": []}, "c": {"v": [3]}}
    assert json.loads(json.dumps(list(split_sorted(table, "k")))) == ["a", "c"]
