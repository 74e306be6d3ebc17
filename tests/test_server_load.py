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
from tests.conftest import cbp2019_atlas


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
def cbp_atlas(tmp_path_factory):
    return cbp2019_atlas(tmp_path_factory.mktemp("cbp-load"))


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
