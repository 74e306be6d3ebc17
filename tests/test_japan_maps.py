"""Issue 15: maps of Japan offline: bundled prefecture shapes and neighbours (no japanmap needed)."""

from __future__ import annotations

import itertools
import sys

import pytest

from clusteratlas.reference.japan import prefecture_geojson, prefecture_neighbours, prefectures
from tests.conftest import invoke, query_atlas


@pytest.fixture
def no_japanmap(monkeypatch):
    monkeypatch.setitem(sys.modules, "japanmap", None)  # as if the [japan] extra were not installed


def test_prefecture_shapes_are_bundled(no_japanmap):
    shapely = pytest.importorskip("shapely.geometry")
    doc = prefecture_geojson()
    ids = [f["id"] for f in doc["features"]]
    known = {r["region"]: r for r in prefectures().to_pylist() if r["level"] == "prefecture"}
    assert sorted(ids) == sorted(known) and len(ids) == 47
    shapes = {f["id"]: shapely.shape(f["geometry"]) for f in doc["features"]}
    for f in doc["features"]:
        assert f["properties"]["name_ja"] == known[f["id"]]["name_ja"]
        assert shapes[f["id"]].is_valid and not shapes[f["id"]].is_empty
        lon, lat = shapes[f["id"]].representative_point().coords[0]
        assert 122 < lon < 146 and 24 < lat < 46, f["id"]  # in Japan, longitude/latitude order
    # Tokyo's shape is in Tokyo (the Imperial Palace), Hokkaido's is the largest
    assert shapes["13000"].buffer(0.02).contains(shapely.Point(139.75, 35.68))
    assert max(shapes, key=lambda k: shapes[k].area) == "01000"
    # borders simplified once: no two prefectures overlap, and neighbours meet
    for a, b in itertools.combinations(shapes, 2):
        assert shapes[a].intersection(shapes[b]).area < 1e-6, (a, b)
    for pair in prefecture_neighbours().select(["region", "neighbor"]).to_pylist():
        assert shapes[pair["region"]].distance(shapes[pair["neighbor"]]) < 1e-3, pair


def test_bundled_neighbours_are_japanmaps():
    japanmap = pytest.importorskip("japanmap")
    got = set(zip(*prefecture_neighbours().select(["region", "neighbor"]).to_pydict().values(), strict=True))
    assert got == {(f"{a:02d}000", f"{b:02d}000") for a, b in japanmap.adjacent()}
    assert all((b, a) in got for a, b in got)  # symmetric


def test_neighbours_and_hot_spots_work_without_japanmap(tmp_path, runner, no_japanmap):
    atlas = tmp_path / "a.duckdb"
    invoke(runner, "init", "--atlas", atlas)
    res = invoke(runner, "reference", "jp-prefecture-neighbours", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    tokyo = {r[0] for r in query_atlas(atlas, "SELECT neighbor FROM region_neighbors WHERE region = '13000'")}
    assert tokyo == {"11000", "12000", "14000", "19000"}
    assert not query_atlas(atlas, "SELECT * FROM region_neighbors WHERE region = '47000'")  # Okinawa: no land border


def test_reference_jp_prefectures_stores_the_bundled_shapes_for_the_maps(runner, tmp_path):
    atlas = tmp_path / "jp.duckdb"
    assert invoke(runner, "init", "--atlas", atlas).exit_code == 0
    res = invoke(runner, "reference", "jp-prefectures", "--atlas", atlas)
    assert res.exit_code == 0, res.output
    rows = query_atlas(atlas, "SELECT count(*), count(DISTINCT region) FROM geometries WHERE level = 'prefecture'")
    assert rows == [(47, 47)]
