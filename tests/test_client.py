"""A user can switch between a local atlas and a served one: the same questions give the same answers."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from clusteratlas.client import LocalObservatory, RemoteObservatory
from clusteratlas.errors import InputError
from clusteratlas.server import Settings, create_app
from tests.test_server import build_full_atlas


@pytest.fixture(scope="module")
def both(tmp_path_factory, sample_files):
    path = tmp_path_factory.mktemp("client") / "atlas.duckdb"
    build_full_atlas(path, sample_files)
    copy = path.with_name("local.duckdb")  # one process cannot hold the same file with two configurations
    shutil.copy(path, copy)
    with TestClient(create_app(Settings(atlas=str(path), read_only=True))) as http, \
            LocalObservatory(copy) as local, RemoteObservatory(client=http) as remote:
        yield local, remote


@pytest.mark.parametrize(("name", "params"), [
    ("regions", {"q": "county", "limit": 50}),
    ("clusters", {}),
    ("region-clusters", {"region": "S1C1"}),
    ("region-indicators", {"region": "S1C1"}),
    ("ranking", {"cluster": "C01", "metric": "lq", "top": 10}),
    ("map", {"cluster": "C02", "level": "state"}),
    ("related", {"cluster": "C02", "top": 5}),
    ("compare", {"regions": ["S1C1", "S2C2", "S3C3"]}),
])
def test_tables_are_the_same_locally_and_over_http(both, name, params):
    local, remote = both
    mine, served = local.table(name, **params), remote.table(name, **params)
    assert served.num_rows == mine.num_rows > 0
    assert served.column_names == mine.column_names
    assert served.to_pylist() == mine.to_pylist()


def test_profiles_are_the_same_locally_and_over_http(both):
    local, remote = both
    as_json = lambda d: json.loads(json.dumps(d, default=str))  # noqa: E731 - what travels over HTTP
    assert remote.region("S1C1") == as_json(local.region("S1C1"))
    assert remote.cluster("C01", top=5) == as_json(local.cluster("C01", top=5))


def test_errors_are_the_same_kind_locally_and_over_http(both):
    local, remote = both
    for obs in (local, remote):
        with pytest.raises(InputError):
            obs.region("NOWHERE")
        with pytest.raises(InputError, match="unknown table"):
            obs.table("everything")
