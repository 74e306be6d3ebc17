"""The metrics run unchanged on DuckDB and Polars and give the same numbers; imputation rules."""

from __future__ import annotations

import duckdb
import narwhals as nw
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from clusteratlas import MapParams, impute_suppressed, map_clusters
from clusteratlas.metrics import Engine, growth_between

KEYS = ["level", "region", "cluster", "year"]


def _run(sample, backend: str, params: MapParams, *, subclusters: bool = False):
    obs = pl.from_arrow(sample.observations).drop("size_class")
    defs = pl.from_arrow(sample.definitions)
    if backend == "duckdb":
        con = duckdb.connect()
        result = map_clusters(nw.from_native(con.from_arrow(obs.to_arrow())),
                              nw.from_native(con.from_arrow(defs.to_arrow())), params=params, engine=Engine(con))
        return (result.clusters.to_native().pl().sort([*KEYS, "subcluster"]),
                result.regions.to_native().pl().sort(["level", "region", "year"]))
    result = map_clusters(nw.from_native(obs.lazy()), nw.from_native(defs.lazy()), params=params)
    return (result.clusters.collect().to_native().sort([*KEYS, "subcluster"]),
            result.regions.collect().to_native().sort(["level", "region", "year"]))


@pytest.mark.parametrize("params", [MapParams(), MapParams(by_subcluster=True, base_year=2017),
                                    MapParams(specialisation_lq=1.5, size_top=0.2, strong_quantile=0.6)],
                         ids=["defaults", "subclusters", "custom-thresholds"])
def test_duckdb_and_polars_agree(sample, params):
    d_clusters, d_regions = _run(sample, "duckdb", params)
    p_clusters, p_regions = _run(sample, "polars", params)
    assert d_clusters.height > 0
    assert_frame_equal(d_clusters, p_clusters, check_dtypes=False, rel_tol=1e-9)
    assert_frame_equal(d_regions, p_regions, check_dtypes=False, rel_tol=1e-9)


def test_midpoint_imputation():
    frame = pl.DataFrame({
        "region": ["R"] * 4, "industry": ["1", "2", "3", "4"], "year": [2020] * 4,
        "employment": [10.0, None, None, None], "flag": ["", "suppressed", "suppressed", "suppressed"],
        "size_class": [None, "C", "M", None],
    })
    out = impute_suppressed(nw.from_native(frame.lazy())).collect().to_native().sort("industry")
    assert out["employment"].to_list() == [10.0, 175.0, 100_000.0, None]
    assert out["flag"].to_list() == ["", "imputed", "imputed", "suppressed"]


def test_constrained_imputation_sums_to_the_parent():
    # parent 31 published at 1,000; reported child 700; withheld children C (175) and E (375):
    # residual 300 shared in proportion to the midpoints: 300*175/550 and 300*375/550.
    frame = pl.DataFrame({
        "region": ["R"] * 3, "industry": ["311", "312", "313"], "year": [2020] * 3,
        "employment": [700.0, None, None], "flag": ["", "suppressed", "suppressed"],
        "size_class": [None, "C", "E"],
    })
    parents = pl.DataFrame({"region": ["R"], "industry": ["31"], "year": [2020], "employment": [1000.0]})
    parent_of = pl.DataFrame({"industry": ["311", "312", "313"], "parent": ["31"] * 3})
    out = impute_suppressed(nw.from_native(frame.lazy()), parents=nw.from_native(parents.lazy()),
                            parent_of=nw.from_native(parent_of.lazy())).collect().to_native().sort("industry")
    assert out["employment"].to_list() == pytest.approx([700.0, 300 * 175 / 550, 300 * 375 / 550])
    assert out["employment"].sum() == pytest.approx(1000.0)


def test_constrained_imputation_without_room_gives_zero():
    frame = pl.DataFrame({"region": ["R"] * 2, "industry": ["311", "312"], "year": [2020] * 2,
                          "employment": [1200.0, None], "flag": ["", "suppressed"], "size_class": [None, "B"]})
    parents = pl.DataFrame({"region": ["R"], "industry": ["31"], "year": [2020], "employment": [1000.0]})
    parent_of = pl.DataFrame({"industry": ["311", "312"], "parent": ["31", "31"]})
    out = impute_suppressed(nw.from_native(frame.lazy()), parents=nw.from_native(parents.lazy()),
                            parent_of=nw.from_native(parent_of.lazy())).collect().to_native().sort("industry")
    assert out["employment"].to_list() == [1200.0, 0.0]


def test_growth_between_two_years():
    frame = pl.DataFrame({"region": ["A", "A", "B", "C"], "year": [2010, 2015, 2010, 2015],
                          "employment": [100.0, 150.0, 20.0, 5.0]})
    out = growth_between(nw.from_native(frame.lazy()), ["region"], 2010, 2015).collect().to_native()
    rows = {r["region"]: r for r in out.iter_rows(named=True)}
    assert rows["A"]["employment_change"] == 50.0
    assert rows["A"]["employment_cagr"] == pytest.approx(1.5 ** 0.2 - 1)
    assert rows["B"]["employment_end"] is None and rows["B"]["employment_cagr"] is None
    assert rows["C"]["employment_start"] is None  # appeared after the start year: no rate
