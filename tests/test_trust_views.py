"""Issue 19, every figure equals its definition (items 4, 5, 8), on small synthetic atlases (the truth harness,
tests/test_truth.py, checks the same on the four atlases of real shapes):

- a total is one level's total, named, and the pages, the API and the CLI count regions one way (item 4);
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from fastapi.testclient import TestClient

from clusteratlas import Atlas
from clusteratlas.server import Settings, create_app
from tests.conftest import invoke
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
    mapped = int(re.search(r"([\d,]+) regions \(", " ".join(res.output.split())).group(1).replace(",", ""))
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
        assert ja.tiles["tile-employment"][0] == "county レベルの 36 地域の従業者数（2020年）"
    # the CLI's default level is the same
    res = invoke(runner, "show", "cluster", "C01", "--atlas", overlapping, "--wide")
    assert res.exit_code == 0 and "county" in res.output and "P0" not in res.output
